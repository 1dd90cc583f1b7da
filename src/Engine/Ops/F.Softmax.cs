namespace Engine;

// Softmax and log-softmax along one dimension:
//   softmax(x)_i = exp(x_i - max x) / sum_j exp(x_j - max x)
//   logsoftmax(x)_i = x_i - max x - log sum_j exp(x_j - max x)
// The kernel works on rows of the last dimension; another dimension is moved last and back.
public static partial class F
{
    /// <summary>Softmax along <paramref name="dim"/> (default: the last).</summary>
    public static Tensor Softmax(Tensor x, int dim = -1) => SoftmaxCore(x, dim, log: false, "Softmax");

    /// <summary>Log-softmax along <paramref name="dim"/> (default: the last).</summary>
    public static Tensor LogSoftmax(Tensor x, int dim = -1) => SoftmaxCore(x, dim, log: true, "LogSoftmax");

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
