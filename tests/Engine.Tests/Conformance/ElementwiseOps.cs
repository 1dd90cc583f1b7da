namespace Engine.Tests.Conformance;

/// <summary>y = f(x) for an elementwise function of one float32 operand.</summary>
internal sealed class UnaryOnnxOp(Func<Tensor, Tensor> apply) : OnnxOp
{
    public override Tensor?[] Run(OnnxCase c, Device device) => [apply(c.Input(0).ToFloatTensor(device))];
}

/// <summary>
/// y = a (op) b with numpy broadcasting. A float32 result needs float32 a; b may be an integer
/// tensor (Pow's exponent), converted exactly to float32.
/// </summary>
internal sealed class BinaryOnnxOp(Func<Tensor, Tensor, Tensor> apply) : OnnxOp
{
    public override Tensor?[] Run(OnnxCase c, Device device) =>
        [apply(c.Input(0).ToFloatTensor(device), c.Input(1).ToFloatTensor(device))];
}

/// <summary>Gelu (opset 20): approximate = "none" (erf form) or "tanh".</summary>
internal sealed class GeluOnnxOp : OnnxOp
{
    public override string? Unsupported(OnnxCase c) =>
        c.String("approximate", "none") is "none" or "tanh" ? base.Unsupported(c) : $"approximate=\"{c.String("approximate", "none")}\" is not a Gelu form";

    public override Tensor?[] Run(OnnxCase c, Device device)
    {
        var approximation = c.String("approximate", "none") == "tanh" ? GeluApproximation.Tanh : GeluApproximation.None;
        return [F.Gelu(c.Input(0).ToFloatTensor(device), approximation)];
    }
}
