namespace Engine.Io.Onnx;

/// <summary>A node of an ONNX graph (NodeProto): an operator applied to named values, giving named values.</summary>
public sealed class OnnxNode
{
    // NodeProto field numbers (onnx.proto).
    private const int InputField = 1, OutputField = 2, NameField = 3, OpTypeField = 4, AttributeField = 5, DomainField = 7;

    private OnnxNode(string name, string opType, string domain, string[] inputs, string[] outputs, OnnxAttribute[] attributes)
    {
        Name = name;
        OpType = opType;
        Domain = domain;
        Inputs = inputs;
        Outputs = outputs;
        Attributes = attributes;
    }

    /// <summary>The node's name (may be empty).</summary>
    public string Name { get; }

    /// <summary>The operator, for example "MatMul".</summary>
    public string OpType { get; }

    /// <summary>The operator's domain: empty for the default ONNX operator set.</summary>
    public string Domain { get; }

    /// <summary>Names of the values the node reads, in operator order (an empty name is an omitted optional input).</summary>
    public IReadOnlyList<string> Inputs { get; }

    /// <summary>Names of the values the node produces.</summary>
    public IReadOnlyList<string> Outputs { get; }

    /// <summary>The node's attributes in file order.</summary>
    public IReadOnlyList<OnnxAttribute> Attributes { get; }

    /// <summary>The attribute named <paramref name="name"/>, or null when the node has none.</summary>
    public OnnxAttribute? Attribute(string name)
    {
        foreach (var attribute in Attributes)
        {
            if (attribute.Name == name)
                return attribute;
        }
        return null;
    }

    /// <inheritdoc />
    public override string ToString() => $"{OpType} node '{Name}'";

    /// <summary>Reads a NodeProto.</summary>
    internal static OnnxNode Parse(ProtoReader reader)
    {
        string name = "", opType = "", domain = "";
        var inputs = new List<string>();
        var outputs = new List<string>();
        var attributes = new List<OnnxAttribute>();
        while (reader.TryReadTag(out int field, out var wire))
        {
            switch (field)
            {
                case InputField: reader.Expect(field, wire, WireType.LengthDelimited); inputs.Add(reader.ReadString()); break;
                case OutputField: reader.Expect(field, wire, WireType.LengthDelimited); outputs.Add(reader.ReadString()); break;
                case NameField: reader.Expect(field, wire, WireType.LengthDelimited); name = reader.ReadString(); break;
                case OpTypeField: reader.Expect(field, wire, WireType.LengthDelimited); opType = reader.ReadString(); break;
                case AttributeField: reader.Expect(field, wire, WireType.LengthDelimited); attributes.Add(OnnxAttribute.Parse(reader.ReadMessage("AttributeProto"))); break;
                case DomainField: reader.Expect(field, wire, WireType.LengthDelimited); domain = reader.ReadString(); break;
                default: reader.Skip(wire); break;
            }
        }
        if (opType.Length == 0)
            throw reader.InvalidMessage($"node '{name}' has no op_type");
        return new OnnxNode(name, opType, domain, inputs.ToArray(), outputs.ToArray(), attributes.ToArray());
    }
}
