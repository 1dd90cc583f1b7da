namespace Engine.Bench;

/// <summary>A performance goal for one measured kernel, and whether the run met it.</summary>
public sealed record TargetCheck(string Goal, bool Met);

/// <summary>
/// The goals the kernels are held to (on the 2-core reference machine): SGEMM at 1024–2048 at
/// ≥ 80 % of the FMA peak and ≥ 1.8× libtorch; softmax and layer norm at ≥ 70 % of copy bandwidth.
/// </summary>
public static class Targets
{
    /// <summary>The fraction of the FMA peak large SGEMMs must reach.</summary>
    public const double SgemmFractionOfPeak = 0.80;

    /// <summary>How many times libtorch's rate large SGEMMs must reach.</summary>
    public const double SgemmRatioToTorch = 1.8;

    /// <summary>The fraction of copy bandwidth softmax and layer norm must reach.</summary>
    public const double NormalizationFractionOfBandwidth = 0.70;

    /// <summary>True for the square SGEMMs the ratio goal applies to.</summary>
    public static bool HasRatioGoal(Workload workload) =>
        workload is MatMulWorkload { M: >= 1024 and <= 2048 } m && m.M == m.K && m.K == m.N;

    /// <summary>The fraction of its ceiling <paramref name="workload"/> must reach, or null when it has no such goal.</summary>
    public static double? FractionGoal(Workload workload) => workload switch
    {
        _ when HasRatioGoal(workload) => SgemmFractionOfPeak,
        SoftmaxWorkload or LayerNormWorkload => NormalizationFractionOfBandwidth,
        _ => null,
    };

    /// <summary>The goal for <paramref name="result"/> and whether it was met, or null when the shape has none.</summary>
    public static TargetCheck? Check(ComparisonResult result, Ceilings ceilings)
    {
        if (result.Failure is not null || FractionGoal(result.Workload) is not { } fraction)
            return null;
        var ceilingName = result.Workload.Unit == RateUnit.GflopPerSecond ? "FMA peak" : "copy BW";
        bool fractionMet = result.OursFractionOf(ceilings) >= fraction;
        if (!HasRatioGoal(result.Workload))
            return new TargetCheck($"≥{fraction * 100:F0}% {ceilingName}", fractionMet);
        bool ratioMet = result.Ratio >= SgemmRatioToTorch;
        return new TargetCheck($"≥{fraction * 100:F0}% {ceilingName}, ≥{SgemmRatioToTorch:F1}x torch", fractionMet && ratioMet);
    }
}
