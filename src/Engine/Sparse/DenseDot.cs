using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Engine.Kernels.Simd;

namespace Engine.Sparse;

/// <summary>
/// Float32 dot products of one query with contiguous document rows, for <see cref="DenseIndex"/>.
/// </summary>
/// <remarks>
/// <para>Every (query, document) pair is summed in the same order whichever routine scores it,
/// so a score does not depend on how documents are grouped: elements go in chunks of 16 to 16
/// lanes, each lane accumulating with a fused multiply-add (one rounding per element); the lanes
/// are then added as (lanes 0-7 + lanes 8-15), then (0-3 + 4-7), then (0 + 2) + (1 + 3); the
/// last D mod 16 elements are accumulated one by one with fused multiply-adds into a scalar
/// that is added last.</para>
/// <para>Where Vector512 is accelerated (AVX-512) the 16 lanes are one Vector512; elsewhere they
/// are two Vector256 halves. Both do the same arithmetic, so scores are the same bits on
/// AVX2 and AVX-512 machines.</para>
/// </remarks>
internal static class DenseDot
{
    /// <summary>Elements per chunk: the lanes of one accumulator.</summary>
    private const int Lanes = 16;

    /// <summary>
    /// scores[j] = query · documents[j * query.Length .. (j + 1) * query.Length) for each j:
    /// four documents at a time (sharing the query's loads), then one at a time.
    /// </summary>
    public static void Score(ReadOnlySpan<float> query, ReadOnlySpan<float> documents, Span<float> scores)
    {
        int dimension = query.Length;
        ref float q = ref MemoryMarshal.GetReference(query);
        ref float d = ref MemoryMarshal.GetReference(documents);
        int j = 0;
        for (; j + 4 <= scores.Length; j += 4)
            Dot4(ref q, ref Unsafe.Add(ref d, (nint)j * dimension), dimension, scores.Slice(j, 4));
        for (; j < scores.Length; j++)
            scores[j] = Dot1(ref q, ref Unsafe.Add(ref d, (nint)j * dimension), dimension);
    }

    /// <summary>One document's score.</summary>
    private static float Dot1(ref float q, ref float d, int dimension)
    {
        int chunks = dimension / Lanes;
        if (SimdWidth.Use512)
        {
            var acc = Vector512<float>.Zero;
            for (int c = 0; c < chunks; c++)
            {
                nint at = (nint)c * Lanes;
                acc = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref q, (nuint)at), Vector512.LoadUnsafe(ref d, (nuint)at), acc);
            }
            return Reduce(acc.GetLower(), acc.GetUpper()) + Tail(ref q, ref d, chunks * Lanes, dimension);
        }
        var low = Vector256<float>.Zero;
        var high = Vector256<float>.Zero;
        for (int c = 0; c < chunks; c++)
        {
            nint at = (nint)c * Lanes;
            var q0 = Vector256.LoadUnsafe(ref q, (nuint)at);
            var q1 = Vector256.LoadUnsafe(ref q, (nuint)(at + 8));
            low = Vector256.FusedMultiplyAdd(q0, Vector256.LoadUnsafe(ref d, (nuint)at), low);
            high = Vector256.FusedMultiplyAdd(q1, Vector256.LoadUnsafe(ref d, (nuint)(at + 8)), high);
        }
        return Reduce(low, high) + Tail(ref q, ref d, chunks * Lanes, dimension);
    }

    /// <summary>Four consecutive documents' scores, written to scores[0..4).</summary>
    private static void Dot4(ref float q, ref float d, int dimension, Span<float> scores)
    {
        int chunks = dimension / Lanes, done = chunks * Lanes;
        ref float d1 = ref Unsafe.Add(ref d, dimension);
        ref float d2 = ref Unsafe.Add(ref d, 2 * dimension);
        ref float d3 = ref Unsafe.Add(ref d, 3 * dimension);
        if (SimdWidth.Use512)
        {
            Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
            for (int c = 0; c < chunks; c++)
            {
                nuint at = (nuint)(c * Lanes);
                var qv = Vector512.LoadUnsafe(ref q, at);
                a0 = Vector512.FusedMultiplyAdd(qv, Vector512.LoadUnsafe(ref d, at), a0);
                a1 = Vector512.FusedMultiplyAdd(qv, Vector512.LoadUnsafe(ref d1, at), a1);
                a2 = Vector512.FusedMultiplyAdd(qv, Vector512.LoadUnsafe(ref d2, at), a2);
                a3 = Vector512.FusedMultiplyAdd(qv, Vector512.LoadUnsafe(ref d3, at), a3);
            }
            scores[0] = Reduce(a0.GetLower(), a0.GetUpper()) + Tail(ref q, ref d, done, dimension);
            scores[1] = Reduce(a1.GetLower(), a1.GetUpper()) + Tail(ref q, ref d1, done, dimension);
            scores[2] = Reduce(a2.GetLower(), a2.GetUpper()) + Tail(ref q, ref d2, done, dimension);
            scores[3] = Reduce(a3.GetLower(), a3.GetUpper()) + Tail(ref q, ref d3, done, dimension);
            return;
        }
        // Eight accumulators (four documents, two halves each): enough independent chains to keep
        // both FMA units of an AVX2 core busy.
        Vector256<float> l0 = default, l1 = default, l2 = default, l3 = default;
        Vector256<float> h0 = default, h1 = default, h2 = default, h3 = default;
        for (int c = 0; c < chunks; c++)
        {
            nuint at = (nuint)(c * Lanes), up = at + 8;
            var ql = Vector256.LoadUnsafe(ref q, at);
            var qh = Vector256.LoadUnsafe(ref q, up);
            l0 = Vector256.FusedMultiplyAdd(ql, Vector256.LoadUnsafe(ref d, at), l0);
            h0 = Vector256.FusedMultiplyAdd(qh, Vector256.LoadUnsafe(ref d, up), h0);
            l1 = Vector256.FusedMultiplyAdd(ql, Vector256.LoadUnsafe(ref d1, at), l1);
            h1 = Vector256.FusedMultiplyAdd(qh, Vector256.LoadUnsafe(ref d1, up), h1);
            l2 = Vector256.FusedMultiplyAdd(ql, Vector256.LoadUnsafe(ref d2, at), l2);
            h2 = Vector256.FusedMultiplyAdd(qh, Vector256.LoadUnsafe(ref d2, up), h2);
            l3 = Vector256.FusedMultiplyAdd(ql, Vector256.LoadUnsafe(ref d3, at), l3);
            h3 = Vector256.FusedMultiplyAdd(qh, Vector256.LoadUnsafe(ref d3, up), h3);
        }
        scores[0] = Reduce(l0, h0) + Tail(ref q, ref d, done, dimension);
        scores[1] = Reduce(l1, h1) + Tail(ref q, ref d1, done, dimension);
        scores[2] = Reduce(l2, h2) + Tail(ref q, ref d2, done, dimension);
        scores[3] = Reduce(l3, h3) + Tail(ref q, ref d3, done, dimension);
    }

    /// <summary>The sum of 16 lanes, held as lanes 0-7 and 8-15, in the fixed order the remarks give.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Reduce(Vector256<float> low, Vector256<float> high)
    {
        var eight = low + high;
        var four = eight.GetLower() + eight.GetUpper();
        return (four.GetElement(0) + four.GetElement(2)) + (four.GetElement(1) + four.GetElement(3));
    }

    /// <summary>Elements [from, dimension) one by one.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Tail(ref float q, ref float d, int from, int dimension)
    {
        float sum = 0;
        for (int i = from; i < dimension; i++)
            sum = MathF.FusedMultiplyAdd(Unsafe.Add(ref q, i), Unsafe.Add(ref d, i), sum);
        return sum;
    }
}
