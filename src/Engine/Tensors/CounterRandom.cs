namespace Engine;

/// <summary>
/// Counter-based random numbers: element i of a tensor drawn with seed s is a pure function of
/// (s, i), so the values are the same on every backend, for any thread count, and a slice of a
/// larger draw can be recomputed alone. The generator is a SplitMix64-style finaliser over
/// seed * golden ratio + i, which passes the usual avalanche tests and is cheap.
/// </summary>
internal static class CounterRandom
{
    private static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>64 random bits, a pure function of (seed, counter).</summary>
    internal static ulong Bits(ulong seed, ulong counter) => Mix(Mix(seed + 0x9E3779B97F4A7C15UL) + counter * 0x9E3779B97F4A7C15UL);

    /// <summary>Uniform in [0, 1) with 24 random bits.</summary>
    public static float Uniform(ulong seed, long index) => (Bits(seed, (ulong)index) >> 40) * (1f / (1 << 24));

    /// <summary>Standard normal by Box-Muller in double over two independent 53-bit uniforms.</summary>
    public static float Normal(ulong seed, long index)
    {
        ulong bits1 = Bits(seed, 2 * (ulong)index), bits2 = Bits(seed, 2 * (ulong)index + 1);
        double u1 = ((bits1 >> 11) + 1) * (1.0 / 9007199254740993.0); // (0, 1]
        double u2 = (bits2 >> 11) * (1.0 / 9007199254740992.0);       // [0, 1)
        return (float)(Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2));
    }

    public static void FillUniform(Span<float> data, ulong seed, float low, float high)
    {
        for (int i = 0; i < data.Length; i++)
            data[i] = low + (high - low) * Uniform(seed, i);
    }

    public static void FillNormal(Span<float> data, ulong seed, float mean, float std)
    {
        for (int i = 0; i < data.Length; i++)
            data[i] = mean + std * Normal(seed, i);
    }
}
