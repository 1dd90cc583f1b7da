using System.Runtime.InteropServices;

namespace Engine.Io.Onnx;

/// <summary>
/// An ONNX tensor (TensorProto): an initializer of a graph, or the value of a Constant node.
/// Its dimensions and, for FLOAT, INT32 and INT64, the size of its data are checked when it is
/// parsed; its elements are decoded when asked for.
/// </summary>
/// <remarks>
/// The elements are stored either as raw little-endian bytes (raw_data) or in the typed field of
/// their type (float_data, int32_data, int64_data), never both. Tensors whose data lies in
/// another file (external data) can be parsed but not read.
/// </remarks>
public sealed class OnnxTensor
{
    /// <summary>Most dimensions a tensor may have: bounds what one hostile shape can make us allocate.</summary>
    public const int MaxRank = 64;

    // TensorProto field numbers (onnx.proto).
    private const int DimsField = 1, DataTypeField = 2, FloatDataField = 4, Int32DataField = 5, Int64DataField = 7;
    private const int NameField = 8, RawDataField = 9, ExternalDataField = 13, DataLocationField = 14;
    private const int ExternalLocation = 1;

    private readonly string _source;
    private readonly ReadOnlyMemory<byte>? _raw;
    private readonly float[] _floats;
    private readonly int[] _int32s;
    private readonly long[] _int64s;
    private readonly int[] _shape;

    private OnnxTensor(string source, string name, OnnxDataType dataType, int[] shape, long count, bool isExternal,
        ReadOnlyMemory<byte>? raw, float[] floats, int[] int32s, long[] int64s)
    {
        _source = source;
        Name = name;
        DataType = dataType;
        _shape = shape;
        ElementCount = count;
        IsExternal = isExternal;
        _raw = raw;
        _floats = floats;
        _int32s = int32s;
        _int64s = int64s;
    }

    /// <summary>The tensor's name (empty for the value of a Constant node).</summary>
    public string Name { get; }

    /// <summary>The element type.</summary>
    public OnnxDataType DataType { get; }

    /// <summary>Sizes of the dimensions (empty for a scalar).</summary>
    public ReadOnlySpan<int> Shape => _shape;

    /// <summary>Number of elements (1 for a scalar).</summary>
    public long ElementCount { get; }

    /// <summary>True when the elements are stored in another file (external data), which this reader does not follow.</summary>
    public bool IsExternal { get; }

    /// <summary>The elements of a FLOAT tensor, row-major.</summary>
    /// <exception cref="InvalidDataException">The tensor is not FLOAT or its data is external.</exception>
    public float[] ToFloats()
    {
        RequireReadable(OnnxDataType.Float);
        return _raw is { } raw ? FromRaw<float>(raw) : (float[])_floats.Clone();
    }

    /// <summary>The elements of an INT64 or INT32 tensor, row-major, as int64.</summary>
    /// <exception cref="InvalidDataException">The tensor has another type or its data is external.</exception>
    public long[] ToInt64s()
    {
        if (DataType == OnnxDataType.Int32)
        {
            RequireReadable(OnnxDataType.Int32);
            return Array.ConvertAll(_raw is { } raw ? FromRaw<int>(raw) : _int32s, v => (long)v);
        }
        RequireReadable(OnnxDataType.Int64);
        return _raw is { } bytes ? FromRaw<long>(bytes) : (long[])_int64s.Clone();
    }

    /// <inheritdoc />
    public override string ToString() => $"{Label(Name)} {DataType} {ShapeMath.Format(_shape)}";

    /// <summary>Reads a TensorProto and checks its shape and the size of its data.</summary>
    internal static OnnxTensor Parse(ProtoReader reader)
    {
        var dims = new List<long>();
        var floats = new List<float>();
        var int32s = new List<int>();
        var int64s = new List<long>();
        string name = "";
        int dataType = 0;
        ReadOnlyMemory<byte>? raw = null;
        bool isExternal = false;
        while (reader.TryReadTag(out int field, out var wire))
        {
            switch (field)
            {
                case DimsField: reader.ReadRepeatedInt64(field, wire, dims); break;
                case DataTypeField: reader.Expect(field, wire, WireType.Varint); dataType = reader.ReadInt32(); break;
                case FloatDataField: reader.ReadRepeatedFloat(field, wire, floats); break;
                case Int32DataField: reader.ReadRepeatedInt32(field, wire, int32s); break;
                case Int64DataField: reader.ReadRepeatedInt64(field, wire, int64s); break;
                case NameField: reader.Expect(field, wire, WireType.LengthDelimited); name = reader.ReadString(); break;
                case RawDataField: reader.Expect(field, wire, WireType.LengthDelimited); raw = reader.ReadBytes(); break;
                case ExternalDataField: reader.Expect(field, wire, WireType.LengthDelimited); reader.Skip(wire); isExternal = true; break;
                case DataLocationField: reader.Expect(field, wire, WireType.Varint); isExternal |= reader.ReadInt64() == ExternalLocation; break;
                default: reader.Skip(wire); break;
            }
        }

        string label = Label(name);
        var (shape, count) = CheckShape(reader, label, dims);
        var type = (OnnxDataType)dataType;
        if (!isExternal)
            CheckData(reader, label, type, count, raw, floats.Count, int32s.Count, int64s.Count);
        return new OnnxTensor(reader.Source, name, type, shape, count, isExternal, raw, floats.ToArray(), int32s.ToArray(), int64s.ToArray());
    }

    private static (int[] Shape, long Count) CheckShape(ProtoReader reader, string label, List<long> dims)
    {
        if (dims.Count > MaxRank)
            throw reader.InvalidMessage($"{label} has {dims.Count} dimensions, more than {MaxRank}");
        var shape = new int[dims.Count];
        long count = 1;
        for (int i = 0; i < dims.Count; i++)
        {
            if (dims[i] is < 0 or > int.MaxValue)
                throw reader.InvalidMessage($"{label} has dimension {dims[i]}, outside [0, {int.MaxValue}]");
            shape[i] = (int)dims[i];
            // Past Array.MaxLength no tensor can be read; stopping there also keeps the product from overflowing.
            count = Math.Min(count * shape[i], (long)Array.MaxLength + 1);
        }
        if (count > Array.MaxLength)
            throw reader.InvalidMessage($"{label} shape {ShapeMath.Format(shape)} has more elements than an array holds");
        return (shape, count);
    }

    // For the types this reader decodes: exactly one place holds the elements, and it holds all of them.
    private static void CheckData(ProtoReader reader, string label, OnnxDataType type, long count, ReadOnlyMemory<byte>? raw, int floats, int int32s, int int64s)
    {
        (int typed, int elementSize, string field) = type switch
        {
            OnnxDataType.Float => (floats, sizeof(float), "float_data"),
            OnnxDataType.Int32 => (int32s, sizeof(int), "int32_data"),
            OnnxDataType.Int64 => (int64s, sizeof(long), "int64_data"),
            _ => (-1, 0, ""),
        };
        if (typed < 0)
            return;
        if (floats + int32s + int64s != typed)
            throw reader.InvalidMessage($"{label} is {type} but holds elements in a field of another type");
        if (raw is { } bytes)
        {
            if (typed > 0)
                throw reader.InvalidMessage($"{label} holds elements in both raw_data and {field}");
            if (bytes.Length != count * elementSize)
                throw reader.InvalidMessage($"{label} has {bytes.Length} bytes of raw_data, but its {count} {type} elements need {count * elementSize}");
        }
        else if (typed != count)
        {
            throw reader.InvalidMessage($"{label} has {typed} elements in {field}, but its shape needs {count}");
        }
    }

    private void RequireReadable(OnnxDataType type)
    {
        if (DataType != type)
            throw OnnxErrors.Invalid(_source, $"{this} cannot be read as {type}");
        if (IsExternal)
            throw OnnxErrors.Invalid(_source, $"{this} keeps its data in an external file, which is not supported");
        if (!BitConverter.IsLittleEndian)
            throw new PlatformNotSupportedException("ONNX: reading raw tensor data needs a little-endian machine.");
    }

    private T[] FromRaw<T>(ReadOnlyMemory<byte> raw) where T : unmanaged
    {
        var values = new T[ElementCount];
        raw.Span.CopyTo(MemoryMarshal.AsBytes(values.AsSpan()));
        return values;
    }

    private static string Label(string name) => name.Length > 0 ? $"tensor '{name}'" : "an unnamed tensor";
}
