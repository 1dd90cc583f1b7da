namespace Engine.Bench.Benchmarks;

/// <summary>
/// Base of the kernel benchmarks: one CPU device per benchmark run, and inputs that are created
/// once in the global setup and disposed with the device in the global cleanup.
/// </summary>
public abstract class CpuBenchmark
{
    private readonly List<Tensor> _inputs = new();
    private Device? _device;

    /// <summary>The SIMD CPU device the kernels run on.</summary>
    protected Device Device => _device ??= Device.Cpu();

    /// <summary>A normally distributed input that lives until the global cleanup.</summary>
    protected Tensor Input(ulong seed, params int[] shape)
    {
        var tensor = Tensor.Randn(Device, shape, seed);
        _inputs.Add(tensor);
        return tensor;
    }

    /// <summary>Disposes the inputs, then the device.</summary>
    protected void DisposeInputs()
    {
        foreach (var tensor in _inputs)
            tensor.Dispose();
        _inputs.Clear();
        _device?.Dispose();
        _device = null;
    }
}
