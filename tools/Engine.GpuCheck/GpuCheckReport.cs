namespace Engine.GpuCheck;

/// <summary>The verdict of one case.</summary>
public enum CheckStatus
{
    /// <summary>Within tolerance of the SIMD reference.</summary>
    Pass,
    /// <summary>Outside tolerance, a misplaced NaN or infinity, or the kernel threw.</summary>
    Fail,
    /// <summary>The kernel ran and was timed, but the SIMD backend has no kernel for it yet to compare with.</summary>
    NoReference,
    /// <summary>Not run: the run's time budget was spent.</summary>
    Skipped,
}

/// <summary>One row of the results table.</summary>
public sealed record CaseResult
{
    /// <summary>Op name, e.g. "matmul".</summary>
    public required string Op { get; init; }
    /// <summary>Shape description.</summary>
    public required string Shape { get; init; }
    /// <summary>The verdict.</summary>
    public required CheckStatus Status { get; init; }
    /// <summary>Worst relative error over the compared outputs; null when nothing was compared.</summary>
    public double? Error { get; init; }
    /// <summary>The bound the error is held to, with its reason.</summary>
    public required Tolerance Tolerance { get; init; }
    /// <summary>What was compared: "full", a sample such as "128 of 8192 rows", or why nothing was.</summary>
    public string Reference { get; init; } = "";
    /// <summary>Milliseconds per launch on the device; null when not timed.</summary>
    public double? Milliseconds { get; init; }
    /// <summary>Unit of <see cref="Rate"/>.</summary>
    public required RateUnit Unit { get; init; }
    /// <summary>GFLOP/s or GB/s.</summary>
    public double? Rate { get; init; }
    /// <summary>Rate over the device's measured ceiling for the unit (cuBLAS SGEMM or copy bandwidth).</summary>
    public double? CeilingFraction { get; init; }
    /// <summary>cuBLAS SGEMM milliseconds for the same single product, when timed.</summary>
    public double? CuBlasMilliseconds { get; init; }
    /// <summary>torch milliseconds for the same shape, when the torch results have it.</summary>
    public double? TorchMilliseconds { get; init; }
    /// <summary>Our milliseconds over torch's (above 1: we are slower).</summary>
    public double? TorchRatio => Milliseconds is double ours && TorchMilliseconds is double torch && torch > 0 ? ours / torch : null;
    /// <summary>Details: the first misplaced value, an exception, torch's own note, the case's description.</summary>
    public string Note { get; init; } = "";
}

/// <summary>The outcome of a check run.</summary>
public sealed record GpuCheckReport
{
    /// <summary>The ILGPU backend's description of the device checked.</summary>
    public required string Device { get; init; }
    /// <summary>Why the run is not on CUDA, when it fell back; empty otherwise.</summary>
    public string Fallback { get; init; } = "";
    /// <summary>The SIMD reference backend's description.</summary>
    public required string Reference { get; init; }
    /// <summary>The sizes used.</summary>
    public required SizeClass Sizes { get; init; }
    /// <summary>The device's measured ceilings; null when they could not be measured.</summary>
    public DeviceCeilings? Ceilings { get; init; }
    /// <summary>Where the torch numbers come from, or why there are none.</summary>
    public required string Torch { get; init; }
    /// <summary>One result per case, in run order.</summary>
    public required IReadOnlyList<CaseResult> Results { get; init; }
    /// <summary>Wall-clock time of the run.</summary>
    public TimeSpan Elapsed { get; init; }
    /// <summary>Path of the Markdown table.</summary>
    public string TablePath { get; init; } = "";
    /// <summary>Path of the JSON results.</summary>
    public string JsonPath { get; init; } = "";

    /// <summary>Cases within tolerance.</summary>
    public int Passed => Results.Count(r => r.Status == CheckStatus.Pass);
    /// <summary>Cases outside tolerance or that threw.</summary>
    public int Failed => Results.Count(r => r.Status == CheckStatus.Fail);
    /// <summary>Cases timed without a SIMD reference to compare with.</summary>
    public int WithoutReference => Results.Count(r => r.Status == CheckStatus.NoReference);
    /// <summary>Cases not run for lack of time.</summary>
    public int Skipped => Results.Count(r => r.Status == CheckStatus.Skipped);
    /// <summary>True when no case failed.</summary>
    public bool Success => Failed == 0;

    /// <summary>The counts of each verdict in one line.</summary>
    public string Summary => $"{Passed} pass, {Failed} fail, {WithoutReference} without reference, {Skipped} skipped";
}
