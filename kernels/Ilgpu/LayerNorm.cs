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
/// Grid: ceil(rows / R). <see cref="Backward"/> (dx) runs the same shape;
/// <see cref="GammaBetaBackward"/> (dgamma, dbeta) runs one thread per column.
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

    /// <summary>
    /// The input gradient, per row r from the saved mean and rstd: with
    /// xhat = (x[r, j] - mean[r]) * rstd[r] and g = dy[r, j] * gamma[j] (g = dy without gamma),
    ///   dx[r, j] = rstd[r] * ((g - mean_j g) - xhat * mean_j(g * xhat)).
    /// gamma is read only when <paramref name="hasGamma"/> is nonzero.
    /// </summary>
    /// <remarks>
    /// Shapes: x, dy, dx contiguous [rows, cols]; mean, rstd [rows]; gamma [cols]. Launch as
    /// <see cref="Forward"/>: group (T, R), T threads per row (power of two), R rows per group;
    /// thread tx handles columns tx, tx + T, ...; the compensated partial sums of g and g * xhat
    /// meet in two shared-memory trees, then the row is written. Grid: ceil(rows / R).
    /// dgamma and dbeta come from <see cref="GammaBetaBackward"/>.
    /// </remarks>
    public static void Backward(ArrayView<float> x, ArrayView<float> gamma, ArrayView<float> mean, ArrayView<float> rstd,
        ArrayView<float> dy, ArrayView<float> dx, int rows, int cols, int hasGamma)
    {
        var scratch = SharedMemory.Allocate<float>(GroupReduce.MaxGroupSize);
        int lanes = Group.DimX;
        int lane = Group.IdxX;
        int first = Group.IdxY * lanes;
        int row = Grid.IdxX * Group.DimY + Group.IdxY;
        bool active = row < rows;
        long start = (long)row * cols;
        float mu = active ? mean[row] : 0f;
        float r = active ? rstd[row] : 0f;

        var sumG = new GroupReduce.CompensatedSum();
        var sumGXhat = new GroupReduce.CompensatedSum();
        if (active)
            for (int j = lane; j < cols; j += lanes)
            {
                float g = hasGamma != 0 ? dy[start + j] * gamma[j] : dy[start + j];
                sumG.Add(g);
                sumGXhat.Add(g * ((x[start + j] - mu) * r));
            }
        float meanG = GroupReduce.Sum(scratch, sumG.Value, lane, lanes, first, 1) / cols;
        float meanGXhat = GroupReduce.Sum(scratch, sumGXhat.Value, lane, lanes, first, 1) / cols;

        if (!active)
            return;
        for (int j = lane; j < cols; j += lanes)
        {
            float g = hasGamma != 0 ? dy[start + j] * gamma[j] : dy[start + j];
            float xhat = (x[start + j] - mu) * r;
            dx[start + j] = r * ((g - meanG) - xhat * meanGXhat);
        }
    }

    /// <summary>
    /// The parameter gradients, column sums over the rows in increasing order:
    ///   dgamma[j] = sum_r dy[r, j] * xhat[r, j],  dbeta[j] = sum_r dy[r, j],
    /// xhat as in <see cref="Backward"/>; each written only when its flag is nonzero (rows = 0 gives zeros).
    /// </summary>
    /// <remarks>
    /// Shapes: x, dy contiguous [rows, cols]; mean, rstd [rows]; dgamma, dbeta [cols]. Launch: 1-D,
    /// any group size, one thread per column j in a grid-stride loop; the thread walks the rows
    /// in order with a compensated running sum, so the result does not depend on the launch
    /// (no atomics, bitwise reproducible) and consecutive threads read consecutive elements of a row.
    /// </remarks>
    public static void GammaBetaBackward(ArrayView<float> x, ArrayView<float> mean, ArrayView<float> rstd,
        ArrayView<float> dy, ArrayView<float> dgamma, ArrayView<float> dbeta, int rows, int cols, int hasGamma, int hasBeta)
    {
        int stride = Grid.DimX * Group.DimX;
        for (int j = Grid.GlobalIndex.X; j < cols; j += stride)
        {
            var sumGamma = new GroupReduce.CompensatedSum();
            var sumBeta = new GroupReduce.CompensatedSum();
            for (int row = 0; row < rows; row++)
            {
                long at = (long)row * cols + j;
                float g = dy[at];
                if (hasGamma != 0)
                    sumGamma.Add(g * ((x[at] - mean[row]) * rstd[row]));
                if (hasBeta != 0)
                    sumBeta.Add(g);
            }
            if (hasGamma != 0)
                dgamma[j] = sumGamma.Value;
            if (hasBeta != 0)
                dbeta[j] = sumBeta.Value;
        }
    }
}
