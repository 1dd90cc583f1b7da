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
// Backward: dx = dy * f'(x) (one kernel for every f); for binary ops the kernel gives da and db in
// the output shape and each is summed over the dimensions its operand was broadcast along.
public static partial class F
{
    /// <summary>y = op(x) without recording (the kernel call behind every unary op).</summary>
    internal static Tensor Unary(UnaryOp op, Tensor x, string name)
    {
        if (op != UnaryOp.Identity) Checks.Float(name, x);
        var y = Tensor.Empty(x.Device, x.Shape, x.DType);
        if (y.Count == 0) return y;
        var layout = Layouts.Build(name, x.Shape, x.Strides, ReadOnlySpan<int>.Empty);
        x.Backend.Unary(op, x.Buffer, y.Buffer, layout);
        return y;
    }

    private static Tensor UnaryRecorded(UnaryOp op, Tensor x, string name)
    {
        var y = Unary(op, x, name);
        if (Autograd.Needs(x))
        {
            var saved = Autograd.Save(x);
            Autograd.Record(name, y, [x], g => [UnaryGrad(op, saved, g, name)], saved);
        }
        return y;
    }

    /// <summary>dx = dy * f'(x) for contiguous-or-not x and dy of the same shape.</summary>
    private static Tensor UnaryGrad(UnaryOp op, Tensor x, Tensor dy, string name)
    {
        if (op == UnaryOp.Identity) return dy;
        using var scope = x.Device.Scope();
        var xd = Dense(x, out _);
        var dyd = Dense(dy, out _);
        var dx = Tensor.Empty(x.Device, x.Shape);
        scope.Keep(dx);
        if (dx.Count > 0) x.Backend.UnaryBackward(op, xd.Buffer, dyd.Buffer, dx.Buffer, dx.Count);
        return dx;
    }

    /// <summary>y = a (op) b with broadcasting, without recording.</summary>
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

    private static Tensor BinaryRecorded(BinaryOp op, Tensor a, Tensor b, string name)
    {
        var y = Binary(op, a, b, name);
        if (Autograd.Needs(a, b))
        {
            bool needA = a.RequiresGrad, needB = b.RequiresGrad;
            var sa = Autograd.Save(a);
            var sb = Autograd.Save(b);
            Autograd.Record(name, y, [a, b], g => BinaryGrad(op, sa, sb, g, needA, needB), sa, sb);
        }
        return y;
    }

    private static Tensor?[] BinaryGrad(BinaryOp op, Tensor a, Tensor b, Tensor dy, bool needA, bool needB)
    {
        if (op == BinaryOp.Add)
            return [needA ? SumToShape(dy, a.ShapeArray) : null, needB ? SumToShape(dy, b.ShapeArray) : null];
        if (op == BinaryOp.Sub)
            return [needA ? SumToShape(dy, a.ShapeArray) : null, needB ? SumToShape(Neg(dy), b.ShapeArray) : null];

        using var scope = a.Device.Scope();
        var shape = dy.ShapeArray;
        var layout = Layouts.Build(op.ToString(), shape,
            ShapeMath.BroadcastStrides(a.Shape, a.Strides, shape),
            ShapeMath.BroadcastStrides(b.Shape, b.Strides, shape));
        var dyd = Dense(dy, out _);
        var da = Tensor.Empty(a.Device, shape);
        var db = Tensor.Empty(a.Device, shape);
        if (dy.Count > 0)
            a.Backend.BinaryBackward(op, a.Buffer, b.Buffer, dyd.Buffer, da.Buffer, db.Buffer, layout, needA, needB);
        Tensor? ga = needA ? scope.Keep(SumToShape(da, a.ShapeArray)) : null;
        Tensor? gb = needB ? scope.Keep(SumToShape(db, b.ShapeArray)) : null;
        return [ga, gb];
    }

    /// <summary>
    /// Sums <paramref name="g"/> (in a broadcast shape) down to <paramref name="shape"/>: over the
    /// leading dimensions <paramref name="shape"/> lacks and over those where it has size 1.
    /// </summary>
    internal static Tensor SumToShape(Tensor g, int[] shape)
    {
        if (g.Shape.SequenceEqual(shape)) return g;
        int lead = g.Rank - shape.Length;
        var dims = new List<int>();
        for (int d = 0; d < g.Rank; d++)
            if (d < lead || (shape[d - lead] == 1 && g.Size(d) != 1)) dims.Add(d);
        using var scope = g.Device.Scope();
        var summed = dims.Count == 0 ? g : Sum(g, dims.ToArray(), keepDim: true);
        return scope.Keep(summed.Reshape(shape));
    }

    private static Tensor Binary(BinaryOp op, Tensor a, float b, string name)
    {
        using var scalar = Tensor.Scalar(a.Device, b);
        return BinaryRecorded(op, a, scalar, name);
    }

    /// <summary>dst += src in place (src broadcast to dst's shape); not recorded. dst must be contiguous.</summary>
    internal static void AddInPlace(Tensor dst, Tensor src)
    {
        var layout = Layouts.Build("AddInPlace", dst.Shape, dst.Strides,
            ShapeMath.BroadcastStrides(src.Shape, src.Strides, dst.ShapeArray));
        if (dst.Count > 0) dst.Backend.Binary(BinaryOp.Add, dst.Buffer, src.Buffer, dst.Buffer, layout);
    }

    /// <summary>A contiguous copy that belongs to no scope (a leaf's gradient).</summary>
    internal static Tensor CopyUnscoped(Tensor t)
    {
        using (TensorScope.Suspend())
            return Unary(UnaryOp.Identity, t, "Copy");
    }

    /// <summary>dst = src (broadcast to dst's shape) through dst's strides, in place; not recorded.</summary>
    internal static void CopyInto(Tensor dst, Tensor src, string op)
    {
        Checks.SameDevice(op, dst, src);
        if (dst.DType != src.DType)
            throw new ArgumentException($"{op}: source {ShapeMath.Format(src.Shape)} is {src.DType} but destination {ShapeMath.Format(dst.Shape)} is {dst.DType}.");
        var shape = ShapeMath.Broadcast(dst.Shape, src.Shape, op);
        if (!shape.AsSpan().SequenceEqual(dst.Shape))
            throw new ArgumentException($"{op}: source {ShapeMath.Format(src.Shape)} does not broadcast to destination {ShapeMath.Format(dst.Shape)}.");
        if (dst.Count == 0) return;
        var layout = Layouts.Build(op, shape, ShapeMath.BroadcastStrides(src.Shape, src.Strides, shape), dst.Strides);
        dst.Backend.Copy(src.Buffer, dst.Buffer, layout);
        dst.Storage.MarkWritten();
    }

    /// <summary>The gradient of a slice: zeros of the sliced tensor's shape with <paramref name="g"/> written at the slice.</summary>
    internal static Tensor SliceGrad(Tensor g, int[] shape, int dim, int start, int step)
    {
        var dx = Tensor.Zeros(g.Device, shape);
        using var target = dx.Slice(dim, start, start + (g.Size(dim) - 1) * step + 1, step);
        CopyInto(target, g, "Slice");
        return dx;
    }

    /// <summary>A contiguous copy of <paramref name="x"/> that shares no memory with it (torch.clone).</summary>
    public static Tensor Clone(Tensor x)
    {
        var y = Unary(UnaryOp.Identity, x, "Clone");
        if (Autograd.Needs(x)) Autograd.Record("Clone", y, [x], g => [g]);
        return y;
    }

    /// <summary>max(x, 0).</summary>
    public static Tensor Relu(Tensor x) => UnaryRecorded(UnaryOp.Relu, x, "Relu");
    /// <summary>GELU, exact (erf) or with the tanh approximation.</summary>
    public static Tensor Gelu(Tensor x, GeluApproximation approximation = GeluApproximation.None) =>
        UnaryRecorded(approximation == GeluApproximation.Tanh ? UnaryOp.GeluTanh : UnaryOp.GeluErf, x, "Gelu");
    /// <summary>e^x.</summary>
    public static Tensor Exp(Tensor x) => UnaryRecorded(UnaryOp.Exp, x, "Exp");
    /// <summary>Natural logarithm.</summary>
    public static Tensor Log(Tensor x) => UnaryRecorded(UnaryOp.Log, x, "Log");
    /// <summary>log(1 + x), accurate for small x.</summary>
    public static Tensor Log1p(Tensor x) => UnaryRecorded(UnaryOp.Log1p, x, "Log1p");
    /// <summary>Hyperbolic tangent.</summary>
    public static Tensor Tanh(Tensor x) => UnaryRecorded(UnaryOp.Tanh, x, "Tanh");
    /// <summary>Square root.</summary>
    public static Tensor Sqrt(Tensor x) => UnaryRecorded(UnaryOp.Sqrt, x, "Sqrt");
    /// <summary>|x|.</summary>
    public static Tensor Abs(Tensor x) => UnaryRecorded(UnaryOp.Abs, x, "Abs");
    /// <summary>-1, 0 or 1 by the sign of x (NaN stays NaN).</summary>
    public static Tensor Sign(Tensor x) => UnaryRecorded(UnaryOp.Sign, x, "Sign");
    /// <summary>-x.</summary>
    public static Tensor Neg(Tensor x) => UnaryRecorded(UnaryOp.Neg, x, "Neg");
    /// <summary>1 / (1 + e^-x).</summary>
    public static Tensor Sigmoid(Tensor x) => UnaryRecorded(UnaryOp.Sigmoid, x, "Sigmoid");
    /// <summary>The error function.</summary>
    public static Tensor Erf(Tensor x) => UnaryRecorded(UnaryOp.Erf, x, "Erf");
    /// <summary>1 / x.</summary>
    public static Tensor Reciprocal(Tensor x) => UnaryRecorded(UnaryOp.Reciprocal, x, "Reciprocal");
    /// <summary>x * x.</summary>
    public static Tensor Square(Tensor x) => UnaryRecorded(UnaryOp.Square, x, "Square");

    /// <summary>a + b with broadcasting.</summary>
    public static Tensor Add(Tensor a, Tensor b) => BinaryRecorded(BinaryOp.Add, a, b, "Add");
    /// <summary>a - b with broadcasting.</summary>
    public static Tensor Sub(Tensor a, Tensor b) => BinaryRecorded(BinaryOp.Sub, a, b, "Sub");
    /// <summary>a * b with broadcasting.</summary>
    public static Tensor Mul(Tensor a, Tensor b) => BinaryRecorded(BinaryOp.Mul, a, b, "Mul");
    /// <summary>a / b with broadcasting.</summary>
    public static Tensor Div(Tensor a, Tensor b) => BinaryRecorded(BinaryOp.Div, a, b, "Div");
    /// <summary>Elementwise maximum with broadcasting.</summary>
    public static Tensor Maximum(Tensor a, Tensor b) => BinaryRecorded(BinaryOp.Max, a, b, "Maximum");
    /// <summary>Elementwise minimum with broadcasting.</summary>
    public static Tensor Minimum(Tensor a, Tensor b) => BinaryRecorded(BinaryOp.Min, a, b, "Minimum");
    /// <summary>a ^ b with broadcasting.</summary>
    public static Tensor Pow(Tensor a, Tensor b) => BinaryRecorded(BinaryOp.Pow, a, b, "Pow");

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
