using ILGPU;

namespace Engine.Kernels.Ilgpu;

/// <summary>
/// Row-wise softmax and log-softmax of contiguous x [rows, cols]:
///   m = max_j x[r, j], s = sum_j exp(x[r, j] - m),
///   softmax: y[r, j] = exp(x[r, j] - m) / s,   log-softmax: y[r, j] = x[r, j] - m - log s.
///
/// One pass computes (m, s) online: each thread keeps its own running (max, sum), rescaling
/// its sum when the max grows (<see cref="GroupReduce.AccumulateMaxSumExp"/>), so x is read
/// twice in all (statistics, then output) instead of three times. The per-thread states meet
/// in a shared-memory tree. A row of all -inf gives m = -inf, s = 0 and NaN outputs, as torch.
///
/// Launch: group (T, R), T threads per row (power of two), R rows per group; thread tx handles
/// columns tx, tx + T, ... (coalesced). Grid: ceil(rows / R). <see cref="Backward"/> runs the
/// same shape.
/// </summary>
public static class Softmax
{
    /// <summary>
    /// The softmax kernel; log-softmax when <paramref name="log"/> is nonzero (an int, since ILGPU
    /// kernel parameters cannot be bool).
    /// </summary>
    public static void Forward(ArrayView<float> x, ArrayView<float> y, int rows, int cols, int log)
    {
        var maxima = SharedMemory.Allocate<float>(GroupReduce.MaxGroupSize);
        var sums = SharedMemory.Allocate<float>(GroupReduce.MaxGroupSize);
        int lanes = Group.DimX;
        int lane = Group.IdxX;
        int row = Grid.IdxX * Group.DimY + Group.IdxY;
        bool active = row < rows;
        long start = (long)row * cols;

        float max = float.NegativeInfinity;
        float sum = 0f;
        if (active)
            for (int j = lane; j < cols; j += lanes)
                GroupReduce.AccumulateMaxSumExp(x[start + j], ref max, ref sum);
        GroupReduce.MaxSumExp(maxima, sums, ref max, ref sum, lane, lanes, Group.IdxY * lanes, 1);

        if (!active)
            return;
        if (log != 0)
        {
            float logSum = MathF.Log(sum);
            for (int j = lane; j < cols; j += lanes)
                y[start + j] = x[start + j] - max - logSum;
        }
        else
        {
            for (int j = lane; j < cols; j += lanes)
                y[start + j] = MathF.Exp(x[start + j] - max) / sum;
        }
    }

    /// <summary>
    /// The gradient of (log-)softmax from its output y, per row r:
    ///   softmax:     s = sum_j dy[r, j] y[r, j],  dx[r, j] = y[r, j] (dy[r, j] - s);
    ///   log-softmax: s = sum_j dy[r, j],          dx[r, j] = dy[r, j] - exp(y[r, j]) s.
    /// Log-softmax when <paramref name="log"/> is nonzero (an int, as in <see cref="Forward"/>).
    /// </summary>
    /// <remarks>
    /// Shapes: y, dy, dx contiguous [rows, cols]. Launch as <see cref="Forward"/>: group (T, R),
    /// T threads per row (power of two), R rows per group, thread tx handles columns tx, tx + T, ...;
    /// each thread's compensated partial of s meets the others in a shared-memory tree
    /// (<see cref="GroupReduce.Sum"/>), then the row is written. Grid: ceil(rows / R).
    /// </remarks>
    public static void Backward(ArrayView<float> y, ArrayView<float> dy, ArrayView<float> dx, int rows, int cols, int log)
    {
        var scratch = SharedMemory.Allocate<float>(GroupReduce.MaxGroupSize);
        int lanes = Group.DimX;
        int lane = Group.IdxX;
        int row = Grid.IdxX * Group.DimY + Group.IdxY;
        bool active = row < rows;
        long start = (long)row * cols;

        var partial = new GroupReduce.CompensatedSum();
        if (active)
            for (int j = lane; j < cols; j += lanes)
                partial.Add(log != 0 ? dy[start + j] : dy[start + j] * y[start + j]);
        float s = GroupReduce.Sum(scratch, partial.Value, lane, lanes, Group.IdxY * lanes, 1);

        if (!active)
            return;
        if (log != 0)
        {
            for (int j = lane; j < cols; j += lanes)
                dx[start + j] = dy[start + j] - MathF.Exp(y[start + j]) * s;
        }
        else
        {
            for (int j = lane; j < cols; j += lanes)
                dx[start + j] = y[start + j] * (dy[start + j] - s);
        }
    }
}
