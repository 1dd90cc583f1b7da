using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Engine.GpuCheck;

/// <summary>The results as a progress line per case, a Markdown report and JSON.</summary>
internal static class ResultTable
{
    private static readonly string[] Header =
        ["Op", "Shape", "Result", "Rel. error", "Tolerance", "Compared", "ms", "Rate", "Of ceiling", "cuBLAS ms", "torch ms", "Ours/torch", "Note"];

    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        Converters = { new JsonStringEnumConverter() },
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary>One console line for a finished case.</summary>
    public static string ProgressLine(CaseResult r)
    {
        var line = new StringBuilder(FormattableString.Invariant(
            $"{Verdict(r.Status),-7} {r.Op,-28} {r.Shape,-34} err {Error(r.Error),-8} (<= {Bound(r.Tolerance)}, {r.Reference})"));
        line.Append(FormattableString.Invariant($"  {Number(r.Milliseconds, "F3")} ms  {Rate(r)}  of ceiling {Fraction(r.CeilingFraction)}"));
        if (r.TorchMilliseconds is double torch)
            line.Append(FormattableString.Invariant($"  torch {torch:F3} ms, ours/torch {Number(r.TorchRatio, "F2")}"));
        if (r.Note.Length > 0)
            line.Append($"  [{r.Note}]");
        return line.ToString();
    }

    /// <summary>The report as Markdown: what ran where, the ceilings, the table and the legend of tolerances.</summary>
    public static string ToMarkdown(GpuCheckReport report)
    {
        var text = new StringBuilder();
        var inv = CultureInfo.InvariantCulture;
        text.AppendLine("# GPU check: ILGPU kernels against the SIMD backend");
        text.AppendLine();
        text.AppendLine(inv, $"- Device: {report.Device}");
        if (report.Fallback.Length > 0)
            text.AppendLine(inv, $"- Fallback: {report.Fallback}");
        text.AppendLine(inv, $"- Reference: {report.Reference}");
        text.AppendLine(inv, $"- Sizes: {report.Sizes}; run took {report.Elapsed.TotalSeconds:F1} s");
        if (report.Ceilings is { } c)
        {
            text.AppendLine(inv, $"- Memory ceiling: device-to-device copy of {c.CopyMegabytes:F0} MB at {c.CopyGigabytesPerSecond:F1} GB/s (read + write)");
            text.AppendLine(inv, $"- Compute ceiling: {(c.SgemmGflops is double g ? $"cuBLAS SGEMM {c.SgemmShape} at {g:F0} GFLOP/s (fp32, default math mode: no TF32)" : "none")} ({c.Notes})");
        }
        else
        {
            text.AppendLine("- Ceilings: not measured");
        }
        text.AppendLine(inv, $"- torch: {report.Torch}");
        text.AppendLine(inv, $"- Result: {report.Summary}");
        text.AppendLine();

        text.AppendLine($"| {string.Join(" | ", Header)} |");
        text.AppendLine($"|{string.Join("|", Header.Select((_, i) => i is 0 or 1 or 2 or 5 or 12 ? "---" : "---:"))}|");
        foreach (var r in report.Results)
            text.AppendLine($"| {string.Join(" | ", Cells(r).Select(cell => cell.Replace("|", "\\|")))} |");
        text.AppendLine();

        text.AppendLine("Rel. error is ||ours - SIMD|| / ||SIMD|| over the compared outputs (argmax: the fraction of indices that differ);");
        text.AppendLine("NaN and infinities must sit where the reference has them. Rate is GFLOP/s for matmul and attention (ceiling: cuBLAS SGEMM),");
        text.AppendLine("GB/s of bytes read plus written for the rest (ceiling: the device-to-device copy). ms is per launch, the best of");
        text.AppendLine("several synchronised samples after a warm-up. Ours/torch above 1 means ours is slower.");
        text.AppendLine();
        text.AppendLine("Tolerances:");
        text.AppendLine();
        foreach (var tolerance in Tolerance.All)
            text.AppendLine(inv, $"- {tolerance.Name} ({Bound(tolerance)}): {tolerance.Reason}");
        return text.ToString();
    }

    /// <summary>The report as indented JSON (enums by name).</summary>
    public static string ToJson(GpuCheckReport report) => JsonSerializer.Serialize(report, JsonOptions);

    private static string[] Cells(CaseResult r) =>
    [
        r.Op, r.Shape, Verdict(r.Status), Error(r.Error), Bound(r.Tolerance),
        r.Reference, Number(r.Milliseconds, "F3"), Rate(r), Fraction(r.CeilingFraction), Number(r.CuBlasMilliseconds, "F3"),
        Number(r.TorchMilliseconds, "F3"), Number(r.TorchRatio, "F2"), r.Note,
    ];

    private static string Verdict(CheckStatus status) => status switch
    {
        CheckStatus.Pass => "pass",
        CheckStatus.Fail => "FAIL",
        CheckStatus.NoReference => "no ref",
        _ => "skipped",
    };

    private static string Error(double? error) => error is double e ? e.ToString("0.00E+0", CultureInfo.InvariantCulture) : "-";

    private static string Number(double? value, string format) => value is double v ? v.ToString(format, CultureInfo.InvariantCulture) : "-";

    private static string Bound(Tolerance tolerance) =>
        tolerance.Bound == 0 ? "0" : tolerance.Bound.ToString("0.#E+0", CultureInfo.InvariantCulture);

    private static string Fraction(double? value) => value is double v ? Significant(100 * v) + " %" : "-";

    private static string Rate(CaseResult r) => r.Rate is double rate
        ? Significant(rate) + (r.Unit == RateUnit.GflopPerSecond ? " GFLOP/s" : " GB/s")
        : "-";

    /// <summary>Whole numbers from 100 up, one decimal from 1, three significant digits below (the CPU accelerator's tiny rates).</summary>
    private static string Significant(double value) =>
        value.ToString(value >= 100 ? "F0" : value >= 1 ? "F1" : "G3", CultureInfo.InvariantCulture);
}
