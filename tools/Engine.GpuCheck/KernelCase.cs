using Engine.Backends;

namespace Engine.GpuCheck;

/// <summary>What a kernel's speed is measured in.</summary>
public enum RateUnit
{
    /// <summary>Compute-bound: floating-point operations per second (10^9).</summary>
    GflopPerSecond,
    /// <summary>Memory-bound: bytes read plus bytes written per second (10^9).</summary>
    GigabytePerSecond,
}

/// <summary>How a buffer a kernel writes is treated by the check.</summary>
internal enum OutputKind
{
    /// <summary>float32 values compared with the reference by relative error.</summary>
    Float,
    /// <summary>int32 values (stored bit-for-bit) that must equal the reference.</summary>
    Integer,
    /// <summary>An intermediate the kernel sequence needs; not compared.</summary>
    Scratch,
}

/// <summary>A buffer written by a case's kernels.</summary>
internal readonly record struct OutputSpec(string Name, long Length, OutputKind Kind = OutputKind.Float);

/// <summary>The error a case may show against the SIMD reference, with the reason for the bound.</summary>
/// <param name="Bound">Largest relative error that passes (0: bitwise equal).</param>
/// <param name="Name">Short name of the class of ops.</param>
/// <param name="Reason">Why the bound is what it is.</param>
public sealed record Tolerance(double Bound, string Name, string Reason)
{
    /// <summary>Moves and comparisons of values: the result must be bitwise the reference's.</summary>
    public static Tolerance Exact { get; } =
        new(0, "exact", "copies, gathers, sign/abs/relu, max/min, argmax: no rounding happens, so the result is bitwise the reference's");

    /// <summary>One correctly rounded IEEE operation per element.</summary>
    public static Tolerance Rounded { get; } =
        new(1e-7, "rounded", "one correctly rounded IEEE op per element (add, mul, div, sqrt): equal in theory; 1e-7 leaves room for a flushed subnormal");

    /// <summary>Elementwise transcendental functions.</summary>
    public static Tolerance Transcendental { get; } =
        new(1e-5, "transcendental", "exp/log/tanh/erf/pow: PTX has only ex2.approx and lg2.approx (about 2 ulp, more after the argument is scaled); the design's float32 bound");

    /// <summary>Sums whose order differs between backends, and the row kernels built on them.</summary>
    public static Tolerance Reduction { get; } =
        new(1e-5, "reduction", "sum, mean, softmax, layer norm, cross-entropy: the GPU sums in a tree, the SIMD kernels in lanes, and exp is PTX's approximate one; the design's float32 bound");

    /// <summary>Matrix products and the attention built from them.</summary>
    public static Tolerance Matmul { get; } =
        new(1e-4, "matmul", "long dot products summed in a different order (error grows like sqrt(K) ulp); the design's bound for matmul-based ops");

    /// <summary>Every tolerance class, for the table's legend.</summary>
    public static IReadOnlyList<Tolerance> All { get; } = [Exact, Rounded, Transcendental, Reduction, Matmul];
}

/// <summary>
/// A reference computed from part of the problem, for sizes where the full SIMD reference would
/// take too long (a matmul of 8192^3 is about 1.1 TFLOP): <see cref="Expected"/> computes the
/// reference outputs of the sample from the host inputs, <see cref="Select"/> takes the same part
/// out of the device's full outputs.
/// </summary>
internal sealed record SampledReference(
    string Description,
    Func<IBackend, float[][], float[][]> Expected,
    Func<float[][], float[][]> Select);

/// <summary>
/// One check: inputs made on the host, a kernel launch sequence written against
/// <see cref="IBackend"/> (so the very same calls run on the ILGPU backend and on the SIMD
/// reference), the outputs to compare, the work done (for the rate) and the torch peer.
/// </summary>
internal sealed class KernelCase
{
    /// <summary>Op name, e.g. "matmul" or "unary gelu_tanh".</summary>
    public required string Op { get; init; }
    /// <summary>Shape description, e.g. "[8192x8192] @ [8192x8192]".</summary>
    public required string Shape { get; init; }
    /// <summary>Makes the host inputs (called once, just before the case runs, so large data is not held longer).</summary>
    public required Func<float[][]> CreateInputs { get; init; }
    /// <summary>The buffers the launch writes.</summary>
    public required OutputSpec[] Outputs { get; init; }
    /// <summary>Runs the case's kernels on a backend: inputs in the order of <see cref="CreateInputs"/>, outputs in the order of <see cref="Outputs"/>.</summary>
    public required Action<IBackend, BufferView[], BufferView[]> Launch { get; init; }
    /// <summary>Allowed relative error against the reference.</summary>
    public required Tolerance Tolerance { get; init; }
    /// <summary>The unit of the reported rate.</summary>
    public required RateUnit Unit { get; init; }
    /// <summary>Work per launch: floating-point operations (compute-bound cases) or bytes moved (memory-bound cases).</summary>
    public required double Work { get; init; }
    /// <summary>Sets outputs before the first launch (e.g. C for an accumulating matmul); otherwise they start as NaN.</summary>
    public Action<IBackend, float[][], BufferView[]>? Prepare { get; init; }
    /// <summary>When set, the reference covers only a sample of the outputs.</summary>
    public SampledReference? Sample { get; init; }
    /// <summary>The same computation in torch, timed by the torch script; null when torch has no counterpart.</summary>
    public TorchSpec? Torch { get; init; }
    /// <summary>Extra information for the table.</summary>
    public string Note { get; init; } = "";
    /// <summary>Problem dimensions (M, N, K, transposes) when the case is a single SGEMM that cuBLAS can time too.</summary>
    public SgemmShape? Sgemm { get; init; }
}

/// <summary>A row-major single matrix product C[M, N] = op(A) op(B), as cuBLAS is asked to time it.</summary>
internal readonly record struct SgemmShape(int M, int N, int K, bool TransA, bool TransB);
