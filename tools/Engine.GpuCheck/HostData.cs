using System.Runtime.InteropServices;

namespace Engine.GpuCheck;

/// <summary>
/// Deterministic host inputs for the checks. Element i of a stream with a given seed is a hash of
/// (seed, i) (SplitMix64), so arrays of hundreds of millions of elements fill in parallel and
/// the same seed gives the same data on every machine and thread count.
/// </summary>
internal static class HostData
{
    private const int ChunkSize = 1 << 16;

    /// <summary>Uniform values in [low, high).</summary>
    public static float[] Uniform(long count, ulong seed, float low, float high)
    {
        var values = new float[count];
        float scale = high - low;
        Parallel.For(0, (count + ChunkSize - 1) / ChunkSize, chunk =>
        {
            long end = Math.Min(count, (chunk + 1) * ChunkSize);
            for (long i = chunk * ChunkSize; i < end; i++)
                values[i] = low + scale * UnitFloat(seed, i);
        });
        return values;
    }

    /// <summary>Int32 values in [0, bound), stored bit-for-bit in a float array as the backends expect.</summary>
    public static float[] Indices(long count, ulong seed, int bound)
    {
        var values = new float[count];
        var asInts = MemoryMarshal.Cast<float, int>(values.AsSpan());
        for (int i = 0; i < asInts.Length; i++)
            asInts[i] = (int)(Mix(seed, i) % (ulong)bound);
        return values;
    }

    /// <summary>Int32 values stored bit-for-bit in a float array.</summary>
    public static float[] FromInts(ReadOnlySpan<int> ints) => MemoryMarshal.Cast<int, float>(ints).ToArray();

    /// <summary>The int32 values held bit-for-bit in a float array.</summary>
    public static ReadOnlySpan<int> AsInts(float[] values) => MemoryMarshal.Cast<float, int>(values.AsSpan());

    /// <summary>A value in [0, 1) with 24 random bits.</summary>
    private static float UnitFloat(ulong seed, long index) => (Mix(seed, index) >> 40) * (1f / (1 << 24));

    private static ulong Mix(ulong seed, long index)
    {
        ulong z = seed * 0x9E3779B97F4A7C15UL + (ulong)index * 0xBF58476D1CE4E5B9UL + 0x94D049BB133111EBUL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
