using ILGPU;

namespace Engine.Kernels.Ilgpu;

/// <summary>
/// Thresholding and top-k of the rows of w [rows, V] into sparse form, per row r:
///   kept   = the columns j with |w[r, j]| > threshold (threshold >= 0)
///   chosen = kept when it has at most `capacity` columns; otherwise the `capacity` columns of kept
///            with the largest |w[r, j]|, ties to the lower column
///   counts[r] = |chosen|, columns[r, 0 .. counts[r]) = chosen ascending, values[r, ...] = w[r, those]
/// and counts[r] = -1 - c when w[r, c] is the row's first value that is not finite (nothing else is
/// written for that row). columns and values are [rows, capacity].
///
/// One group per row (a grid-stride loop over rows), T threads (a power of two) sweeping the row
/// with coalesced loads. The k-th largest magnitude is found by a bitwise search: magnitudes of
/// finite floats order as their bit patterns, so t, the bits of the k-th largest kept magnitude,
/// is the largest value with #{kept j : bits(|w_j|) >= t} >= k, built from the top bit down, one
/// counting sweep and one shared-memory sum per bit. The row is then written in column order, T
/// columns at a time: an exclusive prefix sum over the group of (above t, equal to t) gives each
/// chosen column its place, the columns equal to t taken first-come up to k - #{above t}. No
/// atomics: the output does not depend on timing.
/// </summary>
public static class ToSparse
{
    /// <summary>The selection kernel; see the class comment.</summary>
    /// <param name="w">Dense rows [rows, vocab].</param>
    /// <param name="counts">Output [rows] (int32): entries chosen, or -1 - (first non-finite column).</param>
    /// <param name="columns">Output [rows, capacity] (int32): the chosen columns, ascending.</param>
    /// <param name="values">Output [rows, capacity]: their values.</param>
    /// <param name="rows">Number of rows.</param>
    /// <param name="vocab">Columns per row.</param>
    /// <param name="threshold">Magnitudes must exceed it (at least 0).</param>
    /// <param name="capacity">Most entries per row (the top-k; vocab when there is none).</param>
    public static void Select(ArrayView<float> w, ArrayView<int> counts, ArrayView<int> columns, ArrayView<float> values,
        int rows, int vocab, float threshold, int capacity)
    {
        var scratch = SharedMemory.Allocate<int>(GroupReduce.MaxGroupSize);
        int lanes = Group.DimX;
        int lane = Group.IdxX;
        for (int row = Grid.IdxX; row < rows; row += Grid.DimX)
        {
            long start = (long)row * vocab;
            int kept = 0, bad = int.MaxValue;
            for (int j = lane; j < vocab; j += lanes)
            {
                float a = MathF.Abs(w[start + j]);
                if (!(a < float.PositiveInfinity))
                    bad = j < bad ? j : bad;
                else if (a > threshold)
                    kept++;
            }
            bad = GroupReduce.Min(scratch, bad, lane, lanes);
            if (bad != int.MaxValue)
            {
                if (lane == 0)
                    counts[row] = -1 - bad;
                continue;
            }
            kept = GroupReduce.Sum(scratch, kept, lane, lanes);

            // With at most `capacity` kept columns, t = 0 keeps them all (a kept magnitude is above 0).
            uint t = 0;
            int ties = 0;
            if (kept > capacity)
            {
                for (int bit = 30; bit >= 0; bit--)
                {
                    uint candidate = t | (1u << bit);
                    if (GroupReduce.Sum(scratch, CountAtLeast(w, start, vocab, threshold, candidate, lane, lanes), lane, lanes) >= capacity)
                        t = candidate;
                }
                ties = capacity - GroupReduce.Sum(scratch, CountAtLeast(w, start, vocab, threshold, t + 1, lane, lanes), lane, lanes);
            }

            long output = (long)row * capacity;
            int aboveSeen = 0, tiesSeen = 0;
            for (int first = 0; first < vocab; first += lanes)
            {
                int j = first + lane;
                float x = j < vocab ? w[start + j] : 0f;
                float a = MathF.Abs(x);
                uint bits = Interop.FloatAsInt(a);
                bool keep = j < vocab && a > threshold;
                int above = keep && bits > t ? 1 : 0;
                int equal = keep && ties > 0 && bits == t ? 1 : 0;
                // Both counts fit 16 bits: a tile has at most 256 columns.
                int before = GroupReduce.ExclusiveSum(scratch, above | (equal << 16), lane, lanes, out int total);
                int tieRank = tiesSeen + (before >> 16);
                if (above == 1 || (equal == 1 && tieRank < ties))
                {
                    long at = output + aboveSeen + (before & 0xFFFF) + (tieRank < ties ? tieRank : ties);
                    columns[at] = j;
                    values[at] = x;
                }
                aboveSeen += total & 0xFFFF;
                tiesSeen += total >> 16;
            }
            if (lane == 0)
                counts[row] = aboveSeen + (tiesSeen < ties ? tiesSeen : ties);
        }
    }

    /// <summary>This thread's share of #{j : |w_j| > threshold and bits(|w_j|) >= floor}.</summary>
    private static int CountAtLeast(ArrayView<float> w, long start, int vocab, float threshold, uint floor, int lane, int lanes)
    {
        int count = 0;
        for (int j = lane; j < vocab; j += lanes)
        {
            float a = MathF.Abs(w[start + j]);
            if (a > threshold && Interop.FloatAsInt(a) >= floor)
                count++;
        }
        return count;
    }
}
