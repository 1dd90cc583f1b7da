using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace Engine.Cli;

/// <summary>A minimal PNG encoder for 8-bit RGB images: enough for charts, with no dependency.</summary>
internal static class Png
{
    /// <summary>The 8 bytes every PNG file starts with.</summary>
    public static ReadOnlySpan<byte> Signature => [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];

    private static readonly uint[] s_crcTable = BuildCrcTable();

    /// <summary>
    /// Encodes a row-major RGB image (3 bytes a pixel, top row first) as a PNG file's bytes.
    /// </summary>
    /// <remarks>
    /// Layout written: the signature, then three chunks, each [data length: uint32 big-endian]
    /// [type: 4 ASCII bytes][data][CRC-32 of type and data: uint32 big-endian]:
    ///   IHDR  width, height (uint32 big-endian), bit depth 8, colour type 2 (RGB), compression 0,
    ///         filter method 0, no interlace;
    ///   IDAT  a zlib stream of the rows, each row its filter type 0 (none) and its 3 * width bytes;
    ///   IEND  empty.
    /// </remarks>
    /// <exception cref="ArgumentException">The size is not positive or <paramref name="rgb"/> is not 3 * width * height bytes.</exception>
    public static byte[] Encode(int width, int height, ReadOnlySpan<byte> rgb)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        int stride = 3 * width;
        if (rgb.Length != (long)stride * height)
            throw new ArgumentException($"Png.Encode: a {width}x{height} RGB image takes {(long)stride * height} bytes, not {rgb.Length}.", nameof(rgb));

        var header = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(0), width);
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4), height);
        header[8] = 8;  // bits per sample
        header[9] = 2;  // colour type: RGB
        // Bytes 10..12 stay 0: deflate compression, adaptive filtering method, no interlace.

        var compressed = new MemoryStream();
        using (var zlib = new ZLibStream(compressed, CompressionLevel.SmallestSize, leaveOpen: true))
        {
            for (int y = 0; y < height; y++)
            {
                zlib.WriteByte(0);  // filter type: none
                zlib.Write(rgb.Slice(y * stride, stride));
            }
        }

        var file = new MemoryStream();
        file.Write(Signature);
        WriteChunk(file, "IHDR", header);
        WriteChunk(file, "IDAT", compressed.GetBuffer().AsSpan(0, (int)compressed.Length));
        WriteChunk(file, "IEND", []);
        return file.ToArray();
    }

    /// <summary>The CRC-32 of <paramref name="data"/> as PNG and zlib define it (reflected polynomial 0xEDB88320).</summary>
    public static uint Crc32(ReadOnlySpan<byte> data) => ~UpdateCrc(0xFFFFFFFFu, data);

    private static void WriteChunk(Stream file, string type, ReadOnlySpan<byte> data)
    {
        Span<byte> word = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(word, data.Length);
        file.Write(word);
        Span<byte> typeBytes = stackalloc byte[4];
        Encoding.ASCII.GetBytes(type, typeBytes);
        file.Write(typeBytes);
        file.Write(data);
        BinaryPrimitives.WriteUInt32BigEndian(word, ~UpdateCrc(UpdateCrc(0xFFFFFFFFu, typeBytes), data));
        file.Write(word);
    }

    private static uint UpdateCrc(uint crc, ReadOnlySpan<byte> data)
    {
        foreach (byte b in data)
            crc = s_crcTable[(crc ^ b) & 0xFF] ^ (crc >> 8);
        return crc;
    }

    private static uint[] BuildCrcTable()
    {
        var table = new uint[256];
        for (uint n = 0; n < 256; n++)
        {
            uint c = n;
            for (int k = 0; k < 8; k++)
                c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            table[n] = c;
        }
        return table;
    }
}
