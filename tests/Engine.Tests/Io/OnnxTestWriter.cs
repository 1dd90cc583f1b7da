using System.Buffers.Binary;
using System.Text;

namespace Engine.Tests;

// Writes protobuf messages byte by byte, as the wire format describes them: for building ONNX
// models in tests, well-formed or broken on purpose. Field numbers are onnx.proto's.
internal sealed class ProtoWriter
{
    private readonly List<byte> _bytes = [];

    public byte[] ToArray() => [.. _bytes];

    public ProtoWriter Tag(int field, int wireType) => Varint((ulong)field << 3 | (uint)wireType);

    public ProtoWriter Varint(ulong value)
    {
        while (value >= 0x80)
        {
            _bytes.Add((byte)(value | 0x80));
            value >>= 7;
        }
        _bytes.Add((byte)value);
        return this;
    }

    public ProtoWriter Int(int field, long value) => Tag(field, 0).Varint((ulong)value);

    public ProtoWriter Float(int field, float value)
    {
        Tag(field, 5);
        Span<byte> bytes = stackalloc byte[4];
        BinaryPrimitives.WriteSingleLittleEndian(bytes, value);
        _bytes.AddRange(bytes.ToArray());
        return this;
    }

    public ProtoWriter Bytes(int field, ReadOnlySpan<byte> value)
    {
        Tag(field, 2).Varint((ulong)value.Length);
        _bytes.AddRange(value.ToArray());
        return this;
    }

    public ProtoWriter String(int field, string value) => Bytes(field, Encoding.UTF8.GetBytes(value));

    public ProtoWriter Message(int field, ProtoWriter message) => Bytes(field, message.ToArray());

    public ProtoWriter PackedInt64(int field, IEnumerable<long> values)
    {
        var run = new ProtoWriter();
        foreach (long value in values)
            run.Varint((ulong)value);
        return Bytes(field, run.ToArray());
    }

    public ProtoWriter Raw(params byte[] bytes)
    {
        _bytes.AddRange(bytes);
        return this;
    }
}

// ONNX messages (ModelProto, GraphProto, NodeProto, AttributeProto, TensorProto) for tests.
internal static class OnnxMessages
{
    public const int FloatType = 1, Int32Type = 6, Int64Type = 7;

    public static ProtoWriter FloatTensor(string name, int[] dims, float[] values) =>
        Tensor(name, FloatType, dims).Bytes(9, values.SelectMany(BitConverter.GetBytes).ToArray());

    public static ProtoWriter Int64Tensor(string name, int[] dims, long[] values) =>
        Tensor(name, Int64Type, dims).Bytes(9, values.SelectMany(BitConverter.GetBytes).ToArray());

    // dims, data_type and name; the caller adds the data.
    public static ProtoWriter Tensor(string name, int dataType, IEnumerable<long> dims)
    {
        var tensor = new ProtoWriter().PackedInt64(1, dims).Int(2, dataType);
        return name.Length > 0 ? tensor.String(8, name) : tensor;
    }

    public static ProtoWriter Tensor(string name, int dataType, int[] dims) => Tensor(name, dataType, dims.Select(d => (long)d));

    public static ProtoWriter Node(string op, string name, string[] inputs, string[] outputs, params ProtoWriter[] attributes)
    {
        var node = new ProtoWriter();
        foreach (string input in inputs)
            node.String(1, input);
        foreach (string output in outputs)
            node.String(2, output);
        node.String(3, name).String(4, op);
        foreach (var attribute in attributes)
            node.Message(5, attribute);
        return node;
    }

    public static ProtoWriter IntAttribute(string name, long value) => new ProtoWriter().String(1, name).Int(3, value).Int(20, 2);

    public static ProtoWriter FloatAttribute(string name, float value) => new ProtoWriter().String(1, name).Float(2, value).Int(20, 1);

    public static ProtoWriter IntsAttribute(string name, params long[] values) => new ProtoWriter().String(1, name).PackedInt64(8, values).Int(20, 7);

    public static ProtoWriter TensorAttribute(string name, ProtoWriter tensor) => new ProtoWriter().String(1, name).Message(5, tensor).Int(20, 4);

    // A ValueInfoProto with only its name.
    public static ProtoWriter Value(string name) => new ProtoWriter().String(1, name);

    public static ProtoWriter Graph(IEnumerable<ProtoWriter> nodes, IEnumerable<ProtoWriter> initializers, string[] inputs, string[] outputs)
    {
        var graph = new ProtoWriter();
        foreach (var node in nodes)
            graph.Message(1, node);
        graph.String(2, "test_graph");
        foreach (var initializer in initializers)
            graph.Message(5, initializer);
        foreach (string input in inputs)
            graph.Message(11, Value(input));
        foreach (string output in outputs)
            graph.Message(12, Value(output));
        return graph;
    }

    // The graph goes last, so that every strict prefix of the model lacks it or cuts it short.
    public static byte[] Model(ProtoWriter graph, long opset = 13) =>
        new ProtoWriter()
            .Int(1, 7)
            .String(2, "engine-tests")
            .Message(8, new ProtoWriter().String(1, "").Int(2, opset))
            .Message(7, graph)
            .ToArray();
}
