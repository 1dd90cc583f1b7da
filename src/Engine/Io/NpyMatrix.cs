using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.RegularExpressions;

namespace Engine.Io;

/// <summary>
/// A float32 matrix in NumPy's .npy format: what <c>numpy.save</c> writes for an array of dtype
/// float32 and two dimensions, and what <c>numpy.load</c> reads back.
/// </summary>
/// <remarks>
/// Layout: the magic <c>\x93NUMPY</c>, a major and a minor version byte, the header's length
/// (uint16 little-endian in version 1, uint32 in versions 2 and 3), the header (a Python dict
/// literal such as <c>{'descr': '&lt;f4', 'fortran_order': False, 'shape': (3, 4), }</c>, padded
/// with spaces and ended by '\n' so the data starts on a 64-byte boundary), then rows * columns
/// float32 values, little-endian, in C (row-major) order. Nothing may follow the data.
/// </remarks>
public static partial class NpyMatrix
{
    private static readonly byte[] Magic = [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];
    private const int Alignment = 64;
    private const int LargestHeader = 1 << 16;

    /// <summary>Writes <paramref name="values"/> (row-major, <paramref name="rows"/> x <paramref name="columns"/>) to <paramref name="path"/> atomically, as format version 1.0.</summary>
    /// <exception cref="ArgumentException">values does not hold rows * columns numbers.</exception>
    public static void Write(string path, float[] values, int rows, int columns)
    {
        ArgumentNullException.ThrowIfNull(values);
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        ArgumentOutOfRangeException.ThrowIfNegative(columns);
        if ((long)rows * columns != values.Length)
            throw new ArgumentException($"NpyMatrix.Write: {values.Length} values do not make a {rows} x {columns} matrix.");
        RequireLittleEndian();
        string dict = string.Create(CultureInfo.InvariantCulture, $"{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows}, {columns}), }}");
        int prefix = Magic.Length + 2 + 2;
        int padded = dict.Length + 1 + (Alignment - (prefix + dict.Length + 1) % Alignment) % Alignment;
        string header = dict.PadRight(padded - 1) + "\n";
        AtomicFile.Write(path, stream =>
        {
            stream.Write(Magic);
            stream.Write([1, 0]);
            Span<byte> length = stackalloc byte[2];
            BinaryPrimitives.WriteUInt16LittleEndian(length, (ushort)header.Length);
            stream.Write(length);
            stream.Write(Encoding.ASCII.GetBytes(header));
            stream.Write(MemoryMarshal.AsBytes(values.AsSpan()));
        });
    }

    /// <summary>Reads a matrix written by <see cref="Write"/> or by NumPy, checking the header against the file's length before allocating.</summary>
    /// <returns>The values in row-major order and the matrix's shape.</returns>
    /// <exception cref="InvalidDataException">The file is not a two-dimensional little-endian float32 C-order .npy file of exactly the size its header implies; the message names the path.</exception>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    public static (float[] Values, int Rows, int Columns) Read(string path)
    {
        RequireLittleEndian();
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
        InvalidDataException Corrupt(string what) => new($"{path}: not a float32 matrix .npy file: {what}.");

        Span<byte> preamble = stackalloc byte[Magic.Length + 2];
        if (stream.Length < preamble.Length + 2)
            throw Corrupt($"{stream.Length} bytes is shorter than the smallest header");
        stream.ReadExactly(preamble);
        if (!preamble[..Magic.Length].SequenceEqual(Magic))
            throw Corrupt("the file does not start with \"\\x93NUMPY\"");
        byte major = preamble[Magic.Length];
        int lengthBytes = major switch
        {
            1 => 2,
            2 or 3 => 4,
            _ => throw Corrupt($"format version {major}.{preamble[Magic.Length + 1]} (this reader knows 1, 2 and 3)"),
        };
        Span<byte> lengthField = stackalloc byte[lengthBytes];
        if (stream.Length < stream.Position + lengthBytes)
            throw Corrupt("the header length is cut off");
        stream.ReadExactly(lengthField);
        long headerLength = lengthBytes == 2 ? BinaryPrimitives.ReadUInt16LittleEndian(lengthField) : BinaryPrimitives.ReadUInt32LittleEndian(lengthField);
        long dataStart = stream.Position + headerLength;
        if (headerLength > LargestHeader || dataStart > stream.Length)
            throw Corrupt($"a {headerLength}-byte header does not fit in the file's {stream.Length} bytes");
        var headerBytes = new byte[headerLength];
        stream.ReadExactly(headerBytes);
        if (headerBytes.Any(b => b >= 0x80))
            throw Corrupt("the header is not ASCII");

        var (rows, columns) = ParseHeader(Encoding.ASCII.GetString(headerBytes), Corrupt);
        long expected = dataStart + 4L * rows * columns;
        if (stream.Length != expected)
            throw Corrupt($"{stream.Length} bytes, but a ({rows}, {columns}) float32 matrix after the header needs {expected}");
        var values = new float[(long)rows * columns];
        stream.ReadExactly(MemoryMarshal.AsBytes(values.AsSpan()));
        return (values, rows, columns);
    }

    /// <summary>The shape a header declares, after checking that it declares little-endian float32 in C order with two dimensions.</summary>
    private static (int Rows, int Columns) ParseHeader(string header, Func<string, InvalidDataException> corrupt)
    {
        string dict = header.TrimEnd(' ', '\n');
        if (!dict.StartsWith('{') || !dict.EndsWith('}'))
            throw corrupt("the header is not a dict literal");
        var descr = DescrPattern().Match(dict);
        if (!descr.Success)
            throw corrupt("the header has no 'descr'");
        if (descr.Groups[1].Value != "<f4")
            throw corrupt($"dtype '{descr.Groups[1].Value}' (only little-endian float32, '<f4', is read)");
        var order = FortranOrderPattern().Match(dict);
        if (!order.Success)
            throw corrupt("the header has no 'fortran_order'");
        if (order.Groups[1].Value != "False")
            throw corrupt("the matrix is in Fortran (column-major) order");
        var shape = ShapePattern().Match(dict);
        if (!shape.Success)
            throw corrupt("the header has no 'shape'");
        var dimensions = shape.Groups[1].Value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        if (dimensions.Length != 2)
            throw corrupt($"shape ({shape.Groups[1].Value}) is not two-dimensional");
        var sizes = new int[2];
        for (int i = 0; i < 2; i++)
            if (!int.TryParse(dimensions[i], NumberStyles.None, CultureInfo.InvariantCulture, out sizes[i]))
                throw corrupt($"shape ({shape.Groups[1].Value}) does not hold two non-negative int32 sizes");
        if ((long)sizes[0] * sizes[1] > Array.MaxLength)
            throw corrupt($"shape ({sizes[0]}, {sizes[1]}) holds more values than an array can");
        return (sizes[0], sizes[1]);
    }

    [GeneratedRegex(@"'descr'\s*:\s*'([^']*)'")]
    private static partial Regex DescrPattern();

    [GeneratedRegex(@"'fortran_order'\s*:\s*(\w+)")]
    private static partial Regex FortranOrderPattern();

    [GeneratedRegex(@"'shape'\s*:\s*\(([^)]*)\)")]
    private static partial Regex ShapePattern();

    private static void RequireLittleEndian()
    {
        if (!BitConverter.IsLittleEndian)
            throw new PlatformNotSupportedException(".npy matrices are read and written as little-endian float32 on little-endian machines only.");
    }
}
