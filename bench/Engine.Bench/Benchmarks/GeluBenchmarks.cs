using BenchmarkDotNet.Attributes;

namespace Engine.Bench.Benchmarks;

/// <summary>GELU with the tanh approximation (GPT-2's activation).</summary>
public class GeluBenchmarks : CpuBenchmark
{
    private Tensor _x = null!;

    /// <summary>The shapes of <see cref="Workloads.Gelu"/>.</summary>
    public static IEnumerable<GeluWorkload> Shapes => Workloads.Gelu;

    /// <summary>The shape under test.</summary>
    [ParamsSource(nameof(Shapes))]
    public GeluWorkload Shape { get; set; } = null!;

    /// <summary>Creates the pre-activations.</summary>
    [GlobalSetup]
    public void Setup() => _x = Input(7, Shape.Rows, Shape.Cols);

    /// <summary>One GELU; the result goes straight back to the pool.</summary>
    [Benchmark]
    public void Gelu()
    {
        using var y = F.Gelu(_x, GeluApproximation.Tanh);
    }

    /// <summary>Frees the input and the device.</summary>
    [GlobalCleanup]
    public void Cleanup() => DisposeInputs();
}
