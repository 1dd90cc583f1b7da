using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Engine.Kernels.Simd;

// Thresholding and top-k of the rows of w [rows, V] into sparse form, per row r:
//   kept   = the columns j with |w[r, j]| > threshold (threshold >= 0)
//   chosen = kept when it has at most `capacity` columns; otherwise the `capacity` columns of kept
//            with the largest |w[r, j]|, ties to the lower column
//   counts[r] = |chosen|, columns[r, 0 .. counts[r]) = chosen ascending, values[r, ...] = w[r, those]
// and counts[r] = -1 - c when w[r, c] is the row's first value that is not finite (nothing else is
// written for that row). columns and values are [rows, capacity]; entries past counts[r] are
// left as they were.
// The k-th largest magnitude is found by a bitwise search: magnitudes of finite floats order as
// their bit patterns, so t, the bits of the k-th largest kept magnitude, is the largest value with
// #{kept j : bits(|w_j|) >= t} >= k, built from the top bit down, one counting sweep per bit
// (31 sweeps of a row that stays in cache). The row is then written in column order: every kept
// column above t, and the first k - #{above t} columns equal to t. Rows run in parallel.
public static unsafe class ToSparse
{
    public static void Select(float* w, int* counts, int* columns, float* values, int rows, int vocab, float threshold, int capacity)
    {
        // Work per row: the sweeps of the search dominate when it runs.
        long perRow = (long)vocab * 8;
        if (SimdWidth.Use512) Parallelism.ForRows(rows, perRow, new Rows<Vector512Float>(w, counts, columns, values, vocab, threshold, capacity));
        else if (Vector256.IsHardwareAccelerated) Parallelism.ForRows(rows, perRow, new Rows<Vector256Float>(w, counts, columns, values, vocab, threshold, capacity));
        else Parallelism.ForRows(rows, perRow, new Rows<Vector128Float>(w, counts, columns, values, vocab, threshold, capacity));
    }

    private readonly struct Rows<V>(float* w, int* counts, int* columns, float* values, int vocab, float threshold, int capacity) : IRowKernel
        where V : unmanaged, IFloatVector<V>
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int start, int end)
        {
            for (int r = start; r < end; r++)
            {
                float* x = w + (long)r * vocab;
                int kept = CountKept(x, out int bad);
                if (bad >= 0)
                {
                    counts[r] = -1 - bad;
                    continue;
                }
                uint t = 0;
                int ties = 0;
                if (kept > capacity)
                {
                    for (int bit = 30; bit >= 0; bit--)
                    {
                        uint candidate = t | (1u << bit);
                        if (CountAbove(x, BitConverter.UInt32BitsToSingle(candidate - 1)) >= capacity) t = candidate;
                    }
                    ties = capacity - CountAbove(x, BitConverter.UInt32BitsToSingle(t));
                }
                counts[r] = Write(x, BitConverter.UInt32BitsToSingle(t), ties, columns + (long)r * capacity, values + (long)r * capacity);
            }
        }

        /// <summary>The kept columns of a row; <paramref name="bad"/> is the first non-finite column, or -1.</summary>
        private int CountKept(float* x, out int bad)
        {
            V limit = V.Splat(threshold), infinity = V.Splat(float.PositiveInfinity);
            ulong all = V.MaskBits(V.Equal(limit, limit));
            int kept = 0, j = 0;
            for (; j <= vocab - V.Count; j += V.Count)
            {
                V a = V.Abs(V.Load(x + j));
                if (V.MaskBits(V.LessThan(a, infinity)) != all) break;
                kept += BitOperations.PopCount(V.MaskBits(V.GreaterThan(a, limit)));
            }
            for (; j < vocab; j++)
            {
                float a = MathF.Abs(x[j]);
                if (!(a < float.PositiveInfinity))
                {
                    bad = j;
                    return kept;
                }
                kept += a > threshold ? 1 : 0;
            }
            bad = -1;
            return kept;
        }

        /// <summary>#{j : |x_j| > threshold and |x_j| > floor}.</summary>
        private int CountAbove(float* x, float floor)
        {
            V limit = V.Splat(threshold), bound = V.Splat(floor);
            int count = 0, j = 0;
            for (; j <= vocab - V.Count; j += V.Count)
            {
                V a = V.Abs(V.Load(x + j));
                count += BitOperations.PopCount(V.MaskBits(V.GreaterThan(a, limit) & V.GreaterThan(a, bound)));
            }
            for (; j < vocab; j++)
            {
                float a = MathF.Abs(x[j]);
                count += a > threshold && a > floor ? 1 : 0;
            }
            return count;
        }

        /// <summary>Writes the kept columns above <paramref name="floor"/> and the first <paramref name="ties"/> equal to it, ascending.</summary>
        private int Write(float* x, float floor, int ties, int* ids, float* weights)
        {
            V limit = V.Splat(threshold), bound = V.Splat(floor);
            int count = 0, j = 0;
            for (; j <= vocab - V.Count; j += V.Count)
            {
                V a = V.Abs(V.Load(x + j));
                V keep = V.GreaterThan(a, limit);
                ulong chosen = V.MaskBits(keep & V.GreaterThan(a, bound));
                if (ties > 0)
                    for (ulong equal = V.MaskBits(keep & V.EqualBits(a, bound)); equal != 0 && ties > 0; equal &= equal - 1, ties--)
                        chosen |= equal & (~equal + 1);
                for (; chosen != 0; chosen &= chosen - 1)
                {
                    int at = j + BitOperations.TrailingZeroCount(chosen);
                    ids[count] = at;
                    weights[count++] = x[at];
                }
            }
            for (; j < vocab; j++)
            {
                float a = MathF.Abs(x[j]);
                if (!(a > threshold)) continue;
                bool equal = BitConverter.SingleToUInt32Bits(a) == BitConverter.SingleToUInt32Bits(floor);
                if (a > floor || (equal && ties-- > 0))
                {
                    ids[count] = j;
                    weights[count++] = x[j];
                }
            }
            return count;
        }
    }
}
