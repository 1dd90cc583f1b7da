using Engine.Io.Onnx;

namespace Engine.Tests;

// The protobuf wire-format reader under the ONNX parser: varints, fixed-width values, lengths,
// packed runs, tags and nesting, each with the ways it can be broken.
public sealed class OnnxProtoReaderTests
{
    private const string Source = "test.onnx";

    private static ProtoReader Reader(params byte[] bytes) => new(Source, "TestProto", bytes);

    private static InvalidDataException Broken(byte[] bytes, Action<byte[]> read)
    {
        var e = Assert.Throws<InvalidDataException>(() => read(bytes));
        Assert.StartsWith($"{Source}: TestProto", e.Message);
        return e;
    }

    [Theory]
    [InlineData(new byte[] { 0x00 }, 0UL)]
    [InlineData(new byte[] { 0x7F }, 127UL)]
    [InlineData(new byte[] { 0x80, 0x01 }, 128UL)]
    [InlineData(new byte[] { 0xAC, 0x02 }, 300UL)]
    [InlineData(new byte[] { 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01 }, ulong.MaxValue)]
    [InlineData(new byte[] { 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01 }, 1UL << 63)]
    [InlineData(new byte[] { 0x80, 0x00 }, 0UL)]
    public void Varints_decode_low_groups_first(byte[] bytes, ulong expected)
    {
        var reader = Reader(bytes);
        Assert.Equal(expected, reader.ReadVarint());
        Assert.False(reader.TryReadTag(out _, out _));
    }

    [Fact]
    public void Negative_int64_takes_ten_bytes_and_int32_checks_its_range()
    {
        var reader = Reader(0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01, 0x80, 0x80, 0x80, 0x80, 0x08);
        Assert.Equal(-1L, reader.ReadInt64());
        Assert.Contains("outside the int32 range", Broken([0x80, 0x80, 0x80, 0x80, 0x08], b => Reader(b).ReadInt32()).Message);
    }

    [Theory]
    [InlineData(new byte[] { 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x02 }, "longer than 64 bits")]
    [InlineData(new byte[] { 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x81, 0x00 }, "longer than 64 bits")]
    [InlineData(new byte[] { 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01 }, "longer than 64 bits")]
    [InlineData(new byte[] { 0x80 }, "runs past the end")]
    [InlineData(new byte[] { }, "runs past the end")]
    public void Bad_varints_are_refused(byte[] bytes, string problem) =>
        Assert.Contains(problem, Broken(bytes, b => Reader(b).ReadVarint()).Message);

    [Theory]
    [InlineData(new byte[] { 0x00 }, "number 0")]
    [InlineData(new byte[] { 0x0B }, "group")]
    [InlineData(new byte[] { 0x0C }, "group")]
    [InlineData(new byte[] { 0x0E }, "wire type 6")]
    [InlineData(new byte[] { 0x0F }, "wire type 7")]
    [InlineData(new byte[] { 0x80, 0x80, 0x80, 0x80, 0x20 }, "29-bit")]
    public void Bad_tags_are_refused(byte[] bytes, string problem) =>
        Assert.Contains(problem, Broken(bytes, b => Reader(b).TryReadTag(out _, out _)).Message);

    [Fact]
    public void Tags_give_field_and_wire_type_and_every_wire_type_skips()
    {
        // field 1 varint 300; field 2 fixed64; field 3 "abc"; field 4 fixed32; field 536870911 varint 0
        var reader = Reader(0x08, 0xAC, 0x02, 0x11, 1, 2, 3, 4, 5, 6, 7, 8, 0x1A, 3, (byte)'a', (byte)'b', (byte)'c', 0x25, 1, 2, 3, 4, 0xF8, 0xFF, 0xFF, 0xFF, 0x0F, 0x00);
        var seen = new List<(int, WireType)>();
        while (reader.TryReadTag(out int field, out var wire))
        {
            seen.Add((field, wire));
            reader.Skip(wire);
        }
        Assert.Equal([(1, WireType.Varint), (2, WireType.Fixed64), (3, WireType.LengthDelimited), (4, WireType.Fixed32), ((1 << 29) - 1, WireType.Varint)], seen);
    }

    [Theory]
    [InlineData(new byte[] { 0x0A, 0x05, 1, 2, 3 }, "claims 5 bytes, but only 3 remain")]
    [InlineData(new byte[] { 0x0A, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F }, "claims 4294967295 bytes")]
    [InlineData(new byte[] { 0x0A, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01 }, "claims 18446744073709551615 bytes")]
    [InlineData(new byte[] { 0x09, 1, 2, 3 }, "8-byte value runs past the end")]
    [InlineData(new byte[] { 0x0D, 1, 2, 3 }, "4-byte value runs past the end")]
    public void Lengths_past_the_end_are_refused(byte[] bytes, string problem) =>
        Assert.Contains(problem, Broken(bytes, b =>
        {
            var reader = Reader(b);
            reader.TryReadTag(out _, out var wire);
            reader.Skip(wire);
        }).Message);

    [Fact]
    public void Repeated_scalars_read_packed_and_unpacked()
    {
        var reader = Reader(0x08, 0x05, 0x0A, 0x03, 0x01, 0xAC, 0x02, 0x15, 0x00, 0x00, 0x80, 0x3F, 0x12, 0x04, 0x00, 0x00, 0x00, 0x40);
        var ints = new List<long>();
        var floats = new List<float>();
        while (reader.TryReadTag(out int field, out var wire))
        {
            if (field == 1)
                reader.ReadRepeatedInt64(field, wire, ints);
            else
                reader.ReadRepeatedFloat(field, wire, floats);
        }
        Assert.Equal([5L, 1L, 300L], ints);
        Assert.Equal([1f, 2f], floats);
    }

    [Theory]
    [InlineData(new byte[] { 0x0A, 0x02, 0x01, 0x80, 0x01 }, "ends inside a varint")]
    [InlineData(new byte[] { 0x09, 0, 0, 0, 0, 0, 0, 0, 0 }, "field 1 has wire type Fixed64, but the schema makes it LengthDelimited")]
    public void Broken_repeated_integers_are_refused(byte[] bytes, string problem) =>
        Assert.Contains(problem, Broken(bytes, b =>
        {
            var reader = Reader(b);
            reader.TryReadTag(out int field, out var wire);
            reader.ReadRepeatedInt64(field, wire, []);
        }).Message);

    [Theory]
    [InlineData(new byte[] { 0x0A, 0x03, 0x00, 0x00, 0x80 }, "is 3 bytes, not a multiple of 4")]
    [InlineData(new byte[] { 0x08, 0x01 }, "field 1 has wire type Varint, but the schema makes it LengthDelimited")]
    public void Broken_repeated_floats_are_refused(byte[] bytes, string problem) =>
        Assert.Contains(problem, Broken(bytes, b =>
        {
            var reader = Reader(b);
            reader.TryReadTag(out int field, out var wire);
            reader.ReadRepeatedFloat(field, wire, []);
        }).Message);

    [Theory]
    [InlineData(new byte[] { 0xC3, 0x28 })]
    [InlineData(new byte[] { 0xC3, 0xA9, 0xE2, 0x9C })]
    [InlineData(new byte[] { 0xED, 0xA0, 0x80 })]
    [InlineData(new byte[] { 0xFF })]
    public void Strings_must_be_utf8(byte[] text)
    {
        Assert.Contains("not valid UTF-8", Broken([0x0A, (byte)text.Length, .. text], b =>
        {
            var reader = Reader(b);
            reader.TryReadTag(out _, out _);
            reader.ReadString();
        }).Message);
        var valid = Reader(0x0A, 0x02, 0xC3, 0xA9);
        valid.TryReadTag(out _, out _);
        Assert.Equal("é", valid.ReadString());
    }

    [Fact]
    public void Nesting_is_capped_and_offsets_count_from_the_outermost_message()
    {
        // 40 messages, each the only field (number 1) of the one around it.
        byte[] bytes = [];
        for (int i = 0; i < 40; i++)
            bytes = [0x0A, (byte)bytes.Length, .. bytes];

        var reader = Reader(bytes);
        for (int depth = 1; depth <= ProtoReader.MaxDepth; depth++)
        {
            Assert.True(reader.TryReadTag(out _, out _));
            reader = reader.ReadMessage("TestProto");
            Assert.Equal(2 * depth, reader.Position);
        }
        Assert.True(reader.TryReadTag(out _, out _));
        Assert.Equal(2 * ProtoReader.MaxDepth, reader.FieldPosition);
        var error = Assert.Throws<InvalidDataException>(() =>
        {
            var deepest = Reader(bytes);
            for (int depth = 0; depth <= ProtoReader.MaxDepth; depth++)
            {
                deepest.TryReadTag(out _, out _);
                deepest = deepest.ReadMessage("TestProto");
            }
        });
        Assert.Contains($"more than {ProtoReader.MaxDepth} deep", error.Message);
        Assert.Contains($"at byte {2 * ProtoReader.MaxDepth}", error.Message);
    }
}
