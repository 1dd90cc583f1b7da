using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace Engine.Bench.Benchmarks;

/// <summary>
/// A summary column with the kernel's rate at the median time: GFLOP/s for compute-bound kernels,
/// GB/s (bytes read + written) for memory-bound ones, taken from the benchmark's <see cref="Workload"/> parameter.
/// </summary>
public sealed class RateColumn : IColumn
{
    /// <inheritdoc />
    public string Id => nameof(RateColumn);
    /// <inheritdoc />
    public string ColumnName => "Rate";
    /// <inheritdoc />
    public bool AlwaysShow => true;
    /// <inheritdoc />
    public ColumnCategory Category => ColumnCategory.Custom;
    /// <inheritdoc />
    public int PriorityInCategory => 0;
    /// <inheritdoc />
    public bool IsNumeric => false;
    /// <inheritdoc />
    public UnitType UnitType => UnitType.Dimensionless;
    /// <inheritdoc />
    public string Legend => "Work per call / median time: GFLOP/s (2 flops per multiply-add) or GB/s (bytes read + written)";

    /// <inheritdoc />
    public bool IsAvailable(Summary summary) => true;

    /// <inheritdoc />
    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;

    /// <inheritdoc />
    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

    /// <inheritdoc />
    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
    {
        var workload = benchmarkCase.Parameters.Items.Select(p => p.Value).OfType<Workload>().FirstOrDefault();
        var medianNanoseconds = summary[benchmarkCase]?.ResultStatistics?.Median;
        if (workload is null || medianNanoseconds is not > 0)
            return "-";
        return workload.FormatRate(workload.Rate(medianNanoseconds.Value * 1e-9));
    }
}
