using ILGPU;

namespace Engine.Kernels.Ilgpu;

/// <summary>
/// Reductions across the threads of one group, shared by the row kernels (softmax, layer norm,
/// cross-entropy, reductions).
///
/// A group is split into independent "lane sets": <c>count</c> threads (a power of two) whose
/// partial results sit in shared memory at <c>scratch[first + lane * stride]</c>. Row kernels
/// use lane = Group.IdxX, first = Group.IdxY * Group.DimX, stride = 1 (one lane set per row);
/// the column reduction uses lane = Group.IdxY, first = Group.IdxX, stride = Group.DimX.
///
/// The reduction is a shared-memory tree: step s combines lane l with lane l + s for
/// s = count/2, count/4, ..., 1, a barrier after each step. The combination order depends only
/// on the lane count, never on timing, so results are bitwise reproducible, and it needs no
/// sub-group (warp shuffle) support, so the same source runs on CUDA, on any OpenCL 2.0 device
/// and on the CPU accelerator. Every thread of the group must call a helper (they contain
/// barriers), and every thread gets its lane set's result. A trailing barrier lets the caller
/// reuse the scratch memory at once.
/// </summary>
internal static class GroupReduce
{
    /// <summary>Largest group size the row kernels are launched with (shared scratch capacity).</summary>
    public const int MaxGroupSize = 256;

    /// <summary>Sum over the lane set.</summary>
    public static float Sum(ArrayView<float> scratch, float value, int lane, int count, int first, int stride)
    {
        scratch[first + lane * stride] = value;
        Group.Barrier();
        for (int s = count >> 1; s > 0; s >>= 1)
        {
            if (lane < s)
            {
                int self = first + lane * stride;
                scratch[self] = scratch[self] + scratch[self + s * stride];
            }
            Group.Barrier();
        }
        float result = scratch[first];
        Group.Barrier();
        return result;
    }

    /// <summary>Integer sum over the lanes 0 .. count - 1 of the group (scratch[lane]).</summary>
    public static int Sum(ArrayView<int> scratch, int value, int lane, int count)
    {
        scratch[lane] = value;
        Group.Barrier();
        for (int s = count >> 1; s > 0; s >>= 1)
        {
            if (lane < s)
                scratch[lane] = scratch[lane] + scratch[lane + s];
            Group.Barrier();
        }
        int result = scratch[0];
        Group.Barrier();
        return result;
    }

    /// <summary>Integer minimum over the lanes 0 .. count - 1 of the group (scratch[lane]).</summary>
    public static int Min(ArrayView<int> scratch, int value, int lane, int count)
    {
        scratch[lane] = value;
        Group.Barrier();
        for (int s = count >> 1; s > 0; s >>= 1)
        {
            if (lane < s && scratch[lane + s] < scratch[lane])
                scratch[lane] = scratch[lane + s];
            Group.Barrier();
        }
        int result = scratch[0];
        Group.Barrier();
        return result;
    }

    /// <summary>
    /// Exclusive prefix sum over the lanes 0 .. count - 1 of the group: returns the sum of the
    /// values of the lanes below this one and sets <paramref name="total"/> to the sum of all.
    /// Hillis-Steele: step d adds the value 2^d lanes down, log2(count) steps, two barriers each.
    /// </summary>
    public static int ExclusiveSum(ArrayView<int> scratch, int value, int lane, int count, out int total)
    {
        scratch[lane] = value;
        Group.Barrier();
        for (int offset = 1; offset < count; offset <<= 1)
        {
            int below = lane >= offset ? scratch[lane - offset] : 0;
            Group.Barrier();
            scratch[lane] = scratch[lane] + below;
            Group.Barrier();
        }
        int inclusive = scratch[lane];
        total = scratch[count - 1];
        Group.Barrier();
        return inclusive - value;
    }

    /// <summary>
    /// Maximum and the index where it first occurs over the lane set. NaN counts as larger than
    /// any number (so a NaN propagates, as torch's max/argmax do); ties go to the smaller index.
    /// </summary>
    public static void ArgMax(ArrayView<float> values, ArrayView<int> indices, ref float value, ref int index,
        int lane, int count, int first, int stride)
    {
        int self = first + lane * stride;
        values[self] = value;
        indices[self] = index;
        Group.Barrier();
        for (int s = count >> 1; s > 0; s >>= 1)
        {
            if (lane < s)
            {
                int other = self + s * stride;
                float v = values[self];
                int i = indices[self];
                float w = values[other];
                int j = indices[other];
                if (Beats(w, j, v, i))
                {
                    values[self] = w;
                    indices[self] = j;
                }
            }
            Group.Barrier();
        }
        value = values[first];
        index = indices[first];
        Group.Barrier();
    }

    /// <summary>Whether (w, j) wins over (v, i) in an argmax: larger value, NaN largest, ties to the smaller index.</summary>
    public static bool Beats(float w, int j, float v, int i)
    {
        bool wNaN = float.IsNaN(w);
        bool vNaN = float.IsNaN(v);
        if (wNaN || vNaN)
            return wNaN && (!vNaN || j < i);
        return w > v || (w == v && j < i);
    }

    /// <summary>
    /// Combines online-softmax states over the lane set. A state (m, s) stands for the values x
    /// seen so far as m = max x and s = sum exp(x - m); two states merge as
    /// m = max(m1, m2), s = s1 exp(m1 - m) + s2 exp(m2 - m). A state with m = -inf holds only
    /// -inf values and contributes 0 (avoiding exp(-inf - (-inf)) = NaN).
    /// </summary>
    public static void MaxSumExp(ArrayView<float> maxima, ArrayView<float> sums, ref float max, ref float sum,
        int lane, int count, int first, int stride)
    {
        int self = first + lane * stride;
        maxima[self] = max;
        sums[self] = sum;
        Group.Barrier();
        for (int s = count >> 1; s > 0; s >>= 1)
        {
            if (lane < s)
            {
                int other = self + s * stride;
                float m1 = maxima[self];
                float m2 = maxima[other];
                float m = m2 > m1 ? m2 : m1;
                maxima[self] = m;
                sums[self] = Rescale(sums[self], m1, m) + Rescale(sums[other], m2, m);
            }
            Group.Barrier();
        }
        max = maxima[first];
        sum = sums[first];
        Group.Barrier();
    }

    /// <summary>Adds x to the online-softmax state (max, sum) of one thread.</summary>
    public static void AccumulateMaxSumExp(float x, ref float max, ref float sum)
    {
        if (x > max)
        {
            sum = Rescale(sum, max, x) + 1f;
            max = x;
        }
        else if (x != float.NegativeInfinity)
        {
            sum += MathF.Exp(x - max);
        }
    }

    /// <summary>
    /// A thread's running sum with Kahan compensation: the rounding error of each addition is
    /// carried and fed back, so the error stays near one rounding however long the thread's
    /// share of a row is (on the CPU accelerator a few threads walk thousands of elements each).
    /// The compensation is dropped once the sum is infinite or NaN, which then propagates as in a
    /// plain sum (inf - inf would otherwise turn an infinite sum into NaN).
    /// </summary>
    public struct CompensatedSum
    {
        private float _sum;
        private float _lost;

        /// <summary>Adds <paramref name="x"/>.</summary>
        public void Add(float x)
        {
            float y = x - _lost;
            float t = _sum + y;
            _lost = t - t == 0f ? (t - _sum) - y : 0f;
            _sum = t;
        }

        /// <summary>The compensated total.</summary>
        public readonly float Value => _sum - _lost;
    }

    /// <summary>s exp(mOld - mNew), with an all -inf state (mOld = -inf) contributing 0.</summary>
    private static float Rescale(float s, float mOld, float mNew) =>
        mOld == float.NegativeInfinity ? 0f : s * MathF.Exp(mOld - mNew);
}
