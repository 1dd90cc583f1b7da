using BenchmarkDotNet.Attributes;

namespace Engine.Bench.Benchmarks;

/// <summary>
/// The SPLADE training ops at <see cref="Workloads.Splade"/>: pooling of packed token logits
/// forward and backward (the graph kept, the gradient freed per call), the FLOPs regularizer
/// forward + backward on the pooled w, and ToSparse (top k) of w down to CSR.
/// </summary>
public class SpladeBenchmarks : CpuBenchmark
{
    private Tensor _logits = null!;
    private Tensor _upstream = null!;
    private Tensor _pooled = null!;
    private Tensor _w = null!;
    private int[] _lengths = null!;

    /// <summary>The ops of <see cref="Workloads.Splade"/>.</summary>
    public static IEnumerable<SpladeWorkload> Shapes => Workloads.Splade;

    /// <summary>The op and shape under test.</summary>
    [ParamsSource(nameof(Shapes))]
    public SpladeWorkload Shape { get; set; } = null!;

    /// <summary>Creates the logits, a recorded pooling for the backward, and a leaf w for the regularizer and ToSparse.</summary>
    [GlobalSetup]
    public void Setup()
    {
        _lengths = Shape.Lengths();
        _logits = Input(1, Shape.Rows, Shape.Vocab);
        _logits.RequiresGrad = true;
        _upstream = Input(2, Shape.Texts, Shape.Vocab);
        _pooled = F.SpladePool(_logits, _lengths);
        using (Autograd.NoGrad())
            _w = F.SpladePool(_logits, _lengths);
        _w.RequiresGrad = true;
    }

    /// <summary>One call of the op; outputs and gradients go straight back to the pool.</summary>
    [Benchmark]
    public void Run()
    {
        switch (Shape.Op)
        {
            case "pool-forward":
                using (Autograd.NoGrad())
                    F.SpladePool(_logits, _lengths).Dispose();
                break;
            case "pool-backward":
                _pooled.Backward(_upstream, retainGraph: true);
                _logits.ClearGrad();
                break;
            case "flops":
                using (var loss = F.FlopsRegularizer(_w))
                    loss.Backward();
                _w.ClearGrad();
                break;
            default:
                F.ToSparse(_w, 0f, Shape.TopK);
                break;
        }
    }

    /// <summary>Frees the tensors and the device.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        _pooled.Dispose();
        _w.Dispose();
        _logits.ClearGrad();
        DisposeInputs();
    }
}
