namespace Engine.Io.Onnx;

/// <summary>An operator set a model imports: its domain (empty for the default ONNX domain) and version.</summary>
/// <param name="Domain">The operator set's domain.</param>
/// <param name="Version">The operator set's version.</param>
public sealed record OnnxOpset(string Domain, long Version);

/// <summary>
/// An ONNX model (ModelProto) read from its protobuf bytes: the IR version, the imported operator
/// sets, the producer and the graph. Only the parts an inference engine needs are kept; every
/// other field is skipped.
/// </summary>
/// <remarks>
/// Parsing checks the whole structure: every length against the bytes that remain, the wire type
/// of every field it reads, strict UTF-8 strings, nesting depth, and for each FLOAT, INT32 and
/// INT64 tensor that its data fills its shape exactly. Tensor payloads are not copied: the model
/// keeps slices of the buffer it was parsed from, which must not change while the model is used.
/// </remarks>
/// <example>
/// <code>
/// var model = OnnxModel.Parse("model.onnx", File.ReadAllBytes("model.onnx"));
/// float[] embeddings = model.Graph.Initializer("embeddings.word_embeddings.weight")!.ToFloats();
/// </code>
/// </example>
public sealed class OnnxModel
{
    // ModelProto field numbers (onnx.proto).
    private const int IrVersionField = 1, ProducerNameField = 2, ProducerVersionField = 3, GraphField = 7, OpsetImportField = 8;

    // OperatorSetIdProto field numbers.
    private const int OpsetDomainField = 1, OpsetVersionField = 2;

    private OnnxModel(string source, long irVersion, string producerName, string producerVersion, OnnxOpset[] opsets, OnnxGraph graph)
    {
        Source = source;
        IrVersion = irVersion;
        ProducerName = producerName;
        ProducerVersion = producerVersion;
        Opsets = opsets;
        Graph = graph;
    }

    /// <summary>The name the model was parsed under (error messages start with it).</summary>
    public string Source { get; }

    /// <summary>The ONNX IR version the model was written for.</summary>
    public long IrVersion { get; }

    /// <summary>The tool that wrote the model (for example "pytorch").</summary>
    public string ProducerName { get; }

    /// <summary>The version of that tool.</summary>
    public string ProducerVersion { get; }

    /// <summary>The operator sets the model imports.</summary>
    public IReadOnlyList<OnnxOpset> Opsets { get; }

    /// <summary>The model's graph.</summary>
    public OnnxGraph Graph { get; }

    /// <summary>Parses a serialized ModelProto.</summary>
    /// <param name="source">The file or resource the bytes come from; error messages start with it.</param>
    /// <param name="bytes">The model's bytes; the model keeps slices of them for its tensors' data.</param>
    /// <exception cref="InvalidDataException">The bytes are not a well-formed ONNX model; the message names the source, the byte offset and the problem.</exception>
    public static OnnxModel Parse(string source, ReadOnlyMemory<byte> bytes)
    {
        ArgumentNullException.ThrowIfNull(source);
        var reader = new ProtoReader(source, "ModelProto", bytes);
        long irVersion = 0;
        string producerName = "", producerVersion = "";
        var opsets = new List<OnnxOpset>();
        OnnxGraph? graph = null;
        while (reader.TryReadTag(out int field, out var wire))
        {
            switch (field)
            {
                case IrVersionField: reader.Expect(field, wire, WireType.Varint); irVersion = reader.ReadInt64(); break;
                case ProducerNameField: reader.Expect(field, wire, WireType.LengthDelimited); producerName = reader.ReadString(); break;
                case ProducerVersionField: reader.Expect(field, wire, WireType.LengthDelimited); producerVersion = reader.ReadString(); break;
                case GraphField: reader.Expect(field, wire, WireType.LengthDelimited); graph = OnnxGraph.Parse(reader.ReadMessage("GraphProto")); break;
                case OpsetImportField: reader.Expect(field, wire, WireType.LengthDelimited); opsets.Add(ReadOpset(reader.ReadMessage("OperatorSetIdProto"))); break;
                default: reader.Skip(wire); break;
            }
        }
        if (graph is null)
            throw OnnxErrors.Invalid(source, $"the model ({bytes.Length} bytes) has no graph");
        return new OnnxModel(source, irVersion, producerName, producerVersion, opsets.ToArray(), graph);
    }

    private static OnnxOpset ReadOpset(ProtoReader reader)
    {
        string domain = "";
        long version = 0;
        while (reader.TryReadTag(out int field, out var wire))
        {
            switch (field)
            {
                case OpsetDomainField: reader.Expect(field, wire, WireType.LengthDelimited); domain = reader.ReadString(); break;
                case OpsetVersionField: reader.Expect(field, wire, WireType.Varint); version = reader.ReadInt64(); break;
                default: reader.Skip(wire); break;
            }
        }
        return new OnnxOpset(domain, version);
    }
}
