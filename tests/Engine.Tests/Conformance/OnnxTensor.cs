namespace Engine.Tests.Conformance;

/// <summary>The element types the conformance data uses.</summary>
internal enum OnnxDType
{
    Float32,
    Int32,
    Int64,
    Bool,
}

/// <summary>
/// One input or output of a conformance case, held on the host: float32 data in
/// <see cref="Floats"/>, int32/int64/bool data widened to long in <see cref="Integers"/> (bool as 0/1).
/// Each op converts it to what it needs: a float32 or int32 engine tensor, or host integers
/// (axes, shapes, split sizes).
/// </summary>
internal sealed record OnnxTensor(string Name, OnnxDType DType, int[] Shape, float[]? Floats, long[]? Integers)
{
    /// <summary>Largest integer magnitude a float32 holds exactly (2^24).</summary>
    private const long ExactFloatLimit = 1 << 24;

    public long Count => ShapeMath.Count(Shape);

    public bool IsFloat => DType == OnnxDType.Float32;

    /// <summary>The integer values (axes, shape, indices, labels); an error for float32 data.</summary>
    public long[] Longs => Integers ?? throw new InvalidOperationException($"{Name}: float32 tensor {ShapeMath.Format(Shape)} read as integers.");

    /// <summary>The values as float32: bool as 0/1, integers converted when they are exact in float32.</summary>
    public float[] ToFloats()
    {
        if (Floats is not null) return Floats;
        var values = new float[Longs.Length];
        for (int i = 0; i < values.Length; i++)
        {
            if (Math.Abs(Longs[i]) > ExactFloatLimit)
                throw new ArgumentException($"{Name}: integer {Longs[i]} at flat position {i} is not exact in float32.");
            values[i] = Longs[i];
        }
        return values;
    }

    /// <summary>The values as int32 after a range check (int64 indices and labels are small in practice).</summary>
    public int[] ToInt32s()
    {
        var values = new int[Longs.Length];
        for (int i = 0; i < values.Length; i++)
        {
            if (Longs[i] is < int.MinValue or > int.MaxValue)
                throw new ArgumentException($"{Name}: {DType} value {Longs[i]} at flat position {i} does not fit in int32.");
            values[i] = (int)Longs[i];
        }
        return values;
    }

    /// <summary>A float32 engine tensor of this shape (see <see cref="ToFloats"/>).</summary>
    public Tensor ToFloatTensor(Device device) => Upload(device, ToFloats(), Shape);

    /// <summary>An engine tensor holding <paramref name="values"/> with <paramref name="shape"/>; shape [] gives a 0-D tensor.</summary>
    public static Tensor Upload(Device device, float[] values, int[] shape) => Tensor.FromArray(device, values).Reshape(shape);

    /// <inheritdoc cref="Upload(Device, float[], int[])"/>
    public static Tensor Upload(Device device, int[] values, int[] shape) => Tensor.FromArray(device, values).Reshape(shape);
}
