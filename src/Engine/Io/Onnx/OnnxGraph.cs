namespace Engine.Io.Onnx;

/// <summary>
/// An ONNX graph (GraphProto): its nodes in file order, its initializers (the stored weights and
/// constants, looked up by name) and the names of its inputs and outputs.
/// </summary>
public sealed class OnnxGraph
{
    // GraphProto field numbers (onnx.proto).
    private const int NodeField = 1, NameField = 2, InitializerField = 5, InputField = 11, OutputField = 12;

    // ValueInfoProto field numbers: only the name is kept.
    private const int ValueNameField = 1;

    private readonly Dictionary<string, OnnxTensor> _initializers;

    private OnnxGraph(string name, OnnxNode[] nodes, OnnxTensor[] initializers, Dictionary<string, OnnxTensor> byName, string[] inputs, string[] outputs)
    {
        Name = name;
        Nodes = nodes;
        Initializers = initializers;
        _initializers = byName;
        Inputs = inputs;
        Outputs = outputs;
    }

    /// <summary>The graph's name.</summary>
    public string Name { get; }

    /// <summary>The nodes in file order (ONNX requires a topological order).</summary>
    public IReadOnlyList<OnnxNode> Nodes { get; }

    /// <summary>The initializers in file order.</summary>
    public IReadOnlyList<OnnxTensor> Initializers { get; }

    /// <summary>Names of the graph's inputs.</summary>
    public IReadOnlyList<string> Inputs { get; }

    /// <summary>Names of the graph's outputs.</summary>
    public IReadOnlyList<string> Outputs { get; }

    /// <summary>The initializer named <paramref name="name"/>, or null when there is none.</summary>
    public OnnxTensor? Initializer(string name) => _initializers.GetValueOrDefault(name);

    /// <summary>Reads a GraphProto; initializer names must be unique.</summary>
    internal static OnnxGraph Parse(ProtoReader reader)
    {
        string name = "";
        var nodes = new List<OnnxNode>();
        var initializers = new List<OnnxTensor>();
        var byName = new Dictionary<string, OnnxTensor>(StringComparer.Ordinal);
        var inputs = new List<string>();
        var outputs = new List<string>();
        while (reader.TryReadTag(out int field, out var wire))
        {
            switch (field)
            {
                case NodeField:
                    reader.Expect(field, wire, WireType.LengthDelimited);
                    nodes.Add(OnnxNode.Parse(reader.ReadMessage("NodeProto")));
                    break;
                case NameField:
                    reader.Expect(field, wire, WireType.LengthDelimited);
                    name = reader.ReadString();
                    break;
                case InitializerField:
                    reader.Expect(field, wire, WireType.LengthDelimited);
                    var tensor = OnnxTensor.Parse(reader.ReadMessage("TensorProto"));
                    if (!byName.TryAdd(tensor.Name, tensor))
                        throw reader.Invalid($"initializer '{tensor.Name}' appears twice");
                    initializers.Add(tensor);
                    break;
                case InputField:
                case OutputField:
                    reader.Expect(field, wire, WireType.LengthDelimited);
                    (field == InputField ? inputs : outputs).Add(ReadValueName(reader.ReadMessage("ValueInfoProto")));
                    break;
                default:
                    reader.Skip(wire);
                    break;
            }
        }
        return new OnnxGraph(name, nodes.ToArray(), initializers.ToArray(), byName, inputs.ToArray(), outputs.ToArray());
    }

    private static string ReadValueName(ProtoReader reader)
    {
        string name = "";
        while (reader.TryReadTag(out int field, out var wire))
        {
            if (field == ValueNameField)
            {
                reader.Expect(field, wire, WireType.LengthDelimited);
                name = reader.ReadString();
            }
            else
            {
                reader.Skip(wire);
            }
        }
        return name;
    }
}
