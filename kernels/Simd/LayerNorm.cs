using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Engine.Kernels.Simd;

// Layer norm over the last axis of contiguous x [rows, cols]:
//   mean[r] = (1/cols) sum_j x[r, j]
//   var[r]  = (1/cols) sum_j (x[r, j] - mean[r])^2          (biased)
//   rstd[r] = 1 / sqrt(var[r] + eps)
//   y[r, j] = (x[r, j] - mean[r]) * rstd[r] * gamma[j] + beta[j]   (gamma = 1, beta = 0 when null)
// Three passes over each row, which stays in L1/L2 after the first: a first mean m0 = sum / cols;
// then, with d = x - m0, the sums of d and d^2 (corrected two-pass algorithm: the float rounding
// of m0 is taken back out, mean = m0 + sum(d) / cols and var = sum(d^2) / cols - (sum(d) / cols)^2,
// so neither a large mean next to a small spread nor the rounding of m0 costs accuracy); then
// the write. Sums use four register accumulators per pass.
public static unsafe class LayerNorm
{
    /// <summary>Most partial rows of the column sums.</summary>
    private const int MaxRowBlocks = 64;
    /// <summary>Fewest rows per block, so small inputs do not pay for many partial rows.</summary>
    private const int MinBlockRows = 16;
    /// <summary>Columns per unit of work when the partial rows are added up.</summary>
    private const int TotalChunkColumns = 256;

    public static void Forward(float* x, float* gamma, float* beta, float* y, float* mean, float* rstd, int rows, int cols, float eps)
    {
        if (SimdWidth.Use512) Forward<Vector512Float>(x, gamma, beta, y, mean, rstd, rows, cols, eps);
        else if (Vector256.IsHardwareAccelerated) Forward<Vector256Float>(x, gamma, beta, y, mean, rstd, rows, cols, eps);
        else Forward<Vector128Float>(x, gamma, beta, y, mean, rstd, rows, cols, eps);
    }

    private static void Forward<V>(float* x, float* gamma, float* beta, float* y, float* mean, float* rstd, int rows, int cols, float eps)
        where V : unmanaged, IFloatVector<V>
    {
        if (gamma != null && beta != null) Parallelism.ForRows(rows, cols, new Rows<V, Given, Given>(x, gamma, beta, y, mean, rstd, cols, eps));
        else if (gamma != null) Parallelism.ForRows(rows, cols, new Rows<V, Given, Absent>(x, gamma, beta, y, mean, rstd, cols, eps));
        else if (beta != null) Parallelism.ForRows(rows, cols, new Rows<V, Absent, Given>(x, gamma, beta, y, mean, rstd, cols, eps));
        else Parallelism.ForRows(rows, cols, new Rows<V, Absent, Absent>(x, gamma, beta, y, mean, rstd, cols, eps));
    }

    private readonly struct Rows<V, TGamma, TBeta>(float* x, float* gamma, float* beta, float* y, float* mean, float* rstd, int cols, float eps) : IRowKernel
        where V : unmanaged, IFloatVector<V> where TGamma : struct, IAffineParameter where TBeta : struct, IAffineParameter
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int start, int end)
        {
            for (int r = start; r < end; r++)
            {
                float* row = x + (long)r * cols;
                float firstMean = Sum(row) / cols;
                Deviations(row, firstMean, out float deviationSum, out float squareSum);
                float meanCorrection = deviationSum / cols;
                float rowMean = firstMean + meanCorrection;
                float variance = MathF.Max(squareSum / cols - meanCorrection * meanCorrection, 0f);
                float rowRstd = 1f / MathF.Sqrt(variance + eps);
                mean[r] = rowMean;
                rstd[r] = rowRstd;
                Normalize(row, y + (long)r * cols, V.Splat(rowMean), V.Splat(rowRstd));
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private float Sum(float* row)
        {
            V s0 = V.Splat(0f), s1 = s0, s2 = s0, s3 = s0;
            int w = V.Count, i = 0;
            for (; i <= cols - 4 * w; i += 4 * w)
            {
                s0 += V.Load(row + i);
                s1 += V.Load(row + i + w);
                s2 += V.Load(row + i + 2 * w);
                s3 += V.Load(row + i + 3 * w);
            }
            for (; i <= cols - w; i += w) s0 += V.Load(row + i);
            if (i < cols) s1 += Lanes.LoadPartial<V>(row + i, cols - i, 0f);
            return V.SumLanes((s0 + s1) + (s2 + s3));
        }

        /// <summary>sum_j d_j and sum_j d_j^2 for d_j = row[j] - center (padding lanes hold the center: d = 0).</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void Deviations(float* row, float center, out float sum, out float squareSum)
        {
            V c = V.Splat(center);
            V s0 = V.Splat(0f), s1 = s0, q0 = s0, q1 = s0;
            int w = V.Count, i = 0;
            for (; i <= cols - 2 * w; i += 2 * w)
            {
                V d0 = V.Load(row + i) - c, d1 = V.Load(row + i + w) - c;
                s0 += d0;
                s1 += d1;
                q0 = V.MultiplyAdd(d0, d0, q0);
                q1 = V.MultiplyAdd(d1, d1, q1);
            }
            for (; i < cols; i += w)
            {
                V d = (i <= cols - w ? V.Load(row + i) : Lanes.LoadPartial<V>(row + i, cols - i, center)) - c;
                s0 += d;
                q0 = V.MultiplyAdd(d, d, q0);
            }
            sum = V.SumLanes(s0 + s1);
            squareSum = V.SumLanes(q0 + q1);
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void Normalize(float* row, float* destination, V center, V scale)
        {
            int w = V.Count, i = 0;
            for (; i <= cols - 2 * w; i += 2 * w)
            {
                V n0 = (V.Load(row + i) - center) * scale;
                V n1 = (V.Load(row + i + w) - center) * scale;
                V.Store(V.MultiplyAdd(n0, TGamma.Read<V>(gamma, i, 1f), TBeta.Read<V>(beta, i, 0f)), destination + i);
                V.Store(V.MultiplyAdd(n1, TGamma.Read<V>(gamma, i + w, 1f), TBeta.Read<V>(beta, i + w, 0f)), destination + i + w);
            }
            for (; i <= cols - w; i += w)
            {
                V n = (V.Load(row + i) - center) * scale;
                V.Store(V.MultiplyAdd(n, TGamma.Read<V>(gamma, i, 1f), TBeta.Read<V>(beta, i, 0f)), destination + i);
            }
            if (i < cols)
            {
                int count = cols - i;
                V n = (Lanes.LoadPartial<V>(row + i, count, 0f) - center) * scale;
                V g = TGamma.ReadPartial<V>(gamma, i, count, 1f), b = TBeta.ReadPartial<V>(beta, i, count, 0f);
                Lanes.StorePartial(V.MultiplyAdd(n, g, b), destination + i, count);
            }
        }
    }

    // Gradient over [rows, cols] from the saved mean and rstd [rows]:
    //   xhat[r, j] = (x[r, j] - mean[r]) * rstd[r],   g[r, j] = dy[r, j] * gamma[j]   (dy when gamma is null)
    //   dx[r, j]   = rstd[r] * ((g - mean_j g) - xhat * mean_j(g * xhat))
    //   dgamma[j]  = sum_r dy[r, j] * xhat[r, j],     dbeta[j] = sum_r dy[r, j]      (when not null)
    // Two walks per row, which stays in cache after the first: the sums of g and g * xhat, then
    // dx. The column sums do not depend on the thread count or timing: the rows are cut into at
    // most MaxRowBlocks blocks by their count alone, each block adds its rows in order into its
    // own partial row (within the dx walk), and the partial rows are then added in block order,
    // column chunks in parallel.
    public static void Backward(float* x, float* gamma, float* mean, float* rstd, float* dy, float* dx, float* dgamma, float* dbeta, int rows, int cols)
    {
        if (SimdWidth.Use512) Backward<Vector512Float>(x, gamma, mean, rstd, dy, dx, dgamma, dbeta, rows, cols);
        else if (Vector256.IsHardwareAccelerated) Backward<Vector256Float>(x, gamma, mean, rstd, dy, dx, dgamma, dbeta, rows, cols);
        else Backward<Vector128Float>(x, gamma, mean, rstd, dy, dx, dgamma, dbeta, rows, cols);
    }

    private static void Backward<V>(float* x, float* gamma, float* mean, float* rstd, float* dy, float* dx, float* dgamma, float* dbeta, int rows, int cols)
        where V : unmanaged, IFloatVector<V>
    {
        int blocks = Math.Clamp((rows + MinBlockRows - 1) / MinBlockRows, 1, MaxRowBlocks);
        int blockRows = Math.Max(1, (rows + blocks - 1) / blocks);
        blocks = Math.Max(1, (rows + blockRows - 1) / blockRows);
        long partialLength = (long)blocks * cols;
        float* partials = (float*)NativeMemory.AlignedAlloc((nuint)(((dgamma != null ? 1 : 0) + (dbeta != null ? 1 : 0)) * partialLength * sizeof(float)), 64);
        try
        {
            float* partialGamma = dgamma != null ? partials : null;
            float* partialBeta = dbeta != null ? partials + (dgamma != null ? partialLength : 0) : null;
            if (gamma != null) Parallelism.ForRows(blocks, (long)blockRows * cols, new GradientBlocks<V, Given>(x, gamma, mean, rstd, dy, dx, partialGamma, partialBeta, rows, cols, blockRows));
            else Parallelism.ForRows(blocks, (long)blockRows * cols, new GradientBlocks<V, Absent>(x, gamma, mean, rstd, dy, dx, partialGamma, partialBeta, rows, cols, blockRows));
            if (dgamma != null || dbeta != null)
            {
                int chunks = (cols + TotalChunkColumns - 1) / TotalChunkColumns;
                Parallelism.ForRows(chunks, (long)blocks * TotalChunkColumns, new PartialTotals<V>(partialGamma, partialBeta, dgamma, dbeta, blocks, cols));
            }
        }
        finally
        {
            NativeMemory.AlignedFree(partials);
        }
    }

    /// <summary>Blocks [start, end) of <paramref name="blockRows"/> rows: dx, and each block's partial column sums.</summary>
    private readonly struct GradientBlocks<V, TGamma>(float* x, float* gamma, float* mean, float* rstd, float* dy, float* dx,
        float* partialGamma, float* partialBeta, int rows, int cols, int blockRows) : IRowKernel
        where V : unmanaged, IFloatVector<V> where TGamma : struct, IAffineParameter
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int start, int end)
        {
            for (int block = start; block < end; block++)
            {
                float* blockGamma = partialGamma != null ? partialGamma + (long)block * cols : null;
                float* blockBeta = partialBeta != null ? partialBeta + (long)block * cols : null;
                if (blockGamma != null) new Span<float>(blockGamma, cols).Clear();
                if (blockBeta != null) new Span<float>(blockBeta, cols).Clear();
                int last = Math.Min(rows, (block + 1) * blockRows);
                for (int r = block * blockRows; r < last; r++) Row(r, blockGamma, blockBeta);
            }
        }

        private void Row(int r, float* blockGamma, float* blockBeta)
        {
            long offset = (long)r * cols;
            V center = V.Splat(mean[r]), scale = V.Splat(rstd[r]);
            Sums(x + offset, dy + offset, center, scale, out float sum, out float weightedSum);
            Write(x + offset, dy + offset, dx + offset, blockGamma, blockBeta, center, scale, V.Splat(sum / cols), V.Splat(weightedSum / cols));
        }

        /// <summary>sum_j g_j and sum_j g_j xhat_j (padding lanes have dy = 0, so g = 0).</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void Sums(float* row, float* gradient, V center, V scale, out float sum, out float weightedSum)
        {
            V s0 = V.Splat(0f), s1 = s0, q0 = s0, q1 = s0;
            int w = V.Count, i = 0;
            for (; i <= cols - 2 * w; i += 2 * w)
            {
                V g0 = V.Load(gradient + i) * TGamma.Read<V>(gamma, i, 1f);
                V g1 = V.Load(gradient + i + w) * TGamma.Read<V>(gamma, i + w, 1f);
                s0 += g0;
                s1 += g1;
                q0 = V.MultiplyAdd(g0, (V.Load(row + i) - center) * scale, q0);
                q1 = V.MultiplyAdd(g1, (V.Load(row + i + w) - center) * scale, q1);
            }
            for (; i < cols; i += w)
            {
                int count = Math.Min(w, cols - i);
                V g = count == w ? V.Load(gradient + i) * TGamma.Read<V>(gamma, i, 1f)
                    : Lanes.LoadPartial<V>(gradient + i, count, 0f) * TGamma.ReadPartial<V>(gamma, i, count, 1f);
                V normalized = ((count == w ? V.Load(row + i) : Lanes.LoadPartial<V>(row + i, count, 0f)) - center) * scale;
                s0 += g;
                q0 = V.MultiplyAdd(g, normalized, q0);
            }
            sum = V.SumLanes(s0 + s1);
            weightedSum = V.SumLanes(q0 + q1);
        }

        /// <summary>dx = rstd * ((g - meanG) - xhat * meanGX); adds dy * xhat and dy into the block's partial rows.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void Write(float* row, float* gradient, float* destination, float* blockGamma, float* blockBeta, V center, V scale, V meanG, V meanGX)
        {
            int w = V.Count;
            for (int i = 0; i < cols; i += w)
            {
                int count = Math.Min(w, cols - i);
                V d = count == w ? V.Load(gradient + i) : Lanes.LoadPartial<V>(gradient + i, count, 0f);
                V g = d * (count == w ? TGamma.Read<V>(gamma, i, 1f) : TGamma.ReadPartial<V>(gamma, i, count, 1f));
                V normalized = ((count == w ? V.Load(row + i) : Lanes.LoadPartial<V>(row + i, count, 0f)) - center) * scale;
                V result = scale * ((g - meanG) - normalized * meanGX);
                if (count == w)
                {
                    V.Store(result, destination + i);
                    if (blockGamma != null) V.Store(V.MultiplyAdd(d, normalized, V.Load(blockGamma + i)), blockGamma + i);
                    if (blockBeta != null) V.Store(V.Load(blockBeta + i) + d, blockBeta + i);
                }
                else
                {
                    Lanes.StorePartial(result, destination + i, count);
                    if (blockGamma != null) Lanes.StorePartial(V.MultiplyAdd(d, normalized, Lanes.LoadPartial<V>(blockGamma + i, count, 0f)), blockGamma + i, count);
                    if (blockBeta != null) Lanes.StorePartial(Lanes.LoadPartial<V>(blockBeta + i, count, 0f) + d, blockBeta + i, count);
                }
            }
        }
    }

    /// <summary>Column chunks [start, end): dgamma and dbeta as the sums of the blocks' partial rows, in block order.</summary>
    private readonly struct PartialTotals<V>(float* partialGamma, float* partialBeta, float* dgamma, float* dbeta, int blocks, int cols) : IRowKernel
        where V : unmanaged, IFloatVector<V>
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int start, int end)
        {
            int last = Math.Min(cols, end * TotalChunkColumns);
            if (dgamma != null) AddBlocks(partialGamma, dgamma, start * TotalChunkColumns, last);
            if (dbeta != null) AddBlocks(partialBeta, dbeta, start * TotalChunkColumns, last);
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void AddBlocks(float* partial, float* total, int first, int last)
        {
            int w = V.Count;
            for (int j = first; j < last; j += w)
            {
                int count = Math.Min(w, last - j);
                V sum = V.Splat(0f);
                for (int block = 0; block < blocks; block++)
                {
                    float* source = partial + (long)block * cols + j;
                    sum += count == w ? V.Load(source) : Lanes.LoadPartial<V>(source, count, 0f);
                }
                if (count == w) V.Store(sum, total + j);
                else Lanes.StorePartial(sum, total + j, count);
            }
        }
    }

    /// <summary>gamma or beta: read from memory when given, a constant when absent.</summary>
    private interface IAffineParameter
    {
        static abstract V Read<V>(float* values, int i, float absent) where V : unmanaged, IFloatVector<V>;
        static abstract V ReadPartial<V>(float* values, int i, int count, float absent) where V : unmanaged, IFloatVector<V>;
    }

    private struct Given : IAffineParameter
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static V Read<V>(float* values, int i, float absent) where V : unmanaged, IFloatVector<V> => V.Load(values + i);
        public static V ReadPartial<V>(float* values, int i, int count, float absent) where V : unmanaged, IFloatVector<V> => Lanes.LoadPartial<V>(values + i, count, absent);
    }

    private struct Absent : IAffineParameter
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static V Read<V>(float* values, int i, float absent) where V : unmanaged, IFloatVector<V> => V.Splat(absent);
        public static V ReadPartial<V>(float* values, int i, int count, float absent) where V : unmanaged, IFloatVector<V> => V.Splat(absent);
    }
}
