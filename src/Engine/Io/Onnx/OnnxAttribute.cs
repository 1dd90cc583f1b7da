namespace Engine.Io.Onnx;

/// <summary>
/// A node attribute (AttributeProto): its name and whichever of the float, int, string, tensor,
/// floats and ints values it carries. Graph-valued and other attribute kinds are skipped.
/// </summary>
public sealed class OnnxAttribute
{
    // AttributeProto field numbers (onnx.proto).
    private const int NameField = 1, FloatField = 2, IntField = 3, StringField = 4, TensorField = 5;
    private const int FloatsField = 7, IntsField = 8;

    private OnnxAttribute(string name, float? f, long? i, ReadOnlyMemory<byte>? s, OnnxTensor? t, float[] floats, long[] ints)
    {
        Name = name;
        Float = f;
        Int = i;
        Bytes = s;
        Tensor = t;
        Floats = floats;
        Ints = ints;
    }

    /// <summary>The attribute's name.</summary>
    public string Name { get; }

    /// <summary>The float value (field f), when present.</summary>
    public float? Float { get; }

    /// <summary>The integer value (field i), when present.</summary>
    public long? Int { get; }

    /// <summary>The string value (field s) as its bytes, when present.</summary>
    public ReadOnlyMemory<byte>? Bytes { get; }

    /// <summary>The tensor value (field t), when present.</summary>
    public OnnxTensor? Tensor { get; }

    /// <summary>The list of floats (field floats); empty when absent.</summary>
    public IReadOnlyList<float> Floats { get; }

    /// <summary>The list of integers (field ints); empty when absent.</summary>
    public IReadOnlyList<long> Ints { get; }

    /// <inheritdoc />
    public override string ToString() => Name;

    /// <summary>Reads an AttributeProto.</summary>
    internal static OnnxAttribute Parse(ProtoReader reader)
    {
        string name = "";
        float? f = null;
        long? i = null;
        ReadOnlyMemory<byte>? s = null;
        OnnxTensor? t = null;
        var floats = new List<float>();
        var ints = new List<long>();
        while (reader.TryReadTag(out int field, out var wire))
        {
            switch (field)
            {
                case NameField: reader.Expect(field, wire, WireType.LengthDelimited); name = reader.ReadString(); break;
                case FloatField: reader.Expect(field, wire, WireType.Fixed32); f = reader.ReadFloat(); break;
                case IntField: reader.Expect(field, wire, WireType.Varint); i = reader.ReadInt64(); break;
                case StringField: reader.Expect(field, wire, WireType.LengthDelimited); s = reader.ReadBytes(); break;
                case TensorField: reader.Expect(field, wire, WireType.LengthDelimited); t = OnnxTensor.Parse(reader.ReadMessage("TensorProto")); break;
                case FloatsField: reader.ReadRepeatedFloat(field, wire, floats); break;
                case IntsField: reader.ReadRepeatedInt64(field, wire, ints); break;
                default: reader.Skip(wire); break;
            }
        }
        return new OnnxAttribute(name, f, i, s, t, floats.ToArray(), ints.ToArray());
    }
}
