using System.Collections.ObjectModel;

namespace Engine.Io;

/// <summary>What the header of a safetensors file says about one tensor (already checked against the file).</summary>
public sealed class TensorInfo
{
    internal TensorInfo(string name, string dataType, int elementSize, int[] shape, long elementCount, long dataOffset)
    {
        Name = name;
        DataType = dataType;
        ElementSize = elementSize;
        ShapeArray = shape;
        Shape = Array.AsReadOnly(shape);
        ElementCount = elementCount;
        DataOffset = dataOffset;
    }

    /// <summary>The tensor's name in the file.</summary>
    public string Name { get; }

    /// <summary>The safetensors dtype code as written in the file: "F32", "I32", "F16", "BF16", "I64", ...</summary>
    public string DataType { get; }

    /// <summary>Bytes per element of <see cref="DataType"/>.</summary>
    public int ElementSize { get; }

    /// <summary>Sizes of the dimensions (empty for a scalar).</summary>
    public ReadOnlyCollection<int> Shape { get; }

    /// <summary>Number of elements (1 for a scalar, 0 when a dimension is 0).</summary>
    public long ElementCount { get; }

    /// <summary>Where the tensor's bytes begin, counted from the start of the data buffer (just after the header).</summary>
    public long DataOffset { get; }

    /// <summary>Length of the tensor's bytes: <see cref="ElementCount"/> times <see cref="ElementSize"/>.</summary>
    public long ByteLength => ElementCount * ElementSize;

    internal int[] ShapeArray { get; }

    /// <inheritdoc />
    public override string ToString() => $"{Name}: {DataType} {ShapeMath.Format(ShapeArray)}";
}
