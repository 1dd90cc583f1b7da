using System.Runtime.CompilerServices;
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
    public static void Forward(float* x, float* gamma, float* beta, float* y, float* mean, float* rstd, int rows, int cols, float eps)
    {
        if (Vector512.IsHardwareAccelerated) Forward<Vector512Float>(x, gamma, beta, y, mean, rstd, rows, cols, eps);
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
