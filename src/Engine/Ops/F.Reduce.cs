using Engine.Kernels;

namespace Engine;

// Reductions along one dimension: x [outer, n, inner] -> y [outer, inner] (or [outer, 1, inner]
// with keepDim). Sum, Mean, Max give float32; ArgMax gives int32 indices (first maximum).
// Backward: Sum spreads dy over the reduced dimension, Mean spreads dy / n, Max sends dy to the
// first maximum (torch.max(dim)'s index) and 0 elsewhere; ArgMax has no gradient.
public static partial class F
{
    /// <summary>Sum along <paramref name="dim"/>.</summary>
    public static Tensor Sum(Tensor x, int dim, bool keepDim = false) => Reduce(ReduceOp.Sum, x, dim, keepDim, "Sum");
    /// <summary>Mean along <paramref name="dim"/>.</summary>
    public static Tensor Mean(Tensor x, int dim, bool keepDim = false) => Reduce(ReduceOp.Mean, x, dim, keepDim, "Mean");
    /// <summary>Maximum along <paramref name="dim"/> (NaN propagates).</summary>
    public static Tensor Max(Tensor x, int dim, bool keepDim = false) => Reduce(ReduceOp.Max, x, dim, keepDim, "Max");
    /// <summary>Index of the first maximum along <paramref name="dim"/>, as int32.</summary>
    public static Tensor ArgMax(Tensor x, int dim, bool keepDim = false) => Reduce(ReduceOp.ArgMax, x, dim, keepDim, "ArgMax");

    /// <summary>Sum of all elements, as a 0-D tensor.</summary>
    public static Tensor Sum(Tensor x)
    {
        using var flat = x.Reshape(-1);
        return Reduce(ReduceOp.Sum, flat, 0, false, "Sum");
    }

    /// <summary>Mean of all elements, as a 0-D tensor.</summary>
    public static Tensor Mean(Tensor x)
    {
        using var flat = x.Reshape(-1);
        return Reduce(ReduceOp.Mean, flat, 0, false, "Mean");
    }

    private static Tensor Reduce(ReduceOp op, Tensor x, int dim, bool keepDim, string name)
    {
        Tensor y;
        using (Autograd.Pause())
            y = ReduceCore(op, x, dim, keepDim, name);
        if (op == ReduceOp.ArgMax || !Autograd.Needs(x)) return y;

        var shape = x.ShapeArray;
        if (x.Rank == 0)
        {
            Autograd.Record(name, y, [x], g => [g]);
            return y;
        }
        int d = ShapeMath.NormalizeDim(dim, x.Rank, name);
        var kept = (int[])shape.Clone();
        kept[d] = 1;
        if (op == ReduceOp.Max)
        {
            Tensor index;
            using (Autograd.Pause())
                index = ArgMax(x, d, keepDim: true);
            var savedIndex = Autograd.Save(index);
            index.Dispose();
            Autograd.Record(name, y, [x], g => [MaxGrad(savedIndex, g, shape, d)], savedIndex);
            return y;
        }
        float scale = op == ReduceOp.Mean ? 1f / shape[d] : 1f;
        Autograd.Record(name, y, [x], g =>
        {
            using var spread = g.Reshape(kept).Expand(shape);
            return [scale == 1f ? spread.Contiguous() : Mul(spread, scale)];
        });
        return y;
    }

    /// <summary>dx [outer, n, inner] = dy at the saved argmax index along the dimension, 0 elsewhere.</summary>
    private static Tensor MaxGrad(Tensor index, Tensor dy, int[] shape, int d)
    {
        int outer = (int)ShapeMath.Count(shape.AsSpan(0, d));
        int inner = (int)ShapeMath.Count(shape.AsSpan(d + 1));
        var dx = Tensor.Empty(dy.Device, shape);
        if (dx.Count == 0) return dx;
        var dyd = Dense(dy, out bool copied);
        dy.Backend.ReduceMaxBackward(index.Buffer, dyd.Buffer, dx.Buffer, outer, shape[d], inner);
        if (copied) dyd.Dispose();
        return dx;
    }

    private static Tensor ReduceCore(ReduceOp op, Tensor x, int dim, bool keepDim, string name)
    {
        Checks.Float(name, x);
        int rank = Math.Max(x.Rank, 1);
        int d = ShapeMath.NormalizeDim(dim, rank, name);
        var shape = x.Rank == 0 ? [1] : x.ShapeArray;
        int n = shape[d];
        if (n == 0 && op is ReduceOp.Max or ReduceOp.ArgMax)
            throw new ArgumentException($"{name}: dimension {dim} of tensor {ShapeMath.Format(x.Shape)} is empty; {name} has no identity.");
        int outer = (int)ShapeMath.Count(shape.AsSpan(0, d));
        int inner = (int)ShapeMath.Count(shape.AsSpan(d + 1));
        var outShape = shape.ToList();
        if (keepDim) outShape[d] = 1;
        else outShape.RemoveAt(d);
        if (x.Rank == 0) outShape.Clear();
        var y = Tensor.Empty(x.Device, outShape.ToArray(), op == ReduceOp.ArgMax ? DType.Int32 : DType.Float32);
        if (y.Count == 0) return y;
        if (n == 0)
        {
            x.Backend.Fill(y.Buffer, y.Count, op == ReduceOp.Sum ? 0f : float.NaN);
            return y;
        }
        var dense = Dense(x, out bool copied);
        try
        {
            x.Backend.Reduce(op, dense.Buffer, y.Buffer, outer, n, inner);
        }
        finally
        {
            if (copied) dense.Dispose();
        }
        return y;
    }
}
