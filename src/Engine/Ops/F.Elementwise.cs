using Engine.Kernels;

namespace Engine;

/// <summary>How GELU is evaluated.</summary>
public enum GeluApproximation
{
    /// <summary>Exact: 0.5 x (1 + erf(x / sqrt 2)) (BERT).</summary>
    None,
    /// <summary>0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) (GPT-2).</summary>
    Tanh,
}

// Elementwise ops. Unary: y = f(x), any strides in, contiguous out. Binary: y = a (op) b with
// numpy/torch broadcasting; the output has the broadcast shape and is contiguous.
public static partial class F
{
    internal static Tensor Unary(UnaryOp op, Tensor x, string name)
    {
        if (op != UnaryOp.Identity) Checks.Float(name, x);
        var y = Tensor.Empty(x.Device, x.Shape, x.DType);
        if (y.Count == 0) return y;
        var layout = Layouts.Build(name, x.Shape, x.Strides, ReadOnlySpan<int>.Empty);
        x.Backend.Unary(op, x.Buffer, y.Buffer, layout);
        return y;
    }

    internal static Tensor Binary(BinaryOp op, Tensor a, Tensor b, string name)
    {
        Checks.SameDevice(name, a, b);
        Checks.Float(name, a, "left operand");
        Checks.Float(name, b, "right operand");
        var shape = ShapeMath.Broadcast(a.Shape, b.Shape, name);
        var y = Tensor.Empty(a.Device, shape);
        if (y.Count == 0) return y;
        var layout = Layouts.Build(name, shape,
            ShapeMath.BroadcastStrides(a.Shape, a.Strides, shape),
            ShapeMath.BroadcastStrides(b.Shape, b.Strides, shape));
        a.Backend.Binary(op, a.Buffer, b.Buffer, y.Buffer, layout);
        return y;
    }

    private static Tensor Binary(BinaryOp op, Tensor a, float b, string name)
    {
        using var scalar = Tensor.Scalar(a.Device, b);
        return Binary(op, a, scalar, name);
    }

    /// <summary>max(x, 0).</summary>
    public static Tensor Relu(Tensor x) => Unary(UnaryOp.Relu, x, "Relu");
    /// <summary>GELU, exact (erf) or with the tanh approximation.</summary>
    public static Tensor Gelu(Tensor x, GeluApproximation approximation = GeluApproximation.None) =>
        Unary(approximation == GeluApproximation.Tanh ? UnaryOp.GeluTanh : UnaryOp.GeluErf, x, "Gelu");
    /// <summary>e^x.</summary>
    public static Tensor Exp(Tensor x) => Unary(UnaryOp.Exp, x, "Exp");
    /// <summary>Natural logarithm.</summary>
    public static Tensor Log(Tensor x) => Unary(UnaryOp.Log, x, "Log");
    /// <summary>log(1 + x), accurate for small x.</summary>
    public static Tensor Log1p(Tensor x) => Unary(UnaryOp.Log1p, x, "Log1p");
    /// <summary>Hyperbolic tangent.</summary>
    public static Tensor Tanh(Tensor x) => Unary(UnaryOp.Tanh, x, "Tanh");
    /// <summary>Square root.</summary>
    public static Tensor Sqrt(Tensor x) => Unary(UnaryOp.Sqrt, x, "Sqrt");
    /// <summary>|x|.</summary>
    public static Tensor Abs(Tensor x) => Unary(UnaryOp.Abs, x, "Abs");
    /// <summary>-1, 0 or 1 by the sign of x (NaN stays NaN).</summary>
    public static Tensor Sign(Tensor x) => Unary(UnaryOp.Sign, x, "Sign");
    /// <summary>-x.</summary>
    public static Tensor Neg(Tensor x) => Unary(UnaryOp.Neg, x, "Neg");
    /// <summary>1 / (1 + e^-x).</summary>
    public static Tensor Sigmoid(Tensor x) => Unary(UnaryOp.Sigmoid, x, "Sigmoid");
    /// <summary>The error function.</summary>
    public static Tensor Erf(Tensor x) => Unary(UnaryOp.Erf, x, "Erf");
    /// <summary>1 / x.</summary>
    public static Tensor Reciprocal(Tensor x) => Unary(UnaryOp.Reciprocal, x, "Reciprocal");
    /// <summary>x * x.</summary>
    public static Tensor Square(Tensor x) => Unary(UnaryOp.Square, x, "Square");

    /// <summary>a + b with broadcasting.</summary>
    public static Tensor Add(Tensor a, Tensor b) => Binary(BinaryOp.Add, a, b, "Add");
    /// <summary>a - b with broadcasting.</summary>
    public static Tensor Sub(Tensor a, Tensor b) => Binary(BinaryOp.Sub, a, b, "Sub");
    /// <summary>a * b with broadcasting.</summary>
    public static Tensor Mul(Tensor a, Tensor b) => Binary(BinaryOp.Mul, a, b, "Mul");
    /// <summary>a / b with broadcasting.</summary>
    public static Tensor Div(Tensor a, Tensor b) => Binary(BinaryOp.Div, a, b, "Div");
    /// <summary>Elementwise maximum with broadcasting.</summary>
    public static Tensor Maximum(Tensor a, Tensor b) => Binary(BinaryOp.Max, a, b, "Maximum");
    /// <summary>Elementwise minimum with broadcasting.</summary>
    public static Tensor Minimum(Tensor a, Tensor b) => Binary(BinaryOp.Min, a, b, "Minimum");
    /// <summary>a ^ b with broadcasting.</summary>
    public static Tensor Pow(Tensor a, Tensor b) => Binary(BinaryOp.Pow, a, b, "Pow");

    /// <summary>a + s.</summary>
    public static Tensor Add(Tensor a, float s) => Binary(BinaryOp.Add, a, s, "Add");
    /// <summary>a - s.</summary>
    public static Tensor Sub(Tensor a, float s) => Binary(BinaryOp.Sub, a, s, "Sub");
    /// <summary>a * s.</summary>
    public static Tensor Mul(Tensor a, float s) => Binary(BinaryOp.Mul, a, s, "Mul");
    /// <summary>a / s.</summary>
    public static Tensor Div(Tensor a, float s) => Binary(BinaryOp.Div, a, s, "Div");
    /// <summary>a ^ s.</summary>
    public static Tensor Pow(Tensor a, float s) => Binary(BinaryOp.Pow, a, s, "Pow");
}
