namespace Engine.Kernels.Simd;

/// <summary>STUB: to be written.</summary>
public static unsafe class Softmax
{
    public static void Forward(float* x, float* y, int rows, int cols, bool log) => throw new NotImplementedException();
}
