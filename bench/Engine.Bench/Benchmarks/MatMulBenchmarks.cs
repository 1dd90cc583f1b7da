using BenchmarkDotNet.Attributes;

namespace Engine.Bench.Benchmarks;

/// <summary>SGEMM, C = A @ B with A [M, K] and B [K, N] row-major.</summary>
public class MatMulBenchmarks : CpuBenchmark
{
    private Tensor _a = null!;
    private Tensor _b = null!;

    /// <summary>The shapes of <see cref="Workloads.MatMul"/>.</summary>
    public static IEnumerable<MatMulWorkload> Shapes => Workloads.MatMul;

    /// <summary>The shape under test.</summary>
    [ParamsSource(nameof(Shapes))]
    public MatMulWorkload Shape { get; set; } = null!;

    /// <summary>Creates A and B.</summary>
    [GlobalSetup]
    public void Setup()
    {
        _a = Input(1, Shape.M, Shape.K);
        _b = Input(2, Shape.K, Shape.N);
    }

    /// <summary>One product; the result goes straight back to the pool.</summary>
    [Benchmark]
    public void MatMul()
    {
        using var c = F.MatMul(_a, _b);
    }

    /// <summary>Frees the inputs and the device.</summary>
    [GlobalCleanup]
    public void Cleanup() => DisposeInputs();
}
