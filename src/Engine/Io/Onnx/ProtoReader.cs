using System.Buffers.Binary;
using System.Text;

namespace Engine.Io.Onnx;

/// <summary>The protobuf wire types (the low 3 bits of a field's tag).</summary>
internal enum WireType
{
    Varint = 0,
    Fixed64 = 1,
    LengthDelimited = 2,
    StartGroup = 3,
    EndGroup = 4,
    Fixed32 = 5,
}

/// <summary>
/// Reads one protobuf message from a byte buffer, field by field, checking every length against
/// the bytes that remain, so that no read falls outside the message.
/// </summary>
/// <remarks>
/// The wire format: each field is a varint tag (field number &lt;&lt; 3 | wire type) followed by
/// its value: a varint (at most 10 bytes, 7 bits each, low groups first); 8 or 4 little-endian
/// bytes; or a varint length and that many bytes (strings, bytes, sub-messages, packed repeated
/// scalars). Groups (wire types 3 and 4) are refused: ONNX, a proto3 format, never uses them.
/// A sub-message is read by a new reader over its bytes, one level deeper; the depth is capped
/// so that no input can make the message parsers recurse without bound. Byte slices returned by
/// <see cref="ReadBytes"/> share the caller's buffer: no payload is copied.
/// </remarks>
internal ref struct ProtoReader
{
    /// <summary>Deepest nesting of messages accepted.</summary>
    public const int MaxDepth = 32;

    // Field numbers are 29 bits wide; larger tags are corrupt.
    private const ulong MaxTag = ((1UL << 29) - 1) << 3 | 7;

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private readonly ReadOnlyMemory<byte> _memory;
    private readonly ReadOnlySpan<byte> _span;
    private readonly long _origin;
    private readonly int _depth;
    private int _position;
    private int _fieldStart;

    /// <summary>A reader of the message <paramref name="message"/> that fills all of <paramref name="bytes"/>.</summary>
    /// <param name="source">The file or resource the bytes come from; error messages start with it.</param>
    /// <param name="message">The message type being read (for example "ModelProto"), named in error messages.</param>
    /// <param name="bytes">The encoded message.</param>
    public ProtoReader(string source, string message, ReadOnlyMemory<byte> bytes)
        : this(source, message, bytes, origin: 0, depth: 0)
    {
    }

    private ProtoReader(string source, string message, ReadOnlyMemory<byte> bytes, long origin, int depth)
    {
        Source = source;
        Message = message;
        _memory = bytes;
        _span = bytes.Span;
        _origin = origin;
        _depth = depth;
    }

    /// <summary>The file or resource the bytes come from.</summary>
    public string Source { get; }

    /// <summary>The message type being read.</summary>
    public string Message { get; }

    /// <summary>Offset, from the start of the outermost message, of the next byte to read.</summary>
    public readonly long Position => _origin + _position;

    /// <summary>Offset, from the start of the outermost message, of the tag of the field read last.</summary>
    public readonly long FieldPosition => _origin + _fieldStart;

    /// <summary>Reads the next field's tag; false at the end of the message.</summary>
    /// <exception cref="InvalidDataException">The tag is malformed, has field number 0, or a wire type ONNX does not use.</exception>
    public bool TryReadTag(out int field, out WireType wireType)
    {
        _fieldStart = _position;
        if (_position == _span.Length)
        {
            field = 0;
            wireType = default;
            return false;
        }
        ulong tag = ReadVarint();
        if (tag > MaxTag)
            throw Invalid($"tag {tag} has a field number over the 29-bit limit");
        field = (int)(tag >> 3);
        wireType = (WireType)(tag & 7);
        if (field == 0)
            throw Invalid("a field has number 0, which protobuf does not allow");
        if (wireType is WireType.StartGroup or WireType.EndGroup)
            throw Invalid($"field {field} is a group (wire type {(int)wireType}), which ONNX does not use");
        if (wireType is not (WireType.Varint or WireType.Fixed64 or WireType.LengthDelimited or WireType.Fixed32))
            throw Invalid($"field {field} has wire type {(int)wireType}, which protobuf does not define");
        return true;
    }

    /// <summary>Fails unless the field just tagged has the wire type its schema gives it.</summary>
    public readonly void Expect(int field, WireType actual, WireType expected)
    {
        if (actual != expected)
            throw Invalid($"field {field} has wire type {actual}, but the schema makes it {expected}");
    }

    /// <summary>Reads a base-128 varint of at most 10 bytes.</summary>
    public ulong ReadVarint()
    {
        ulong value = 0;
        for (int shift = 0; shift < 64; shift += 7)
        {
            if (_position == _span.Length)
                throw Invalid("a varint runs past the end of the message");
            byte b = _span[_position++];
            // The tenth byte holds bit 63 only.
            if (shift == 63 && b > 1)
                throw Invalid("a varint is longer than 64 bits");
            value |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80)
                return value;
        }
        throw Invalid("a varint is longer than 64 bits");
    }

    /// <summary>Reads an int64 varint (two's complement, as protobuf encodes negative values).</summary>
    public long ReadInt64() => (long)ReadVarint();

    /// <summary>Reads an int32 varint; values outside int32 are corrupt.</summary>
    public int ReadInt32()
    {
        long value = ReadInt64();
        if (value is < int.MinValue or > int.MaxValue)
            throw Invalid($"int32 field holds {value}, outside the int32 range");
        return (int)value;
    }

    /// <summary>Reads a 4-byte little-endian float.</summary>
    public float ReadFloat() => BinaryPrimitives.ReadSingleLittleEndian(Take(sizeof(float)));

    /// <summary>Reads the bytes of a length-delimited field, as a slice of the caller's buffer.</summary>
    public ReadOnlyMemory<byte> ReadBytes()
    {
        int length = ReadLength();
        var bytes = _memory.Slice(_position, length);
        _position += length;
        return bytes;
    }

    /// <summary>Reads a length-delimited field as strict UTF-8 text.</summary>
    public string ReadString()
    {
        int length = ReadLength();
        var text = _span.Slice(_position, length);
        _position += length;
        try
        {
            return StrictUtf8.GetString(text);
        }
        catch (DecoderFallbackException e)
        {
            throw Invalid($"a string field is not valid UTF-8 ({e.Message})", e);
        }
    }

    /// <summary>A reader of the sub-message in the length-delimited field just tagged.</summary>
    /// <param name="message">The sub-message's type, for error messages.</param>
    public ProtoReader ReadMessage(string message)
    {
        if (_depth + 1 > MaxDepth)
            throw Invalid($"messages are nested more than {MaxDepth} deep");
        int length = ReadLength();
        var reader = new ProtoReader(Source, message, _memory.Slice(_position, length), _origin + _position, _depth + 1);
        _position += length;
        return reader;
    }

    /// <summary>Skips the value of a field this reader does not use.</summary>
    public void Skip(WireType wireType)
    {
        switch (wireType)
        {
            case WireType.Varint:
                ReadVarint();
                break;
            case WireType.Fixed64:
                Take(sizeof(ulong));
                break;
            case WireType.Fixed32:
                Take(sizeof(uint));
                break;
            default:
                int length = ReadLength();
                _position += length;
                break;
        }
    }

    /// <summary>Appends a repeated int64 field, packed (one length-delimited run) or not (one varint).</summary>
    public void ReadRepeatedInt64(int field, WireType wireType, List<long> values)
    {
        if (wireType == WireType.Varint)
        {
            values.Add(ReadInt64());
            return;
        }
        Expect(field, wireType, WireType.LengthDelimited);
        int length = ReadLength();
        int end = _position + length;
        while (_position < end)
            values.Add(ReadInt64());
        if (_position != end)
            throw Invalid($"packed field {field} ends inside a varint");
    }

    /// <summary>Appends a repeated int32 field, packed or not.</summary>
    public void ReadRepeatedInt32(int field, WireType wireType, List<int> values)
    {
        if (wireType == WireType.Varint)
        {
            values.Add(ReadInt32());
            return;
        }
        Expect(field, wireType, WireType.LengthDelimited);
        int length = ReadLength();
        int end = _position + length;
        while (_position < end)
            values.Add(ReadInt32());
        if (_position != end)
            throw Invalid($"packed field {field} ends inside a varint");
    }

    /// <summary>Appends a repeated float field, packed (a run of 4-byte values) or not (one value).</summary>
    public void ReadRepeatedFloat(int field, WireType wireType, List<float> values)
    {
        if (wireType == WireType.Fixed32)
        {
            values.Add(ReadFloat());
            return;
        }
        Expect(field, wireType, WireType.LengthDelimited);
        int length = ReadLength();
        var run = _span.Slice(_position, length);
        if (run.Length % sizeof(float) != 0)
            throw Invalid($"packed float field {field} is {run.Length} bytes, not a multiple of 4");
        values.EnsureCapacity(values.Count + run.Length / sizeof(float));
        for (int i = 0; i < run.Length; i += sizeof(float))
            values.Add(BinaryPrimitives.ReadSingleLittleEndian(run[i..]));
        _position += run.Length;
    }

    /// <summary>An error naming the source, the message type, the offset of the field read last and the problem.</summary>
    public readonly InvalidDataException Invalid(string problem, Exception? inner = null) =>
        OnnxErrors.Invalid(Source, $"{Message} at byte {FieldPosition}: {problem}", inner);

    /// <summary>An error about the message as a whole, naming the offset where it begins.</summary>
    public readonly InvalidDataException InvalidMessage(string problem) =>
        OnnxErrors.Invalid(Source, $"{Message} beginning at byte {_origin}: {problem}");

    // Reads a length prefix and checks it against the rest of the message; the position is then
    // at the first byte of the payload.
    private int ReadLength()
    {
        ulong length = ReadVarint();
        int remaining = _span.Length - _position;
        if (length > (ulong)remaining)
            throw Invalid($"a length-delimited field claims {length} bytes, but only {remaining} remain in the message");
        return (int)length;
    }

    private ReadOnlySpan<byte> Take(int count)
    {
        int remaining = _span.Length - _position;
        if (count > remaining)
            throw Invalid($"a {count}-byte value runs past the end of the message ({remaining} bytes remain)");
        var bytes = _span.Slice(_position, count);
        _position += count;
        return bytes;
    }
}
