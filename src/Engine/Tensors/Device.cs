using Engine.Backends;

namespace Engine;

/// <summary>The kinds of compute device.</summary>
public enum DeviceKind
{
    /// <summary>The SIMD CPU backend (Vector512/Vector256 kernels, all cores).</summary>
    Cpu,
    /// <summary>ILGPU's CPU accelerator: a thread simulator for checking GPU kernels, not a fast path.</summary>
    IlgpuCpu,
    /// <summary>An NVIDIA GPU through ILGPU.</summary>
    Cuda,
    /// <summary>An OpenCL device through ILGPU.</summary>
    OpenCL,
}

/// <summary>
/// A compute device: a backend with its memory pool. Tensors live on one device; ops need all
/// operands on the same device. Dispose the device after its tensors.
/// </summary>
public sealed class Device : IDisposable
{
    private Device(DeviceKind kind, IBackend backend)
    {
        Kind = kind;
        Backend = backend;
    }

    /// <summary>What kind of device this is.</summary>
    public DeviceKind Kind { get; }

    /// <summary>The backend that runs the kernels.</summary>
    public IBackend Backend { get; }

    /// <summary>
    /// Test aid: when set, every new tensor is filled with NaN before an op writes it, so an
    /// element a kernel forgets to write shows up as NaN instead of stale pool memory.
    /// </summary>
    internal bool PoisonNewTensors { get; set; }

    /// <summary>A readable description of the device and its backend.</summary>
    public string Name => Backend.Name;

    /// <summary>The SIMD CPU backend: the fast path on machines without a GPU.</summary>
    public static Device Cpu() => new(DeviceKind.Cpu, new SimdBackend());

    /// <summary>ILGPU's CPU accelerator: runs the GPU kernels on simulated threads (slow; for checking kernels).</summary>
    public static Device IlgpuCpu() => new(DeviceKind.IlgpuCpu, IlgpuBackend.CreateCpu());

    /// <summary>CUDA GPU number <paramref name="index"/>.</summary>
    /// <exception cref="InvalidOperationException">No CUDA device with that index exists.</exception>
    public static Device Cuda(int index = 0) => new(DeviceKind.Cuda, IlgpuBackend.CreateCuda(index));

    /// <summary>OpenCL device number <paramref name="index"/>.</summary>
    /// <exception cref="InvalidOperationException">No usable OpenCL device with that index exists.</exception>
    public static Device OpenCL(int index = 0) => new(DeviceKind.OpenCL, IlgpuBackend.CreateOpenCL(index));

    /// <summary>A device over a backend built elsewhere (tests use it for backend variants).</summary>
    internal static Device FromBackend(DeviceKind kind, IBackend backend) => new(kind, backend);

    /// <summary>Opens a scope: tensors created on this thread until it is disposed are disposed with it (see <see cref="TensorScope"/>).</summary>
    public TensorScope Scope() => new();

    /// <summary>Waits for all queued work on the device.</summary>
    public void Synchronize() => Backend.Synchronize();

    /// <inheritdoc />
    public override string ToString() => Name;

    /// <summary>Frees the device's memory pool and backend resources.</summary>
    public void Dispose() => Backend.Dispose();
}
