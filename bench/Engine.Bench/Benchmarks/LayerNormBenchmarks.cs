using BenchmarkDotNet.Attributes;

namespace Engine.Bench.Benchmarks;

/// <summary>Layer norm over the last dimension with gamma and beta.</summary>
public class LayerNormBenchmarks : CpuBenchmark
{
    private Tensor _x = null!;
    private Tensor _gamma = null!;
    private Tensor _beta = null!;

    /// <summary>The shapes of <see cref="Workloads.LayerNorm"/>.</summary>
    public static IEnumerable<LayerNormWorkload> Shapes => Workloads.LayerNorm;

    /// <summary>The shape under test.</summary>
    [ParamsSource(nameof(Shapes))]
    public LayerNormWorkload Shape { get; set; } = null!;

    /// <summary>Creates the activations and the affine parameters.</summary>
    [GlobalSetup]
    public void Setup()
    {
        _x = Input(4, Shape.Rows, Shape.Cols);
        _gamma = Input(5, Shape.Cols);
        _beta = Input(6, Shape.Cols);
    }

    /// <summary>One layer norm; the result goes straight back to the pool.</summary>
    [Benchmark]
    public void LayerNorm()
    {
        using var y = F.LayerNorm(_x, _gamma, _beta);
    }

    /// <summary>Frees the inputs and the device.</summary>
    [GlobalCleanup]
    public void Cleanup() => DisposeInputs();
}
