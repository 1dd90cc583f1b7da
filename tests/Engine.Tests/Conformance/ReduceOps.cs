namespace Engine.Tests.Conformance;

/// <summary>
/// The Reduce* family: y = finish(reduce(elementwise(x), axes)). Axes come from input 1 (ReduceSum
/// since opset 13, the others since 18) or the "axes" attribute before that; no axes means all
/// of them, or no reduction at all with noop_with_empty_axes=1. keepdims (default 1) keeps the
/// reduced dimensions as size 1. Several axes are reduced by F's multi-dimension reductions.
/// </summary>
internal sealed class ReduceOnnxOp(
    Func<Tensor, ReadOnlySpan<int>, bool, Tensor> reduce,
    Func<Tensor, Tensor>? elementwise = null,
    Func<Tensor, Tensor>? finish = null,
    bool isMax = false) : OnnxOp
{
    public static ReduceOnnxOp Sum() => new(F.Sum);
    public static ReduceOnnxOp Mean() => new(F.Mean);
    public static ReduceOnnxOp Max() => new(F.Max, isMax: true);
    public static ReduceOnnxOp L1() => new(F.Sum, elementwise: F.Abs);
    public static ReduceOnnxOp L2() => new(F.Sum, elementwise: F.Square, finish: F.Sqrt);
    public static ReduceOnnxOp SumSquare() => new(F.Sum, elementwise: F.Square);

    public override string? Unsupported(OnnxCase c)
    {
        var x = c.Input(0);
        // Max of 0/1 values is logical or, so bool data maps exactly onto float32.
        bool boolMax = isMax && x.DType == OnnxDType.Bool && c.Outputs[0]?.DType == OnnxDType.Bool;
        if (!boolMax && base.Unsupported(c) is { } reason) return reason;
        if (isMax && ReducedDims(c, x.Shape.Length).Any(d => x.Shape[d] == 0))
            return "ReduceMax over an empty axis: ONNX gives -inf, but F.Max has no identity and rejects empty dimensions";
        return null;
    }

    public override Tensor?[] Run(OnnxCase c, Device device)
    {
        var x = c.Input(0).ToFloatTensor(device);
        var dims = ReducedDims(c, x.Rank);
        var values = elementwise is null ? x : elementwise(x);
        var reduced = dims.Length == 0 ? values : reduce(values, dims, c.Int("keepdims", 1) != 0);
        return [finish is null ? reduced : finish(reduced)];
    }

    private static int[] ReducedDims(OnnxCase c, int rank)
    {
        var axes = c.OptionalInput(1)?.Longs ?? c.Ints("axes") ?? [];
        if (axes.Length > 0) return axes.Select(a => Axis(a, rank, c)).ToArray();
        return c.Int("noop_with_empty_axes", 0) != 0 ? [] : Enumerable.Range(0, rank).ToArray();
    }
}
