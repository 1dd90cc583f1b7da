namespace Engine.Kernels.Simd;

/// <summary>STUB: to be written.</summary>
public static unsafe class Embedding
{
    public static void Forward(float* table, int* ids, float* y, int n, int dim) => throw new NotImplementedException();
}
