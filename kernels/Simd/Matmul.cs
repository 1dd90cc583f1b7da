namespace Engine.Kernels.Simd;

/// <summary>STUB: to be written.</summary>
public static unsafe class Matmul
{
    public static void Forward(in MatMulDesc desc, float* a, float* b, float* bias, float* c) => throw new NotImplementedException();
}
