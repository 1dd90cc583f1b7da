namespace Engine.Tests.Conformance;

/// <summary>
/// Reshape: the target shape from input 1, where -1 is inferred and 0 copies the input's size at
/// that position (unless allowzero=1, where 0 is a real size), then Tensor.Reshape.
/// </summary>
internal sealed class ReshapeOnnxOp : OnnxOp
{
    public override Tensor?[] Run(OnnxCase c, Device device)
    {
        var x = c.Input(0).ToFloatTensor(device);
        bool allowZero = c.Int("allowzero", 0) != 0;
        var requested = c.Input(1).ToInt32s();
        var shape = requested.Select((size, i) => size == 0 && !allowZero ? x.Size(i) : size).ToArray();
        return [x.Reshape(shape)];
    }
}

/// <summary>Transpose: a Tensor.Permute view by perm (default: the dimensions reversed).</summary>
internal sealed class TransposeOnnxOp : OnnxOp
{
    public override Tensor?[] Run(OnnxCase c, Device device)
    {
        var x = c.Input(0).ToFloatTensor(device);
        var perm = c.Ints("perm")?.Select(p => Axis(p, x.Rank, c)).ToArray() ?? Enumerable.Range(0, x.Rank).Reverse().ToArray();
        return [x.Permute(perm)];
    }
}

/// <summary>
/// Slice (opset 13): starts, ends, optional axes (default 0..n-1) and steps (default 1) as inputs,
/// applied one axis at a time as Tensor.Slice views. ONNX clamps the bounds to [-size, size]
/// before Python-style wrapping, which is what Tensor.Slice does; steps must be positive.
/// </summary>
internal sealed class SliceOnnxOp : OnnxOp
{
    public override string? Unsupported(OnnxCase c)
    {
        if (base.Unsupported(c) is { } reason) return reason;
        if (c.OptionalInput(4) is { } steps && steps.Longs.Any(s => s <= 0))
            return $"steps [{string.Join(", ", steps.Longs)}]: Tensor.Slice takes positive steps only";
        return null;
    }

    public override Tensor?[] Run(OnnxCase c, Device device)
    {
        var x = c.Input(0).ToFloatTensor(device);
        var starts = c.Input(1).Longs;
        var ends = c.Input(2).Longs;
        var axes = c.OptionalInput(3)?.Longs ?? Enumerable.Range(0, starts.Length).Select(a => (long)a).ToArray();
        var steps = c.OptionalInput(4)?.Longs ?? Enumerable.Repeat(1L, starts.Length).ToArray();
        for (int i = 0; i < starts.Length; i++)
        {
            int dim = Axis(axes[i], x.Rank, c);
            int size = x.Size(dim);
            int Bound(long v) => (int)Math.Clamp(v, -size, size);
            x = x.Slice(dim, Bound(starts[i]), Bound(ends[i]), (int)Math.Min(steps[i], Math.Max(size, 1)));
        }
        return [x];
    }
}

/// <summary>
/// Split along an axis into the node's outputs, as Tensor.Narrow views. Sizes come from the
/// "split" input (opset 13+); else, from opset 18, num_outputs parts of ceil(size / n) with a
/// smaller last part; else equal parts.
/// </summary>
internal sealed class SplitOnnxOp : OnnxOp
{
    public override Tensor?[] Run(OnnxCase c, Device device)
    {
        var x = c.Input(0).ToFloatTensor(device);
        int axis = Axis(c.Int("axis", 0), x.Rank, c);
        var sizes = PartSizes(c, x.Size(axis), c.Outputs.Count);
        var parts = new Tensor?[sizes.Length];
        for (int i = 0, start = 0; i < sizes.Length; start += sizes[i], i++)
            parts[i] = x.Narrow(axis, start, sizes[i]);
        return parts;
    }

    private static int[] PartSizes(OnnxCase c, int size, int outputs)
    {
        if (c.OptionalInput(1) is { } split)
            return split.ToInt32s();
        if (c.Has("num_outputs"))
        {
            int n = (int)c.Int("num_outputs", outputs);
            int chunk = (size + n - 1) / n;
            return Enumerable.Range(0, n).Select(i => Math.Clamp(size - i * chunk, 0, chunk)).ToArray();
        }
        if (size % outputs != 0)
            throw new InvalidDataException($"{c.Test}: dimension of size {size} does not split into {outputs} equal parts.");
        return Enumerable.Repeat(size / outputs, outputs).ToArray();
    }
}
