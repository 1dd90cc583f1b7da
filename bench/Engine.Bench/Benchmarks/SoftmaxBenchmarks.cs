using BenchmarkDotNet.Attributes;

namespace Engine.Bench.Benchmarks;

/// <summary>Softmax along the last dimension.</summary>
public class SoftmaxBenchmarks : CpuBenchmark
{
    private Tensor _x = null!;

    /// <summary>The shapes of <see cref="Workloads.Softmax"/>.</summary>
    public static IEnumerable<SoftmaxWorkload> Shapes => Workloads.Softmax;

    /// <summary>The shape under test.</summary>
    [ParamsSource(nameof(Shapes))]
    public SoftmaxWorkload Shape { get; set; } = null!;

    /// <summary>Creates the scores.</summary>
    [GlobalSetup]
    public void Setup() => _x = Input(3, Shape.Rows, Shape.Cols);

    /// <summary>One softmax; the result goes straight back to the pool.</summary>
    [Benchmark]
    public void Softmax()
    {
        using var y = F.Softmax(_x);
    }

    /// <summary>Frees the input and the device.</summary>
    [GlobalCleanup]
    public void Cleanup() => DisposeInputs();
}
