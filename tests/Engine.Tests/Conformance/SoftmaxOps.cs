namespace Engine.Tests.Conformance;

/// <summary>
/// Softmax and LogSoftmax from opset 13: along one axis (default -1). Before 13 they flattened
/// the input to 2-D at the axis, which the engine's ops do not do.
/// </summary>
internal sealed class SoftmaxOnnxOp(bool log) : OnnxOp
{
    public override string? Unsupported(OnnxCase c) =>
        c.Opset < 13 ? $"opset {c.Opset} coerces the input to 2-D at the axis; only opset 13+ per-axis semantics are mapped" : base.Unsupported(c);

    public override Tensor?[] Run(OnnxCase c, Device device)
    {
        var x = c.Input(0).ToFloatTensor(device);
        int axis = Axis(c.Int("axis", -1), x.Rank, c);
        return [log ? F.LogSoftmax(x, axis) : F.Softmax(x, axis)];
    }
}
