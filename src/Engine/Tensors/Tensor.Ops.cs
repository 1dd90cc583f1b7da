namespace Engine;

// Tensor's op methods: thin calls into F, so x.MatMul(w).Gelu() reads like PyTorch.
public sealed partial class Tensor
{
    /// <summary>Matrix product (torch.matmul rules). See <see cref="F.MatMul(Tensor, Tensor)"/>.</summary>
    public Tensor MatMul(Tensor other) => F.MatMul(this, other);
    /// <summary>Elementwise sum with broadcasting.</summary>
    public Tensor Add(Tensor other) => F.Add(this, other);
    /// <summary>Elementwise difference with broadcasting.</summary>
    public Tensor Sub(Tensor other) => F.Sub(this, other);
    /// <summary>Elementwise product with broadcasting.</summary>
    public Tensor Mul(Tensor other) => F.Mul(this, other);
    /// <summary>Elementwise quotient with broadcasting.</summary>
    public Tensor Div(Tensor other) => F.Div(this, other);
    /// <summary>Elementwise power with broadcasting.</summary>
    public Tensor Pow(Tensor other) => F.Pow(this, other);
    /// <summary>max(x, 0).</summary>
    public Tensor Relu() => F.Relu(this);
    /// <summary>GELU (exact erf form unless the tanh approximation is asked for).</summary>
    public Tensor Gelu(GeluApproximation approximation = GeluApproximation.None) => F.Gelu(this, approximation);
    /// <summary>e^x.</summary>
    public Tensor Exp() => F.Exp(this);
    /// <summary>Natural logarithm.</summary>
    public Tensor Log() => F.Log(this);
    /// <summary>log(1 + x).</summary>
    public Tensor Log1p() => F.Log1p(this);
    /// <summary>Hyperbolic tangent.</summary>
    public Tensor Tanh() => F.Tanh(this);
    /// <summary>Square root.</summary>
    public Tensor Sqrt() => F.Sqrt(this);
    /// <summary>Absolute value.</summary>
    public Tensor Abs() => F.Abs(this);
    /// <summary>Sign (-1, 0, 1).</summary>
    public Tensor Sign() => F.Sign(this);
    /// <summary>Sum along a dimension.</summary>
    public Tensor Sum(int dim, bool keepDim = false) => F.Sum(this, dim, keepDim);
    /// <summary>Sum of all elements.</summary>
    public Tensor Sum() => F.Sum(this);
    /// <summary>Mean along a dimension.</summary>
    public Tensor Mean(int dim, bool keepDim = false) => F.Mean(this, dim, keepDim);
    /// <summary>Mean of all elements.</summary>
    public Tensor Mean() => F.Mean(this);
    /// <summary>Maximum along a dimension.</summary>
    public Tensor Max(int dim, bool keepDim = false) => F.Max(this, dim, keepDim);
    /// <summary>Index of the maximum along a dimension (int32).</summary>
    public Tensor ArgMax(int dim, bool keepDim = false) => F.ArgMax(this, dim, keepDim);
    /// <summary>Softmax along a dimension.</summary>
    public Tensor Softmax(int dim = -1) => F.Softmax(this, dim);
    /// <summary>Log-softmax along a dimension.</summary>
    public Tensor LogSoftmax(int dim = -1) => F.LogSoftmax(this, dim);

    /// <summary>a + b with broadcasting.</summary>
    public static Tensor operator +(Tensor a, Tensor b) => F.Add(a, b);
    /// <summary>a - b with broadcasting.</summary>
    public static Tensor operator -(Tensor a, Tensor b) => F.Sub(a, b);
    /// <summary>a * b with broadcasting.</summary>
    public static Tensor operator *(Tensor a, Tensor b) => F.Mul(a, b);
    /// <summary>a / b with broadcasting.</summary>
    public static Tensor operator /(Tensor a, Tensor b) => F.Div(a, b);
    /// <summary>a + s.</summary>
    public static Tensor operator +(Tensor a, float s) => F.Add(a, s);
    /// <summary>a - s.</summary>
    public static Tensor operator -(Tensor a, float s) => F.Sub(a, s);
    /// <summary>a * s.</summary>
    public static Tensor operator *(Tensor a, float s) => F.Mul(a, s);
    /// <summary>a / s.</summary>
    public static Tensor operator /(Tensor a, float s) => F.Div(a, s);
    /// <summary>-a.</summary>
    public static Tensor operator -(Tensor a) => F.Neg(a);
}
