namespace Engine.Bench;

/// <summary>
/// The outcome of timing our kernel against libtorch's on one workload: median seconds per call of
/// each, and the relative difference of their outputs. <see cref="Failure"/> (the exception's type)
/// is set instead when a kernel could not run.
/// </summary>
public sealed record ComparisonResult(Workload Workload, double OursSeconds, double TorchSeconds, double RelativeError, string? Failure = null)
{
    /// <summary>Relative errors above this are flagged.</summary>
    public const double ErrorTolerance = 1e-4;

    /// <summary>Our rate at the median time, in the workload's unit.</summary>
    public double OursRate => Workload.Rate(OursSeconds);

    /// <summary>libtorch's rate at the median time, in the workload's unit.</summary>
    public double TorchRate => Workload.Rate(TorchSeconds);

    /// <summary>Our rate over libtorch's (above 1: we are faster).</summary>
    public double Ratio => TorchSeconds / OursSeconds;

    /// <summary>True when the outputs differ by more than <see cref="ErrorTolerance"/>.</summary>
    public bool ErrorFlagged => !(RelativeError <= ErrorTolerance);

    /// <summary>Our rate as a fraction of the machine's ceiling for this kind of kernel.</summary>
    public double OursFractionOf(Ceilings ceilings) => OursRate / ceilings.For(Workload.Unit);

    /// <summary>libtorch's rate as a fraction of the machine's ceiling for this kind of kernel.</summary>
    public double TorchFractionOf(Ceilings ceilings) => TorchRate / ceilings.For(Workload.Unit);

    /// <summary>A result for a workload our kernel failed on.</summary>
    public static ComparisonResult Failed(Workload workload, Exception exception) =>
        new(workload, double.NaN, double.NaN, double.NaN, exception.GetType().Name);
}
