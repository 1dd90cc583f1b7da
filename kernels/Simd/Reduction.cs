namespace Engine.Kernels.Simd;

/// <summary>STUB: to be written.</summary>
public static unsafe class Reduction
{
    public static void Forward(ReduceOp op, float* x, float* y, int outer, int n, int inner) => throw new NotImplementedException();
}
