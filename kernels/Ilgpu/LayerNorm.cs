using ILGPU;

namespace Engine.Kernels.Ilgpu;

/// <summary>
/// Layer norm over the last axis of contiguous x [rows, cols]:
///   mean = sum_j x[r, j] / cols,  var = sum_j (x[r, j] - mean)^2 / cols  (biased),
///   rstd = 1 / sqrt(var + eps),   y[r, j] = (x[r, j] - mean) * rstd * gamma[j] + beta[j],
/// with mean [rows] and rstd [rows] saved for the backward. gamma and beta [cols] are optional.
///
/// The variance is taken in a second pass around the mean (not as E[x^2] - mean^2), which
/// keeps it accurate when |mean| is large against the spread; both sums are compensated
/// (<see cref="GroupReduce.CompensatedSum"/>), so a thread's long share of a row adds no drift.
///
/// Launch: group (T, R), T threads per row (power of two), R rows per group; thread tx handles
/// columns tx, tx + T, ... (coalesced), the T partial sums meet in a shared-memory tree.
/// Grid: ceil(rows / R).
/// </summary>
public static class LayerNorm
{
    /// <summary>The layer norm kernel. gamma/beta are read only when their flags are nonzero (ints: ILGPU kernel parameters cannot be bool).</summary>
    public static void Forward(ArrayView<float> x, ArrayView<float> gamma, ArrayView<float> beta, ArrayView<float> y,
        ArrayView<float> mean, ArrayView<float> rstd, int rows, int cols, float eps, int hasGamma, int hasBeta)
    {
        var scratch = SharedMemory.Allocate<float>(GroupReduce.MaxGroupSize);
        int lanes = Group.DimX;
        int lane = Group.IdxX;
        int first = Group.IdxY * lanes;
        int row = Grid.IdxX * Group.DimY + Group.IdxY;
        bool active = row < rows;
        long start = (long)row * cols;

        var sum = new GroupReduce.CompensatedSum();
        if (active)
            for (int j = lane; j < cols; j += lanes)
                sum.Add(x[start + j]);
        float mu = GroupReduce.Sum(scratch, sum.Value, lane, lanes, first, 1) / cols;

        var squares = new GroupReduce.CompensatedSum();
        if (active)
            for (int j = lane; j < cols; j += lanes)
            {
                float d = x[start + j] - mu;
                squares.Add(d * d);
            }
        float variance = GroupReduce.Sum(scratch, squares.Value, lane, lanes, first, 1) / cols;
        float r = 1f / MathF.Sqrt(variance + eps);

        if (!active)
            return;
        if (lane == 0)
        {
            mean[row] = mu;
            rstd[row] = r;
        }
        for (int j = lane; j < cols; j += lanes)
        {
            float v = (x[start + j] - mu) * r;
            if (hasGamma != 0)
                v *= gamma[j];
            if (hasBeta != 0)
                v += beta[j];
            y[start + j] = v;
        }
    }
}
