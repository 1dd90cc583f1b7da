using System.Buffers.Binary;

namespace Engine.Io;

/// <summary>
/// Token files in llm.c's format (the .bin files its data scripts write and its trainer reads),
/// so a data set prepared by either side trains on the other.
/// </summary>
public static class TokenFile
{
    /// <summary>The first int32 of every token file.</summary>
    public const int Magic = 20240520;

    /// <summary>The format version: 1 stores each token as a uint16 (GPT-2's ids fit).</summary>
    public const int Version = 1;

    /// <summary>The header's size in bytes: 256 int32s.</summary>
    public const int HeaderBytes = 256 * sizeof(int);

    /// <summary>The largest id a version-1 file can hold.</summary>
    public const int MaxToken = ushort.MaxValue;

    // Tokens are converted between their stored and in-memory forms this many at a time.
    private const int ChunkTokens = 1 << 19;

    /// <summary>Writes <paramref name="tokens"/> to <paramref name="path"/>, replacing any existing file atomically.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A token is outside [0, <see cref="MaxToken"/>].</exception>
    public static void Write(string path, ReadOnlyMemory<int> tokens)
    {
        var span = tokens.Span;
        for (int i = 0; i < span.Length; i++)
        {
            if ((uint)span[i] > MaxToken)
                throw new ArgumentOutOfRangeException(nameof(tokens), $"TokenFile.Write: token {span[i]} at position {i} is outside [0, {MaxToken}], the range of a uint16 token file.");
        }

        AtomicFile.Write(path, stream =>
        {
            var header = new byte[HeaderBytes];
            BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(0), Magic);
            BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(4), Version);
            BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(8), tokens.Length);
            stream.Write(header);

            var chunk = new byte[ChunkTokens * sizeof(ushort)];
            for (int start = 0; start < tokens.Length; start += ChunkTokens)
            {
                var part = tokens.Span.Slice(start, Math.Min(ChunkTokens, tokens.Length - start));
                for (int i = 0; i < part.Length; i++)
                    BinaryPrimitives.WriteUInt16LittleEndian(chunk.AsSpan(2 * i), (ushort)part[i]);
                stream.Write(chunk, 0, part.Length * sizeof(ushort));
            }
        });
    }

    // Layout (llm.c, version 1), all little-endian:
    //   bytes [0, 1024)         256 int32: [0] magic 20240520, [1] version 1, [2] token count N, the rest 0
    //   bytes [1024, 1024 + 2N) N uint16 token ids
    // The file is exactly 1024 + 2N bytes long. The header is checked against the file's length
    // before anything is allocated, so a hostile count cannot ask for more memory than the file holds.

    /// <summary>
    /// Reads the tokens of <paramref name="path"/>, checking the header against the file's length
    /// and every token against <paramref name="vocabularySize"/>.
    /// </summary>
    /// <param name="path">A token file.</param>
    /// <param name="vocabularySize">Every token must be below this (GPT-2's 50,257 unless given).</param>
    /// <exception cref="InvalidDataException">The file is not a version-1 token file, is truncated or has trailing bytes, or holds a token outside the vocabulary; the message names the file and the fault.</exception>
    /// <exception cref="FileNotFoundException">There is no file at <paramref name="path"/>.</exception>
    public static int[] Read(string path, int vocabularySize = Gpt2Tokenizer.VocabularySize)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(vocabularySize);
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, bufferSize: 1);
        long length = stream.Length;
        if (length < HeaderBytes)
            throw Invalid(path, $"the file is {length} bytes, shorter than the {HeaderBytes}-byte header");

        var header = new byte[HeaderBytes];
        ReadExactly(path, stream, header);
        int magic = BinaryPrimitives.ReadInt32LittleEndian(header.AsSpan(0));
        int version = BinaryPrimitives.ReadInt32LittleEndian(header.AsSpan(4));
        int count = BinaryPrimitives.ReadInt32LittleEndian(header.AsSpan(8));
        if (magic != Magic)
            throw Invalid(path, $"the magic number is {magic}, not {Magic}: this is not a token file");
        if (version != Version)
            throw Invalid(path, $"the version is {version}; only version {Version} (uint16 tokens) is read");
        if (count < 0)
            throw Invalid(path, $"the header gives a negative token count ({count})");
        long expected = HeaderBytes + 2L * count;
        if (length != expected)
            throw Invalid(path, $"the header gives {count} tokens, which take {expected} bytes with the header, but the file is {length} bytes ({(length < expected ? "truncated" : "trailing bytes")})");

        var tokens = new int[count];
        var chunk = new byte[Math.Min(count, ChunkTokens) * sizeof(ushort)];
        for (int start = 0; start < count; start += ChunkTokens)
        {
            int n = Math.Min(ChunkTokens, count - start);
            ReadExactly(path, stream, chunk.AsSpan(0, n * sizeof(ushort)));
            for (int i = 0; i < n; i++)
            {
                int token = BinaryPrimitives.ReadUInt16LittleEndian(chunk.AsSpan(2 * i));
                if (token >= vocabularySize)
                    throw Invalid(path, $"token {start + i} is {token}, outside the vocabulary [0, {vocabularySize})");
                tokens[start + i] = token;
            }
        }
        return tokens;
    }

    private static void ReadExactly(string path, Stream stream, Span<byte> buffer)
    {
        try
        {
            stream.ReadExactly(buffer);
        }
        catch (EndOfStreamException)
        {
            throw Invalid(path, "the file ended early (it was truncated while being read)");
        }
    }

    private static InvalidDataException Invalid(string path, string fault) => new($"{path}: not a valid token file: {fault}.");
}
