namespace Engine.Kernels.Simd;

/// <summary>STUB: to be written.</summary>
public static unsafe class CrossEntropy
{
    public static void Forward(float* logits, int* targets, float* loss, float* valid, int rows, int cols, int ignoreIndex) => throw new NotImplementedException();
}
