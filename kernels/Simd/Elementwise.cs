namespace Engine.Kernels.Simd;

/// <summary>STUB: to be written.</summary>
public static unsafe class Elementwise
{
    public static void Unary(UnaryOp op, float* x, float* y, in ElementwiseLayout layout) => throw new NotImplementedException();
    public static void Binary(BinaryOp op, float* a, float* b, float* y, in ElementwiseLayout layout) => throw new NotImplementedException();
}
