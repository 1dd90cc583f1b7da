namespace Engine.Bench;

/// <summary>How a kernel's speed is expressed: arithmetic for compute-bound kernels, traffic for memory-bound ones.</summary>
public enum RateUnit
{
    /// <summary>Floating-point operations per second (a fused multiply-add counts as two).</summary>
    GflopPerSecond,
    /// <summary>Bytes read plus bytes written per second, each tensor element counted once.</summary>
    GigabytePerSecond,
}

/// <summary>
/// One kernel family on one shape: what a call computes and how much work it does. The benchmarks
/// and the comparison against libtorch both draw their shapes from <see cref="Workloads"/>.
/// </summary>
public abstract record Workload(string Family, string Shape, string Note) : IComparable
{
    /// <summary>Orders by work per call (BenchmarkDotNet lists parameters in this order), then by shape.</summary>
    public int CompareTo(object? other) => other is Workload workload
        ? (WorkPerCall, Shape).CompareTo((workload.WorkPerCall, workload.Shape))
        : 1;

    /// <summary>Flops (compute-bound families) or bytes moved (memory-bound families) per call.</summary>
    public abstract double WorkPerCall { get; }

    /// <summary>The unit <see cref="WorkPerCall"/> turns into when divided by time.</summary>
    public abstract RateUnit Unit { get; }

    /// <summary>Work per call divided by seconds per call, in GFLOP/s or GB/s.</summary>
    public double Rate(double secondsPerCall) => WorkPerCall / secondsPerCall / 1e9;

    /// <summary>A rate with its unit, with enough digits to tell small rates apart.</summary>
    public string FormatRate(double rate) => $"{rate.ToString(rate < 1 ? "F3" : "F1")} {UnitName}";

    /// <summary>The unit's short name, e.g. "GFLOP/s".</summary>
    public string UnitName => Unit == RateUnit.GflopPerSecond ? "GFLOP/s" : "GB/s";

    /// <summary>The shape, as BenchmarkDotNet shows the parameter.</summary>
    public sealed override string ToString() => Shape;
}

/// <summary>[M, K] @ [K, N], shown as MxKxN: 2·M·K·N flops.</summary>
public sealed record MatMulWorkload(int M, int K, int N, string Note = "")
    : Workload("matmul", $"{M}x{K}x{N}", Note)
{
    /// <inheritdoc />
    public override double WorkPerCall => 2.0 * M * K * N;
    /// <inheritdoc />
    public override RateUnit Unit => RateUnit.GflopPerSecond;
}

/// <summary>Softmax along the last dimension of [Rows, Cols]: reads and writes every element once.</summary>
public sealed record SoftmaxWorkload(int Rows, int Cols, string Note = "") : Workload("softmax", $"{Rows}x{Cols}", Note)
{
    /// <inheritdoc />
    public override double WorkPerCall => 2.0 * Rows * Cols * sizeof(float);
    /// <inheritdoc />
    public override RateUnit Unit => RateUnit.GigabytePerSecond;
}

/// <summary>Layer norm over the last dimension of [Rows, Cols] with gamma and beta: x, y, gamma, beta, and per-row mean and rstd.</summary>
public sealed record LayerNormWorkload(int Rows, int Cols, string Note = "") : Workload("layernorm", $"{Rows}x{Cols}", Note)
{
    /// <inheritdoc />
    public override double WorkPerCall => (2.0 * Rows * Cols + 2.0 * Cols + 2.0 * Rows) * sizeof(float);
    /// <inheritdoc />
    public override RateUnit Unit => RateUnit.GigabytePerSecond;
}

/// <summary>GELU with the tanh approximation on [Rows, Cols]: reads and writes every element once.</summary>
public sealed record GeluWorkload(int Rows, int Cols, string Note = "") : Workload("gelu", $"{Rows}x{Cols}", Note)
{
    /// <inheritdoc />
    public override double WorkPerCall => 2.0 * Rows * Cols * sizeof(float);
    /// <inheritdoc />
    public override RateUnit Unit => RateUnit.GigabytePerSecond;
}

/// <summary>
/// One SPLADE training op on B texts packed into R token rows over a vocabulary of V (and the
/// top k kept by ToSparse), shown as "op BxRxV". Work is the bytes the op must move, each element
/// once, float32 and int32 alike 4 bytes: pool-forward R V (logits) + 2 B V (w, argmax);
/// pool-backward R V (dlogits) + 3 B V (argmax, dw, the selected logits); flops (forward +
/// backward) 3 B V (w read twice, dw written) + 2 V (the means); to-sparse B V (w) + 2 B k
/// (columns and values).
/// </summary>
public sealed record SpladeWorkload(string Op, int Texts, int Rows, int Vocab, int TopK = 256, string Note = "")
    : Workload("splade", $"{Op} {Texts}x{Rows}x{Vocab}", Note)
{
    /// <summary>The ops, in the order they are reported.</summary>
    public static readonly string[] Ops = ["pool-forward", "pool-backward", "flops", "to-sparse"];

    /// <inheritdoc />
    public override double WorkPerCall => 4.0 * Op switch
    {
        "pool-forward" => (double)Rows * Vocab + 2.0 * Texts * Vocab,
        "pool-backward" => (double)Rows * Vocab + 3.0 * Texts * Vocab,
        "flops" => 3.0 * Texts * Vocab + 2.0 * Vocab,
        "to-sparse" => (double)Texts * Vocab + 2.0 * Texts * Math.Min(TopK, Vocab),
        _ => throw new ArgumentException($"unknown SPLADE op '{Op}' (known: {string.Join(", ", Ops)})"),
    };

    /// <inheritdoc />
    public override RateUnit Unit => RateUnit.GigabytePerSecond;

    /// <summary>Text lengths between 8 and 56 (a fixed seed), adjusted to sum to the rows (each at least 1).</summary>
    public int[] Lengths()
    {
        var random = new Random(7);
        var lengths = Enumerable.Range(0, Texts).Select(_ => random.Next(8, 57)).ToArray();
        double scale = (double)Rows / lengths.Sum();
        for (int b = 0; b < Texts; b++) lengths[b] = Math.Max(1, (int)(lengths[b] * scale));
        for (int b = 0, sum = lengths.Sum(); sum != Rows; b = (b + 1) % Texts)
        {
            int step = sum < Rows ? 1 : lengths[b] > 1 ? -1 : 0;
            lengths[b] += step;
            sum += step;
        }
        return lengths;
    }
}

/// <summary>The shapes measured, per kernel family.</summary>
public static class Workloads
{
    /// <summary>The families in the order they are measured and reported.</summary>
    public static readonly string[] Families = ["matmul", "softmax", "layernorm", "gelu"];

    /// <summary>Square SGEMMs, then the GPT-2 small projections for 256 tokens.</summary>
    public static readonly MatMulWorkload[] MatMul =
    [
        new(256, 256, 256),
        new(512, 512, 512),
        new(1024, 1024, 1024),
        new(2048, 2048, 2048),
        new(256, 768, 3072, "GPT-2 MLP up"),
        new(256, 768, 50257, "GPT-2 logits"),
        new(256, 3072, 768, "GPT-2 MLP down"),
    ];

    /// <summary>Attention probabilities (batch 1, 12 heads, 256 tokens) and the vocabulary logits.</summary>
    public static readonly SoftmaxWorkload[] Softmax =
    [
        new(12 * 256, 256, "attention, 12 heads"),
        new(256, 50257, "GPT-2 logits"),
    ];

    /// <summary>GPT-2 small's hidden size over 1024 tokens.</summary>
    public static readonly LayerNormWorkload[] LayerNorm = [new(1024, 768, "GPT-2 hidden")];

    /// <summary>GPT-2 small's MLP activation for 256 tokens.</summary>
    public static readonly GeluWorkload[] Gelu = [new(256, 3072, "GPT-2 MLP")];

    /// <summary>SPLADE training: 64 texts in 2048 packed token rows over BERT's vocabulary, each op.</summary>
    public static readonly SpladeWorkload[] Splade = [.. SpladeWorkload.Ops.Select(op => new SpladeWorkload(op, 64, 2048, 30522, Note: "SPLADE training"))];

    /// <summary>Every workload of <paramref name="family"/>; with <paramref name="quick"/>, the few that represent it.</summary>
    public static IReadOnlyList<Workload> Of(string family, bool quick) => family switch
    {
        "matmul" => quick ? [MatMul[2], MatMul[4]] : MatMul,
        "softmax" => quick ? [Softmax[0]] : Softmax,
        "layernorm" => LayerNorm,
        "gelu" => Gelu,
        _ => throw new ArgumentException($"unknown kernel family '{family}' (known: {string.Join(", ", Families)})"),
    };
}
