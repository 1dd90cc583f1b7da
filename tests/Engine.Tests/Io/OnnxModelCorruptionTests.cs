using Engine.Io.Onnx;

namespace Engine.Tests;

// The ONNX parser on broken files: cut short anywhere, bad varints, lengths past the end, wrong
// wire types, impossible dimensions and data that does not fill its shape. Each gives an
// InvalidDataException that starts with the source's name.
public sealed class OnnxModelCorruptionTests
{
    private const string Source = "broken.onnx";

    private static InvalidDataException Refused(byte[] bytes)
    {
        var e = Assert.Throws<InvalidDataException>(() => OnnxModel.Parse(Source, bytes));
        Assert.StartsWith($"{Source}: ", e.Message);
        return e;
    }

    private static byte[] WithInitializer(ProtoWriter tensor) => OnnxMessages.Model(OnnxMessages.Graph([], [tensor], [], []));

    [Fact]
    public void Every_strict_prefix_of_a_model_is_refused()
    {
        byte[] bytes = new OnnxTinyBert().Build();
        BertOnnxWeights.Load(Source, bytes);
        for (int length = 0; length < bytes.Length; length++)
        {
            var e = Assert.Throws<InvalidDataException>(() => BertOnnxWeights.Load(Source, bytes.AsMemory(0, length)));
            Assert.StartsWith($"{Source}: ", e.Message);
        }
    }

    [Fact]
    public void A_model_without_a_graph_is_refused()
    {
        Assert.Contains("has no graph", Refused([]).Message);
        Assert.Contains("has no graph", Refused(new ProtoWriter().Int(1, 7).ToArray()).Message);
    }

    [Theory]
    [InlineData(new byte[] { 0x38, 0x05 }, "ModelProto at byte 0: field 7 has wire type Varint")]
    [InlineData(new byte[] { 0x08, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01 }, "longer than 64 bits")]
    [InlineData(new byte[] { 0x08, 0x01, 0x3A, 0x10, 0x0A }, "ModelProto at byte 2: a length-delimited field claims 16 bytes, but only 1 remain")]
    [InlineData(new byte[] { 0x3A, 0x02, 0x0A, 0x05 }, "GraphProto at byte 2: a length-delimited field claims 5 bytes, but only 0 remain")]
    [InlineData(new byte[] { 0x3A, 0x02, 0x08, 0x01 }, "GraphProto at byte 2: field 1 has wire type Varint")]
    [InlineData(new byte[] { 0x3A, 0x04, 0x0A, 0x02, 0x0A, 0x00 }, "has no op_type")]
    [InlineData(new byte[] { 0x3A, 0x03, 0x0A, 0x01, 0x0B }, "NodeProto at byte 4: field 1 is a group")]
    [InlineData(new byte[] { 0x3A, 0x04, 0x12, 0x02, 0xC3, 0x28 }, "GraphProto at byte 2: a string field is not valid UTF-8")]
    public void Broken_structure_is_refused_with_its_message_and_offset(byte[] bytes, string problem) =>
        Assert.Contains(problem, Refused(bytes).Message);

    [Fact]
    public void A_length_past_the_end_of_a_nested_message_is_refused()
    {
        var tensor = OnnxMessages.Tensor("w", OnnxMessages.FloatType, [2]).Tag(9, 2).Varint(100).Raw(1, 2, 3);
        Assert.Contains("TensorProto at byte", Refused(WithInitializer(tensor)).Message);
        Assert.Contains("claims 100 bytes, but only 3 remain", Refused(WithInitializer(tensor)).Message);
    }

    [Theory]
    [InlineData(new long[] { 1L << 31 }, "has dimension 2147483648, outside [0, 2147483647]")]
    [InlineData(new long[] { -1 }, "has dimension -1, outside")]
    [InlineData(new long[] { 1 << 30, 1 << 30 }, "shape [1073741824, 1073741824] has more elements than an array holds")]
    [InlineData(new long[] { int.MaxValue, int.MaxValue, int.MaxValue, int.MaxValue }, "shape [2147483647, 2147483647, 2147483647, 2147483647] has more elements than an array holds")]
    [InlineData(new long[] { 1 << 30, 1 << 30, 0 }, "has 4 bytes of raw_data, but its 0 Float elements need 0")]
    public void Impossible_dimensions_are_refused(long[] dims, string problem)
    {
        var tensor = OnnxMessages.Tensor("w", OnnxMessages.FloatType, dims).Bytes(9, new byte[4]);
        Assert.Contains($"tensor 'w' {problem}", Refused(WithInitializer(tensor)).Message);
    }

    [Fact]
    public void More_than_64_dimensions_are_refused()
    {
        var tensor = OnnxMessages.Tensor("w", OnnxMessages.FloatType, Enumerable.Repeat(1L, 65)).Bytes(9, new byte[4]);
        Assert.Contains("tensor 'w' has 65 dimensions, more than 64", Refused(WithInitializer(tensor)).Message);
    }

    [Theory]
    [InlineData(OnnxMessages.FloatType, 20, "has 20 bytes of raw_data, but its 6 Float elements need 24")]
    [InlineData(OnnxMessages.Int64Type, 24, "has 24 bytes of raw_data, but its 6 Int64 elements need 48")]
    [InlineData(OnnxMessages.Int32Type, 28, "has 28 bytes of raw_data, but its 6 Int32 elements need 24")]
    public void Raw_data_must_fill_the_shape_exactly(int dataType, int bytes, string problem)
    {
        var tensor = OnnxMessages.Tensor("w", dataType, [2, 3]).Bytes(9, new byte[bytes]);
        Assert.Contains($"tensor 'w' {problem}", Refused(WithInitializer(tensor)).Message);
    }

    [Fact]
    public void Typed_data_must_fill_the_shape_and_be_the_only_data()
    {
        var floats = new ProtoWriter().Raw(new byte[8]);
        Assert.Contains("has 2 elements in float_data, but its shape needs 3",
            Refused(WithInitializer(OnnxMessages.Tensor("w", OnnxMessages.FloatType, [3]).Bytes(4, floats.ToArray()))).Message);
        Assert.Contains("holds elements in both raw_data and float_data",
            Refused(WithInitializer(OnnxMessages.Tensor("w", OnnxMessages.FloatType, [2]).Bytes(4, floats.ToArray()).Bytes(9, new byte[8]))).Message);
        Assert.Contains("is Float but holds elements in a field of another type",
            Refused(WithInitializer(OnnxMessages.Tensor("w", OnnxMessages.FloatType, [1]).PackedInt64(7, [5]))).Message);
        Assert.Contains("has 0 elements in float_data, but its shape needs 2",
            Refused(WithInitializer(OnnxMessages.Tensor("w", OnnxMessages.FloatType, [2]))).Message);
    }

    [Fact]
    public void Tensors_read_as_their_type_only()
    {
        byte[] bytes = OnnxMessages.Model(OnnxMessages.Graph([], [
            OnnxMessages.Tensor("i32", OnnxMessages.Int32Type, [3]).PackedInt64(5, [1, -2, 3]),
            OnnxMessages.Int64Tensor("i64", [2], [long.MinValue, 7]),
            OnnxMessages.FloatTensor("f", [], [2.5f]),
            OnnxMessages.Tensor("empty", OnnxMessages.FloatType, [0, 4]),
        ], [], []));
        var graph = OnnxModel.Parse(Source, bytes).Graph;

        Assert.Equal([1L, -2L, 3L], graph.Initializer("i32")!.ToInt64s());
        Assert.Equal([long.MinValue, 7L], graph.Initializer("i64")!.ToInt64s());
        Assert.Equal([2.5f], graph.Initializer("f")!.ToFloats());
        Assert.Equal(1, graph.Initializer("f")!.ElementCount);
        Assert.Empty(graph.Initializer("empty")!.ToFloats());
        Assert.Contains("tensor 'i64' Int64 [2] cannot be read as Float", Assert.Throws<InvalidDataException>(() => graph.Initializer("i64")!.ToFloats()).Message);
        Assert.Contains("cannot be read as Int64", Assert.Throws<InvalidDataException>(() => graph.Initializer("f")!.ToInt64s()).Message);
    }

    [Fact]
    public void Unknown_fields_are_skipped()
    {
        var graph = OnnxMessages.Graph([OnnxMessages.Node("Relu", "relu", ["x"], ["y"]).Int(99, 1).Float(98, 1f).Bytes(97, [1, 2])], [], ["x"], ["y"]);
        byte[] bytes = new ProtoWriter().Int(1, 8).Tag(100, 1).Raw(new byte[8]).Message(7, graph.Int(50, 3)).Bytes(14, [0x0A, 0x00]).ToArray();
        var model = OnnxModel.Parse(Source, bytes);
        Assert.Equal(8, model.IrVersion);
        Assert.Equal("Relu", model.Graph.Nodes.Single().OpType);
        Assert.Equal(["x"], model.Graph.Inputs);
        Assert.Equal(["y"], model.Graph.Outputs);
    }
}
