namespace Engine.Backends;

/// <summary>STUB: the ILGPU backend (CUDA, OpenCL, CPU accelerator), to be written.</summary>
public sealed class IlgpuBackend
{
    /// <summary>The ILGPU CPU accelerator (a thread simulator for debugging kernels).</summary>
    public static IBackend CreateCpu() => throw new NotImplementedException();
    /// <summary>CUDA device <paramref name="index"/>; throws InvalidOperationException with a clear message when absent.</summary>
    public static IBackend CreateCuda(int index) => throw new NotImplementedException();
    /// <summary>OpenCL device <paramref name="index"/>; throws InvalidOperationException with a clear message when absent.</summary>
    public static IBackend CreateOpenCL(int index) => throw new NotImplementedException();
}
