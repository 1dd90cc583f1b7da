namespace Engine;

// Softmax and log-softmax along one dimension:
//   softmax(x)_i = exp(x_i - max x) / sum_j exp(x_j - max x)
//   logsoftmax(x)_i = x_i - max x - log sum_j exp(x_j - max x)
// The kernel works on rows of the last dimension; another dimension is moved last and back.
// Backward from the output y: softmax dx = y * (dy - sum_j dy_j y_j); log-softmax dx = dy - exp(y) sum_j dy_j.
public static partial class F
{
    /// <summary>Softmax along <paramref name="dim"/> (default: the last).</summary>
    public static Tensor Softmax(Tensor x, int dim = -1) => SoftmaxRecorded(x, dim, log: false, "Softmax");

    /// <summary>Log-softmax along <paramref name="dim"/> (default: the last).</summary>
    public static Tensor LogSoftmax(Tensor x, int dim = -1) => SoftmaxRecorded(x, dim, log: true, "LogSoftmax");

    private static Tensor SoftmaxRecorded(Tensor x, int dim, bool log, string name)
    {
        Tensor y;
        using (Autograd.Pause())
            y = SoftmaxCore(x, dim, log, name);
        if (Autograd.Needs(x))
        {
            var saved = Autograd.Save(y);
            int d = x.Rank == 0 ? 0 : ShapeMath.NormalizeDim(dim, x.Rank, name);
            Autograd.Record(name, y, [x], g => [SoftmaxGrad(saved, g, d, log)], saved);
        }
        return y;
    }

    private static Tensor SoftmaxGrad(Tensor y, Tensor dy, int d, bool log)
    {
        using var scope = y.Device.Scope();
        if (y.Rank == 0)
            return scope.Keep(SoftmaxGrad(y.Reshape(1), dy.Reshape(1), 0, log).Reshape());
        if (d != y.Rank - 1)
        {
            var moved = SoftmaxGrad(y.Transpose(d, -1).Contiguous(), dy.Transpose(d, -1).Contiguous(), y.Rank - 1, log);
            return scope.Keep(moved.Transpose(d, -1).Contiguous());
        }
        var yd = Dense(y, out _);
        var dyd = Dense(dy, out _);
        var dx = scope.Keep(Tensor.Empty(y.Device, y.Shape));
        if (dx.Count == 0) return dx;
        int cols = y.Size(-1);
        y.Backend.SoftmaxBackward(yd.Buffer, dyd.Buffer, dx.Buffer, (int)(y.Count / cols), cols, log);
        return dx;
    }

    private static Tensor SoftmaxCore(Tensor x, int dim, bool log, string name)
    {
        Checks.Float(name, x);
        if (x.Rank == 0)
        {
            using var one = x.Reshape(1);
            using var r = SoftmaxCore(one, 0, log, name);
            return r.Reshape();
        }
        int d = ShapeMath.NormalizeDim(dim, x.Rank, name);
        if (d != x.Rank - 1)
        {
            using var moved = x.Transpose(d, -1);
            using var result = SoftmaxCore(moved, -1, log, name);
            using var back = result.Transpose(d, -1);
            return back.Contiguous();
        }
        var y = Tensor.Empty(x.Device, x.Shape);
        if (y.Count == 0) return y;
        int cols = x.Size(-1);
        int rows = (int)(x.Count / cols);
        var dense = Dense(x, out bool copied);
        try
        {
            x.Backend.Softmax(dense.Buffer, y.Buffer, rows, cols, log);
        }
        finally
        {
            if (copied) dense.Dispose();
        }
        return y;
    }
}
