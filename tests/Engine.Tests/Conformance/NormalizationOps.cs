namespace Engine.Tests.Conformance;

/// <summary>
/// LayerNormalization (opset 17): normalizes over dimensions axis..rank-1 with F.LayerNormWithStats.
/// The optional Mean and InvStdDev outputs keep the normalized dimensions as size 1, so the
/// engine's per-row statistics are reshaped to [d0, ..., d(axis-1), 1, ..., 1].
/// </summary>
internal sealed class LayerNormalizationOnnxOp : OnnxOp
{
    public override string? Unsupported(OnnxCase c)
    {
        if (base.Unsupported(c) is { } reason) return reason;
        if (c.Int("stash_type", 1) != 1) return $"stash_type={c.Int("stash_type", 1)}: Engine keeps statistics in float32 only";
        var x = c.Input(0);
        var normalized = x.Shape[Axis(c.Int("axis", -1), x.Shape.Length, c)..];
        foreach (var param in new[] { c.OptionalInput(1), c.OptionalInput(2) })
            if (param is not null && !param.Shape.SequenceEqual(normalized))
                return $"{param.Name} {ShapeMath.Format(param.Shape)} broadcast to the normalized shape {ShapeMath.Format(normalized)}: F.LayerNorm takes gamma and beta of exactly that shape";
        return null;
    }

    public override Tensor?[] Run(OnnxCase c, Device device)
    {
        var x = c.Input(0).ToFloatTensor(device);
        int axis = Axis(c.Int("axis", -1), x.Rank, c);
        var result = F.LayerNormWithStats(x, c.OptionalInput(1)?.ToFloatTensor(device), c.OptionalInput(2)?.ToFloatTensor(device),
            c.Float("epsilon", 1e-5f), x.Rank - axis);
        int[] statsShape = [.. x.Shape[..axis], .. Enumerable.Repeat(1, x.Rank - axis)];
        return [result.Output, result.Mean.Reshape(statsShape), result.Rstd.Reshape(statsShape)];
    }
}

/// <summary>
/// RMSNormalization (opset 23), composed: y = x / sqrt(mean(x^2 over axis..rank-1) + epsilon) * scale,
/// scale broadcast to the normalized shape.
/// </summary>
internal sealed class RmsNormalizationOnnxOp : OnnxOp
{
    public override string? Unsupported(OnnxCase c) =>
        c.Int("stash_type", 1) != 1 ? $"stash_type={c.Int("stash_type", 1)}: Engine computes in float32 only" : base.Unsupported(c);

    public override Tensor?[] Run(OnnxCase c, Device device)
    {
        var x = c.Input(0).ToFloatTensor(device);
        int axis = Axis(c.Int("axis", -1), x.Rank, c);
        var normalizedDims = Enumerable.Range(axis, x.Rank - axis).ToArray();
        var meanSquare = F.Mean(F.Square(x), normalizedDims, keepDim: true);
        var inverseRms = F.Reciprocal(F.Sqrt(F.Add(meanSquare, c.Float("epsilon", 1e-5f))));
        return [F.Mul(F.Mul(x, inverseRms), c.Input(1).ToFloatTensor(device))];
    }
}
