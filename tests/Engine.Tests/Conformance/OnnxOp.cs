namespace Engine.Tests.Conformance;

/// <summary>
/// One ONNX operator expressed with Engine calls. <see cref="Unsupported"/> decides, from the
/// case alone, whether the mapping covers the case; <see cref="Run"/> computes its outputs.
/// </summary>
internal abstract class OnnxOp
{
    /// <summary>Bound on the relative L2 error of every output.</summary>
    public virtual double Tolerance => 1e-5;

    /// <summary>Why the case cannot run on the engine (the specific ONNX feature), or null when it can.</summary>
    public virtual string? Unsupported(OnnxCase c) => FloatDataOnly(c);

    /// <summary>The outputs in node order: a tensor for each output the node asks for, null elsewhere.</summary>
    public abstract Tensor?[] Run(OnnxCase c, Device device);

    /// <summary>A reason when input <c>0</c> or any output is not float32 (the engine's working type).</summary>
    protected static string? FloatDataOnly(OnnxCase c)
    {
        if (c.OptionalInput(0) is { IsFloat: false } x)
            return $"{x.DType} data: Engine computes in float32 only";
        if (c.Outputs.FirstOrDefault(o => o is { IsFloat: false }) is { } y)
            return $"{y.DType} output: Engine computes in float32 only";
        return null;
    }

    /// <summary>An ONNX axis (negative counts from the end) as a dimension index, checked.</summary>
    protected static int Axis(long axis, int rank, OnnxCase c)
    {
        long d = axis < 0 ? axis + rank : axis;
        if (d < 0 || d >= Math.Max(rank, 1))
            throw new InvalidDataException($"{c.Test}: axis {axis} is out of range for rank {rank}.");
        return (int)d;
    }
}
