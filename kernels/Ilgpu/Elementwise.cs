using ILGPU;

namespace Engine.Kernels.Ilgpu;

/// <summary>
/// Elementwise kernels: y[i] = f(a[offA(i)]) and y[i] = a[offA(i)] (op) b[offB(i)], plus Fill,
/// their gradients (UnaryBackward, BinaryBackward) and the strided Copy.
///
/// Shapes: the output y is contiguous with count = prod(layout.Shape) elements; the linear
/// output index i is decoded into per-dimension coordinates (row-major, last dimension fastest)
/// and offA(i) = sum_d coord_d * StridesA_d (likewise B), so a stride of 0 broadcasts. When the
/// layout is rank 1 with unit strides (the common, already-merged case) the decode is skipped.
///
/// Launch: 1-D explicitly grouped, any group size; each thread walks a grid-stride loop
/// i = global id, i += grid size, so a grid sized to the device (not to the data) covers any count.
///
/// Math (torch semantics): gelu_tanh(x) = x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))),
/// gelu_erf(x) = x/2 (1 + erf(x / sqrt 2)), sigmoid(x) = 1 / (1 + exp(-x)),
/// sign(0) = 0, max/min propagate NaN. tanh and log1p are evaluated here rather than through
/// the backend's approximate instructions (PTX tanh.approx has about 11 bits), see <see cref="Tanh"/>.
/// </summary>
public static class Elementwise
{
    /// <summary>y[i] = op(x[offA(i)]) for i in [0, count).</summary>
    public static void Unary(ArrayView<float> x, ArrayView<float> y, ElementwiseLayout layout, UnaryOp op, int count)
    {
        int stride = Grid.DimX * Group.DimX;
        if (layout.Rank == 1 && layout.StridesA.D0 == 1)
        {
            for (int i = Grid.GlobalIndex.X; i < count; i += stride)
                y[i] = Apply(op, x[i]);
        }
        else
        {
            for (int i = Grid.GlobalIndex.X; i < count; i += stride)
                y[i] = Apply(op, x[Offset(layout, layout.StridesA, i)]);
        }
    }

    /// <summary>y[i] = a[offA(i)] op b[offB(i)] for i in [0, count).</summary>
    public static void Binary(ArrayView<float> a, ArrayView<float> b, ArrayView<float> y, ElementwiseLayout layout,
        BinaryOp op, int count)
    {
        int stride = Grid.DimX * Group.DimX;
        if (layout.Rank == 1 && layout.StridesA.D0 == 1 && layout.StridesB.D0 == 1)
        {
            for (int i = Grid.GlobalIndex.X; i < count; i += stride)
                y[i] = Apply(op, a[i], b[i]);
        }
        else
        {
            for (int i = Grid.GlobalIndex.X; i < count; i += stride)
            {
                OffsetsAB(layout, i, out int offA, out int offB);
                y[i] = Apply(op, a[offA], b[offB]);
            }
        }
    }

    /// <summary>
    /// dx[i] = dy[i] * f'(x[i]) for f = <paramref name="op"/>, f' from <see cref="ScalarMath.Derivative"/>
    /// (relu'(0) = |x|'(0) = sign' = 0, as torch).
    /// </summary>
    /// <remarks>
    /// Shapes: x, dy and dx are contiguous and exactly dx.Length long (the backend passes views
    /// of the element count). Launch: 1-D, any group size, 64-bit grid-stride loop as <see cref="Fill"/>.
    /// </remarks>
    public static void UnaryBackward(ArrayView<float> x, ArrayView<float> dy, ArrayView<float> dx, UnaryOp op)
    {
        long stride = (long)Grid.DimX * Group.DimX;
        for (long i = Grid.GlobalIndex.X; i < dx.Length; i += stride)
            dx[i] = dy[i] * ScalarMath.Derivative(op, x[i]);
    }

    /// <summary>
    /// The gradients of y = a (op) b: da[i] = dy[i] * dy/da and db[i] = dy[i] * dy/db at
    /// (a[offA(i)], b[offB(i)]), as torch's autograd formulas:
    /// <code>
    ///   Add: (g, g)    Sub: (g, -g)    Mul: (g b, g a)    Div: (g / b, -g ((a / b) / b))
    ///   Max: a &gt; b (g, 0), a &lt; b (0, g), a = b (g/2, g/2); Min mirrored; NaN passes g to both
    ///   Pow: da = g (b a^(b-1)), 0 where b = 0;  db = g (a^b log a), 0 where a = 0 and b &gt;= 0
    /// </code>
    /// </summary>
    /// <remarks>
    /// Shapes: the layout is the forward <see cref="Binary"/>'s (output shape, a by StridesA, b by
    /// StridesB, 0 = broadcast); dy, da and db are contiguous in the output shape, count elements.
    /// da is written only when <paramref name="needA"/> is nonzero, db only when <paramref name="needB"/>
    /// is (ints: ILGPU kernel parameters cannot be bool); the op layer sums over broadcast dimensions.
    /// Launch: 1-D, any group size, grid-stride loop as <see cref="Binary"/>.
    /// </remarks>
    public static void BinaryBackward(ArrayView<float> a, ArrayView<float> b, ArrayView<float> dy, ArrayView<float> da,
        ArrayView<float> db, ElementwiseLayout layout, BinaryOp op, int needA, int needB, int count)
    {
        int stride = Grid.DimX * Group.DimX;
        bool contiguous = layout.Rank == 1 && layout.StridesA.D0 == 1 && layout.StridesB.D0 == 1;
        for (int i = Grid.GlobalIndex.X; i < count; i += stride)
        {
            int offA = i;
            int offB = i;
            if (!contiguous)
                OffsetsAB(layout, i, out offA, out offB);
            Gradients(op, a[offA], b[offB], dy[i], out float gradA, out float gradB);
            if (needA != 0)
                da[i] = gradA;
            if (needB != 0)
                db[i] = gradB;
        }
    }

    /// <summary>dst[offB(i)] = src[offA(i)] for i in [0, count): the one elementwise kernel with a strided output.</summary>
    /// <remarks>
    /// Shapes: the iteration space is layout.Shape; src is read through StridesA and dst written
    /// through StridesB (an output with overlapping elements is the caller's error). Launch: 1-D,
    /// any group size, grid-stride loop as <see cref="Unary"/>.
    /// </remarks>
    public static void Copy(ArrayView<float> src, ArrayView<float> dst, ElementwiseLayout layout, int count)
    {
        int stride = Grid.DimX * Group.DimX;
        if (layout.Rank == 1 && layout.StridesA.D0 == 1 && layout.StridesB.D0 == 1)
        {
            for (int i = Grid.GlobalIndex.X; i < count; i += stride)
                dst[i] = src[i];
        }
        else
        {
            for (int i = Grid.GlobalIndex.X; i < count; i += stride)
            {
                OffsetsAB(layout, i, out int offA, out int offB);
                dst[offB] = src[offA];
            }
        }
    }

    /// <summary>dst[i] = value for every element of dst (64-bit grid-stride loop).</summary>
    public static void Fill(ArrayView<float> dst, float value)
    {
        long stride = (long)Grid.DimX * Group.DimX;
        for (long i = Grid.GlobalIndex.X; i < dst.Length; i += stride)
            dst[i] = value;
    }

    /// <summary>Offset of output element <paramref name="linear"/> in an operand with the given strides.</summary>
    private static int Offset(in ElementwiseLayout layout, in Dims8 strides, int linear)
    {
        int offset = 0;
        for (int d = layout.Rank - 1; d >= 0; d--)
        {
            int size = layout.Shape.Get(d);
            int q = linear / size;
            offset += (linear - q * size) * strides.Get(d);
            linear = q;
        }
        return offset;
    }

    /// <summary>Offsets in A and B of output element <paramref name="linear"/>, sharing one coordinate decode.</summary>
    private static void OffsetsAB(in ElementwiseLayout layout, int linear, out int offA, out int offB)
    {
        offA = 0;
        offB = 0;
        for (int d = layout.Rank - 1; d >= 0; d--)
        {
            int size = layout.Shape.Get(d);
            int q = linear / size;
            int coord = linear - q * size;
            offA += coord * layout.StridesA.Get(d);
            offB += coord * layout.StridesB.Get(d);
            linear = q;
        }
    }

    private static float Apply(UnaryOp op, float x)
    {
        switch (op)
        {
            case UnaryOp.Identity: return x;
            case UnaryOp.Neg: return -x;
            case UnaryOp.Relu: return x < 0f ? 0f : x;
            case UnaryOp.GeluTanh:
                return 0.5f * x * (1f + Tanh(0.7978845608028654f * (x + 0.044715f * x * x * x)));
            case UnaryOp.GeluErf: return 0.5f * x * (1f + ScalarMath.Erf(x * 0.7071067811865476f));
            case UnaryOp.Exp: return MathF.Exp(x);
            case UnaryOp.Log: return MathF.Log(x);
            case UnaryOp.Log1p: return Log1p(x);
            case UnaryOp.Tanh: return Tanh(x);
            case UnaryOp.Sqrt: return MathF.Sqrt(x);
            case UnaryOp.Abs: return MathF.Abs(x);
            case UnaryOp.Sign: return x > 0f ? 1f : x < 0f ? -1f : 0f;
            case UnaryOp.Sigmoid: return Sigmoid(x);
            case UnaryOp.Erf: return ScalarMath.Erf(x);
            case UnaryOp.Reciprocal: return 1f / x;
            default: return x * x;
        }
    }

    private static float Apply(BinaryOp op, float a, float b)
    {
        switch (op)
        {
            case BinaryOp.Add: return a + b;
            case BinaryOp.Sub: return a - b;
            case BinaryOp.Mul: return a * b;
            case BinaryOp.Div: return a / b;
            case BinaryOp.Max: return float.IsNaN(a) || float.IsNaN(b) ? a + b : a > b ? a : b;
            case BinaryOp.Min: return float.IsNaN(a) || float.IsNaN(b) ? a + b : a < b ? a : b;
            default: return MathF.Pow(a, b);
        }
    }

    /// <summary>The incoming gradient g split onto the operands of a (op) b, see <see cref="BinaryBackward"/>.</summary>
    private static void Gradients(BinaryOp op, float a, float b, float g, out float gradA, out float gradB)
    {
        switch (op)
        {
            case BinaryOp.Add:
                gradA = g;
                gradB = g;
                break;
            case BinaryOp.Sub:
                gradA = g;
                gradB = -g;
                break;
            case BinaryOp.Mul:
                gradA = g * b;
                gradB = g * a;
                break;
            case BinaryOp.Div:
                gradA = g / b;
                gradB = -g * ((a / b) / b);
                break;
            case BinaryOp.Max:
            case BinaryOp.Min:
                // torch: where(a == b, g / 2, g), masked to 0 on the losing side (neither side loses on NaN).
                float share = a == b ? 0.5f * g : g;
                bool aLoses = op == BinaryOp.Max ? a < b : a > b;
                bool bLoses = op == BinaryOp.Max ? a > b : a < b;
                gradA = aLoses ? 0f : share;
                gradB = bLoses ? 0f : share;
                break;
            default:
                gradA = b == 0f ? 0f : g * (b * MathF.Pow(a, b - 1f));
                gradB = a == 0f && b >= 0f ? 0f : g * (MathF.Pow(a, b) * MathF.Log(a));
                break;
        }
    }

    /// <summary>
    /// tanh(x) to about 1 ulp. For |x| &lt; 0.4 the odd Taylor series through x^13 (truncation
    /// below 1e-8 relative); above, tanh|x| = (1 - e) / (1 + e) with e = exp(-2|x|) &lt;= 0.45, which
    /// has no cancellation. exp(-2|x|) underflows to 0 for large |x|, giving exactly +-1.
    /// </summary>
    private static float Tanh(float x)
    {
        float a = MathF.Abs(x);
        if (a < 0.4f)
        {
            float x2 = x * x;
            return x * (1f + x2 * (-1f / 3f + x2 * (2f / 15f + x2 * (-17f / 315f + x2 * (62f / 2835f
                + x2 * (-1382f / 155925f + x2 * (21844f / 6081075f)))))));
        }
        float e = MathF.Exp(-2f * a);
        float t = (1f - e) / (1f + e);
        return x < 0f ? -t : t;
    }

    /// <summary>
    /// log(1 + x) without the cancellation of forming 1 + x: near 0 (1 + x in [1/sqrt 2, sqrt 2])
    /// log1p(x) = 2 atanh(s) = 2 (s + s^3/3 + s^5/5 + ...), s = x / (2 + x), |s| &lt;= 0.172, the series
    /// cut after s^11 (truncation below 1e-8 relative); elsewhere log(1 + x) is well conditioned.
    /// </summary>
    internal static float Log1p(float x)
    {
        if (x > -0.29289322f && x < 0.41421357f)
        {
            float s = x / (2f + x);
            float s2 = s * s;
            return 2f * s * (1f + s2 * (1f / 3f + s2 * (1f / 5f + s2 * (1f / 7f + s2 * (1f / 9f + s2 * (1f / 11f))))));
        }
        return MathF.Log(1f + x);
    }

    /// <summary>sigmoid(x), using exp(x) / (1 + exp(x)) for x &lt; 0 so tiny results keep their relative accuracy.</summary>
    private static float Sigmoid(float x)
    {
        if (x >= 0f)
            return 1f / (1f + MathF.Exp(-x));
        float e = MathF.Exp(x);
        return e / (1f + e);
    }
}
