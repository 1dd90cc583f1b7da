using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Engine.Kernels.Simd;

// Row-wise softmax and log-softmax of contiguous x [rows, cols] into y [rows, cols]:
//   m = max_j x[r, j],  s = sum_j exp(x[r, j] - m)
//   softmax:     y[r, j] = exp(x[r, j] - m) / s
//   log-softmax: y[r, j] = (x[r, j] - m) - log s
// Memory sees each row twice: once read, once written. How the row is walked depends on its size:
// - A row that fits in L2 (cols <= CacheResidentCols) is walked three times: the maximum (one
//   instruction per register), then the exponentials (stored into y for softmax) and their sum,
//   then the scaling of y (or the log-probabilities). Only the first walk reaches DRAM, and each
//   element costs one exp, the dominant cost where the vector units are narrow.
// - A longer row is walked twice, so it leaves DRAM only once: an online pass keeps per lane a
//   running maximum and a sum of exponentials relative to it, rescaling the sum (once per block
//   of four registers, and only when a lane maximum rose), then the write pass.
// Sums are compensated (Kahan) so s stays within a few ulp however long the row. The maxima use
// the one-instruction hardware max, which may drop a NaN, but a NaN entry always makes its
// exponential and so s and the whole row NaN. -inf entries contribute 0; a row of all -inf gives
// NaN (its max is -inf and -inf - -inf is NaN), and +inf or NaN entries give NaN rows, as torch.
public static unsafe class Softmax
{
    /// <summary>Rows up to this many floats (256 KB) are expected to stay in L2 between walks.</summary>
    internal const int CacheResidentCols = 1 << 16;

    public static void Forward(float* x, float* y, int rows, int cols, bool log)
    {
        if (SimdWidth.Use512) Parallelism.ForRows(rows, cols, new Rows<Vector512Float>(x, y, cols, log));
        else if (Vector256.IsHardwareAccelerated) Parallelism.ForRows(rows, cols, new Rows<Vector256Float>(x, y, cols, log));
        else Parallelism.ForRows(rows, cols, new Rows<Vector128Float>(x, y, cols, log));
    }

    private readonly struct Rows<V>(float* x, float* y, int cols, bool log) : IRowKernel where V : unmanaged, IFloatVector<V>
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int start, int end)
        {
            for (int r = start; r < end; r++)
            {
                float* source = x + (long)r * cols;
                float* destination = y + (long)r * cols;
                if (!log) ScaledRow<V>(source, destination, cols, 1f);
                else
                {
                    MaxAndSum<V>(source, cols, out float max, out float sum);
                    WriteLogProbabilities(source, destination, max, MathF.Log(sum));
                }
            }
        }

        /// <summary>y = (x - max) - log(sum): x - max is exact near the maximum, so the largest log-probabilities keep their digits.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void WriteLogProbabilities(float* source, float* destination, float max, float logSum)
        {
            V shift = V.Splat(max), logNormalizer = V.Splat(logSum);
            int w = V.Count, i = 0;
            for (; i <= cols - w; i += w) V.Store((V.Load(source + i) - shift) - logNormalizer, destination + i);
            if (i < cols) Lanes.StorePartial((Lanes.LoadPartial<V>(source + i, cols - i, 0f) - shift) - logNormalizer, destination + i, cols - i);
        }
    }

    /// <summary>
    /// destination = scale * softmax(source) for one row: the walks of <see cref="Forward"/>
    /// (scale 1 there; <see cref="CrossEntropy"/>'s gradient scales by the loss gradient).
    /// </summary>
    internal static void ScaledRow<V>(float* source, float* destination, int cols, float scale) where V : unmanaged, IFloatVector<V>
    {
        if (cols <= CacheResidentCols)
        {
            float max = RowMax<V>(source, cols);
            float sum = SumOfExponentials<V>(source, cols, max, destination);
            Scale<V>(destination, cols, scale / sum);
        }
        else
        {
            OnlineMaxAndSum<V>(source, cols, out float max, out float sum);
            WriteExponentials<V>(source, destination, cols, max, scale / sum);
        }
    }

    /// <summary>row *= factor, in place.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Scale<V>(float* row, int cols, float factor) where V : unmanaged, IFloatVector<V>
    {
        V f = V.Splat(factor);
        int w = V.Count, i = 0;
        for (; i <= cols - w; i += w) V.Store(V.Load(row + i) * f, row + i);
        if (i < cols) Lanes.StorePartial(Lanes.LoadPartial<V>(row + i, cols - i, 0f) * f, row + i, cols - i);
    }

    /// <summary>y = exp(x - max) * factor.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void WriteExponentials<V>(float* source, float* destination, int cols, float max, float factor) where V : unmanaged, IFloatVector<V>
    {
        V shift = V.Splat(max), scale = V.Splat(factor);
        int w = V.Count, i = 0;
        for (; i <= cols - 2 * w; i += 2 * w)
        {
            V e0 = VectorMath.Exp(V.Load(source + i) - shift);
            V e1 = VectorMath.Exp(V.Load(source + i + w) - shift);
            V.Store(e0 * scale, destination + i);
            V.Store(e1 * scale, destination + i + w);
        }
        for (; i <= cols - w; i += w) V.Store(VectorMath.Exp(V.Load(source + i) - shift) * scale, destination + i);
        if (i < cols)
        {
            V tail = Lanes.LoadPartial<V>(source + i, cols - i, float.NegativeInfinity);
            Lanes.StorePartial(VectorMath.Exp(tail - shift) * scale, destination + i, cols - i);
        }
    }

    /// <summary>
    /// log sum_j exp(row[j]) as (max, sum) with logsumexp = max + log(sum): the walk of
    /// <see cref="Forward"/> without the writes, for <see cref="CrossEntropy"/>.
    /// </summary>
    internal static void MaxAndSum<V>(float* row, int cols, out float max, out float sum) where V : unmanaged, IFloatVector<V>
    {
        if (cols <= CacheResidentCols)
        {
            max = RowMax<V>(row, cols);
            sum = SumOfExponentials<V>(row, cols, max, null);
        }
        else OnlineMaxAndSum<V>(row, cols, out max, out sum);
    }

    /// <summary>max_j row[j] by the hardware max (a NaN may be dropped; the exponentials catch it).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float RowMax<V>(float* row, int cols) where V : unmanaged, IFloatVector<V>
    {
        V m0 = V.Splat(float.NegativeInfinity), m1 = m0, m2 = m0, m3 = m0;
        int w = V.Count, i = 0;
        for (; i <= cols - 4 * w; i += 4 * w)
        {
            m0 = V.MaxFast(m0, V.Load(row + i));
            m1 = V.MaxFast(m1, V.Load(row + i + w));
            m2 = V.MaxFast(m2, V.Load(row + i + 2 * w));
            m3 = V.MaxFast(m3, V.Load(row + i + 3 * w));
        }
        for (; i <= cols - w; i += w) m0 = V.MaxFast(m0, V.Load(row + i));
        if (i < cols) m1 = V.MaxFast(m1, Lanes.LoadPartial<V>(row + i, cols - i, float.NegativeInfinity));
        return V.MaxLane(V.MaxFast(V.MaxFast(m0, m1), V.MaxFast(m2, m3)));
    }

    /// <summary>
    /// sum_j exp(row[j] - max), storing each exponential into <paramref name="exponentials"/>
    /// unless it is null. Blocks of up to 1024 elements are summed in two registers and the block
    /// sums are added with compensation.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float SumOfExponentials<V>(float* row, int cols, float max, float* exponentials) where V : unmanaged, IFloatVector<V>
    {
        const int blockLength = 1024;
        V shift = V.Splat(max), total = V.Splat(0f), compensation = total;
        int w = V.Count;
        for (int block = 0; block < cols; block += blockLength)
        {
            int end = Math.Min(cols, block + blockLength), i = block;
            V s0 = V.Splat(0f), s1 = s0;
            for (; i <= end - 2 * w; i += 2 * w)
            {
                V e0 = VectorMath.Exp(V.Load(row + i) - shift);
                V e1 = VectorMath.Exp(V.Load(row + i + w) - shift);
                if (exponentials != null)
                {
                    V.Store(e0, exponentials + i);
                    V.Store(e1, exponentials + i + w);
                }
                s0 += e0;
                s1 += e1;
            }
            for (; i < end; i += w)
            {
                int count = Math.Min(w, end - i);
                V e = VectorMath.Exp((count == w ? V.Load(row + i) : Lanes.LoadPartial<V>(row + i, count, float.NegativeInfinity)) - shift);
                if (exponentials != null)
                {
                    if (count == w) V.Store(e, exponentials + i);
                    else Lanes.StorePartial(e, exponentials + i, count);
                }
                s0 += e;
            }
            AddCompensated(ref total, ref compensation, V.Splat(1f), s0 + s1);
        }
        return V.SumLanes(total - compensation);
    }

    /// <summary>
    /// One walk over a row: per lane, a running maximum and the sum of exp(x - lane maximum),
    /// rescaled whenever a lane maximum rises; the lanes are merged at the end.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void OnlineMaxAndSum<V>(float* row, int cols, out float max, out float sum) where V : unmanaged, IFloatVector<V>
    {
        // Per lane: running maximum, and sum of exp(x - laneMax) kept as laneSum - compensation.
        V laneMax = V.Splat(float.NegativeInfinity), laneSum = V.Splat(0f), compensation = laneSum;
        int w = V.Count, i = 0;
        for (; i <= cols - 4 * w; i += 4 * w)
        {
            V x0 = V.Load(row + i), x1 = V.Load(row + i + w), x2 = V.Load(row + i + 2 * w), x3 = V.Load(row + i + 3 * w);
            V raised = V.MaxFast(laneMax, V.MaxFast(V.MaxFast(x0, x1), V.MaxFast(x2, x3)));
            V shift = FiniteShift(raised);
            V terms = (VectorMath.Exp(x0 - shift) + VectorMath.Exp(x1 - shift)) + (VectorMath.Exp(x2 - shift) + VectorMath.Exp(x3 - shift));
            // While no lane maximum rises the scale would be exactly 1 (or multiply a zero sum).
            V scale = V.MaskBits(V.GreaterThan(raised, laneMax)) == 0 ? V.Splat(1f) : VectorMath.Exp(laneMax - shift);
            AddCompensated(ref laneSum, ref compensation, scale, terms);
            laneMax = raised;
        }
        for (; i < cols; i += w)
        {
            V x0 = i <= cols - w ? V.Load(row + i) : Lanes.LoadPartial<V>(row + i, cols - i, float.NegativeInfinity);
            V raised = V.MaxFast(laneMax, x0);
            V shift = FiniteShift(raised);
            AddCompensated(ref laneSum, ref compensation, VectorMath.Exp(laneMax - shift), VectorMath.Exp(x0 - shift));
            laneMax = raised;
        }
        max = V.MaxLane(laneMax);
        sum = V.SumLanes((laneSum - compensation) * VectorMath.Exp(laneMax - V.Splat(max)));
    }

    /// <summary>Kahan step with rescaling: (sum - compensation) becomes (sum - compensation) * scale + terms.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AddCompensated<V>(ref V sum, ref V compensation, V scale, V terms) where V : unmanaged, IFloatVector<V>
    {
        V scaled = sum * scale;
        V corrected = terms - compensation * scale;
        V total = scaled + corrected;
        compensation = (total - scaled) - corrected;
        sum = total;
    }

    /// <summary>The lane maxima to subtract, with lanes still at -inf (nothing but -inf seen) shifted by 0 so they stay at exp(-inf) = 0 instead of NaN.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static V FiniteShift<V>(V laneMax) where V : unmanaged, IFloatVector<V> =>
        V.Select(V.Equal(laneMax, V.Splat(float.NegativeInfinity)), V.Splat(0f), laneMax);

    // Gradients, row-wise over [rows, cols] from the forward output y (as torch's
    // _softmax_backward_data and _log_softmax_backward_data):
    //   softmax:     dx[r, j] = y[r, j] * (dy[r, j] - sum_k dy[r, k] y[r, k])
    //   log-softmax: dx[r, j] = dy[r, j] - exp(y[r, j]) * sum_k dy[r, k]
    // Two walks per row: the sum (blocks of 1024 elements in two registers, block sums added with
    // compensation, as SumOfExponentials), then the write; rows in parallel.
    public static void Backward(float* y, float* dy, float* dx, int rows, int cols, bool log)
    {
        if (SimdWidth.Use512) Parallelism.ForRows(rows, cols, new GradientRows<Vector512Float>(y, dy, dx, cols, log));
        else if (Vector256.IsHardwareAccelerated) Parallelism.ForRows(rows, cols, new GradientRows<Vector256Float>(y, dy, dx, cols, log));
        else Parallelism.ForRows(rows, cols, new GradientRows<Vector128Float>(y, dy, dx, cols, log));
    }

    private readonly struct GradientRows<V>(float* y, float* dy, float* dx, int cols, bool log) : IRowKernel where V : unmanaged, IFloatVector<V>
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int start, int end)
        {
            for (int r = start; r < end; r++)
            {
                long offset = (long)r * cols;
                if (log) LogSoftmaxRow(y + offset, dy + offset, dx + offset, SumOfTerms<V, GradientTerm>(y + offset, dy + offset, cols));
                else SoftmaxRow(y + offset, dy + offset, dx + offset, SumOfTerms<V, WeightedGradientTerm>(y + offset, dy + offset, cols));
            }
        }

        /// <summary>dx = y * (dy - weightedSum).</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void SoftmaxRow(float* output, float* gradient, float* destination, float weightedSum)
        {
            V s = V.Splat(weightedSum);
            int w = V.Count, i = 0;
            for (; i <= cols - w; i += w) V.Store(V.Load(output + i) * (V.Load(gradient + i) - s), destination + i);
            if (i < cols)
            {
                int count = cols - i;
                Lanes.StorePartial(Lanes.LoadPartial<V>(output + i, count, 0f) * (Lanes.LoadPartial<V>(gradient + i, count, 0f) - s), destination + i, count);
            }
        }

        /// <summary>dx = dy - exp(y) * gradientSum.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void LogSoftmaxRow(float* output, float* gradient, float* destination, float gradientSum)
        {
            V s = V.Splat(gradientSum);
            int w = V.Count, i = 0;
            for (; i <= cols - w; i += w) V.Store(V.Load(gradient + i) - VectorMath.Exp(V.Load(output + i)) * s, destination + i);
            if (i < cols)
            {
                int count = cols - i;
                V e = VectorMath.Exp(Lanes.LoadPartial<V>(output + i, count, float.NegativeInfinity));
                Lanes.StorePartial(Lanes.LoadPartial<V>(gradient + i, count, 0f) - e * s, destination + i, count);
            }
        }
    }

    /// <summary>
    /// sum_j T(y[j], dy[j]) over a row: blocks of up to 1024 elements summed in two registers,
    /// the block sums added with compensation.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float SumOfTerms<V, T>(float* y, float* dy, int cols) where V : unmanaged, IFloatVector<V> where T : struct, IGradientTerm
    {
        const int blockLength = 1024;
        V total = V.Splat(0f), compensation = total;
        int w = V.Count;
        for (int block = 0; block < cols; block += blockLength)
        {
            int end = Math.Min(cols, block + blockLength), i = block;
            V s0 = V.Splat(0f), s1 = s0;
            for (; i <= end - 2 * w; i += 2 * w)
            {
                s0 = T.Accumulate(V.Load(y + i), V.Load(dy + i), s0);
                s1 = T.Accumulate(V.Load(y + i + w), V.Load(dy + i + w), s1);
            }
            for (; i < end; i += w)
            {
                int count = Math.Min(w, end - i);
                s0 = count == w ? T.Accumulate(V.Load(y + i), V.Load(dy + i), s0)
                    : T.Accumulate(Lanes.LoadPartial<V>(y + i, count, 0f), Lanes.LoadPartial<V>(dy + i, count, 0f), s0);
            }
            AddCompensated(ref total, ref compensation, V.Splat(1f), s0 + s1);
        }
        return V.SumLanes(total - compensation);
    }

    /// <summary>The summand of a gradient row sum, added to an accumulator.</summary>
    private interface IGradientTerm
    {
        static abstract V Accumulate<V>(V y, V dy, V sum) where V : unmanaged, IFloatVector<V>;
    }

    /// <summary>dy * y, for softmax.</summary>
    private struct WeightedGradientTerm : IGradientTerm
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static V Accumulate<V>(V y, V dy, V sum) where V : unmanaged, IFloatVector<V> => V.MultiplyAdd(dy, y, sum);
    }

    /// <summary>dy alone, for log-softmax.</summary>
    private struct GradientTerm : IGradientTerm
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static V Accumulate<V>(V y, V dy, V sum) where V : unmanaged, IFloatVector<V> => sum + dy;
    }
}
