namespace Engine.Io;

/// <summary>The 64-bit FNV-1a hash (Fowler, Noll, Vo): hash = (hash XOR byte) * prime, from the offset basis.</summary>
internal static class Fnv1a
{
    /// <summary>The 64-bit offset basis.</summary>
    public const ulong Offset = 14695981039346656037UL;

    /// <summary>The 64-bit FNV prime.</summary>
    public const ulong Prime = 1099511628211UL;

    /// <summary>The hash after one more byte.</summary>
    public static ulong Add(ulong hash, byte value) => (hash ^ value) * Prime;

    /// <summary>The hash after more bytes.</summary>
    public static ulong Add(ulong hash, ReadOnlySpan<byte> bytes)
    {
        foreach (byte b in bytes)
            hash = (hash ^ b) * Prime;
        return hash;
    }
}
