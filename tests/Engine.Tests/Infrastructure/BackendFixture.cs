namespace Engine.Tests;

/// <summary>
/// One device per backend for a test class, with poisoning on: every new tensor starts as NaN,
/// so an element a kernel fails to write is caught. The limits keep the slow ILGPU CPU
/// accelerator (a thread simulator) on tiny shapes.
/// </summary>
public abstract class BackendFixture : IDisposable
{
    protected BackendFixture(Func<Device> create)
    {
        Device = create();
        Device.PoisonNewTensors = true;
    }

    public Device Device { get; }

    /// <summary>Largest size of one dimension in generated shapes.</summary>
    public abstract int MaxDim { get; }

    /// <summary>Largest element count of a generated tensor.</summary>
    public abstract int MaxElements { get; }

    /// <summary>Largest M, N or K of a generated matrix product.</summary>
    public abstract int MaxMatmulDim { get; }

    public void Dispose() => Device.Dispose();
}

public sealed class SimdFixture : BackendFixture
{
    public SimdFixture() : base(Device.Cpu) { }
    public override int MaxDim => 300;
    public override int MaxElements => 200_000;
    public override int MaxMatmulDim => 600;
}

public sealed class IlgpuCpuFixture : BackendFixture
{
    public IlgpuCpuFixture() : base(Device.IlgpuCpu) { }
    public override int MaxDim => 40;
    public override int MaxElements => 3_000;
    public override int MaxMatmulDim => 40;
}

/// <summary>
/// The CPU accelerator with the row kernels launched 256 threads wide, the group shape a GPU
/// gets, so the shared-memory reductions run at full width (slower: every thread is an OS thread).
/// </summary>
public sealed class IlgpuCpuGpuGroupsFixture : BackendFixture
{
    public IlgpuCpuGpuGroupsFixture() : base(() => Device.FromBackend(DeviceKind.IlgpuCpu, Backends.IlgpuBackend.CreateCpu(Backends.IlgpuBackend.GpuGroupSize))) { }
    public override int MaxDim => 20;
    public override int MaxElements => 600;
    public override int MaxMatmulDim => 20;
}
