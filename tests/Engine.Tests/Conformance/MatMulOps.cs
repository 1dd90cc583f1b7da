namespace Engine.Tests.Conformance;

/// <summary>MatMul: numpy matmul (1-D operands promoted, batch dimensions broadcast), as F.MatMul.</summary>
internal sealed class MatMulOnnxOp : OnnxOp
{
    public override double Tolerance => 1e-4;

    public override Tensor?[] Run(OnnxCase c, Device device) =>
        [F.MatMul(c.Input(0).ToFloatTensor(device), c.Input(1).ToFloatTensor(device))];
}

/// <summary>
/// Gemm: Y = alpha * A' B' + beta * C with A' = transA ? A^T : A (likewise B'), A and B 2-D, and
/// C (optional) broadcast to [M, N]. The transposes are views; alpha goes to the matmul.
/// </summary>
internal sealed class GemmOnnxOp : OnnxOp
{
    public override double Tolerance => 1e-4;

    public override Tensor?[] Run(OnnxCase c, Device device)
    {
        var a = c.Input(0).ToFloatTensor(device);
        var b = c.Input(1).ToFloatTensor(device);
        if (c.Int("transA", 0) != 0) a = a.T;
        if (c.Int("transB", 0) != 0) b = b.T;
        var product = F.MatMul(a, b, null, c.Float("alpha", 1f));
        if (c.OptionalInput(2) is not { } bias) return [product];
        return [F.Add(product, F.Mul(bias.ToFloatTensor(device), c.Float("beta", 1f)))];
    }
}
