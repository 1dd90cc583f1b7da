using System.Security;
using System.Text;

namespace Engine.Bench;

/// <summary>
/// Draws the comparison as an SVG with two horizontal bar panels, one row per shape: our rate over
/// libtorch's (with the parity line and the ratio targets), and each side's fraction of the
/// machine's ceiling (with the fraction targets).
/// </summary>
public static class SvgChart
{
    private const int Width = 960;
    private const int LabelWidth = 330;
    private const int PlotLeft = LabelWidth + 10;
    private const int PlotWidth = Width - PlotLeft - 60;
    private const int RowHeight = 30;
    private const int PanelHeader = 50;
    private const int AxisHeight = 28;
    private const string OursColor = "#2f6db5";
    private const string TorchColor = "#b0b0b0";
    private const string TargetColor = "#d62728";
    // A white outline behind value labels keeps them readable where they cross a reference line.
    private const string ValueLabelHalo = "paint-order=\"stroke\" stroke=\"white\" stroke-width=\"3\"";

    /// <summary>The SVG document for <paramref name="results"/>.</summary>
    public static string Render(IReadOnlyList<ComparisonResult> results, Ceilings ceilings, string machine)
    {
        var svg = new StringBuilder();
        int panelHeight = PanelHeader + results.Count * RowHeight + AxisHeight;
        int height = 70 + 2 * panelHeight + 20;
        svg.AppendLine($"""<svg xmlns="http://www.w3.org/2000/svg" width="{Width}" height="{height}" viewBox="0 0 {Width} {height}" font-family="sans-serif" font-size="12">""");
        svg.AppendLine($"""<rect width="{Width}" height="{height}" fill="white"/>""");
        svg.AppendLine($"""<text x="{Width / 2}" y="24" text-anchor="middle" font-size="16" font-weight="bold">Engine (SIMD CPU) vs libtorch, same process, medians of alternating rounds</text>""");
        svg.AppendLine($"""<text x="{Width / 2}" y="44" text-anchor="middle" fill="#555">{Escape(machine)}</text>""");
        Legend(svg, 58);
        RatioPanel(svg, results, top: 70);
        CeilingPanel(svg, results, ceilings, top: 70 + panelHeight);
        svg.AppendLine("</svg>");
        return svg.ToString();
    }

    private static void Legend(StringBuilder svg, int y)
    {
        int x = PlotLeft;
        svg.AppendLine($"""<rect x="{x}" y="{y - 9}" width="12" height="10" fill="{OursColor}"/><text x="{x + 16}" y="{y}">ours</text>""");
        svg.AppendLine($"""<rect x="{x + 60}" y="{y - 9}" width="12" height="10" fill="{TorchColor}"/><text x="{x + 76}" y="{y}">libtorch</text>""");
        svg.AppendLine($"""<line x1="{x + 140}" y1="{y - 10}" x2="{x + 140}" y2="{y + 2}" stroke="{TargetColor}" stroke-width="3"/><text x="{x + 148}" y="{y}">target</text>""");
    }

    // Ratios are drawn on a log2 scale, as bars from parity: twice as fast and twice as slow are
    // equally long, and one outlier does not flatten the rest.
    private static void RatioPanel(StringBuilder svg, IReadOnlyList<ComparisonResult> results, int top)
    {
        var ratios = results.Where(r => r.Failure is null).Select(r => r.Ratio).ToList();
        int lowestPower = (int)Math.Floor(Math.Log2(Math.Min(0.5, ratios.DefaultIfEmpty(1).Min())));
        int highestPower = (int)Math.Ceiling(Math.Log2(Math.Max(2.0, ratios.DefaultIfEmpty(1).Max())));
        double Offset(double ratio) => (Math.Log2(ratio) - lowestPower) / (highestPower - lowestPower) * PlotWidth;

        PanelTitle(svg, top, "Ours / libtorch", "log scale; right of the dashed parity line we are faster");
        int rowsTop = top + PanelHeader;
        Axis(svg, rowsTop, results.Count,
            Enumerable.Range(lowestPower, highestPower - lowestPower + 1).Select(p => (Offset(Math.Pow(2, p)), $"{Math.Pow(2, p):0.###}x")));
        double parity = Offset(1.0);
        for (int i = 0; i < results.Count; i++)
        {
            var result = results[i];
            int y = rowsTop + i * RowHeight;
            RowLabel(svg, y, result.Workload);
            if (result.Failure is not null)
            {
                FailedRow(svg, y);
                continue;
            }
            double end = Offset(result.Ratio);
            svg.AppendLine($"""<rect x="{PlotLeft + Math.Min(parity, end):F1}" y="{y + 6}" width="{Math.Abs(end - parity):F1}" height="{RowHeight - 12}" fill="{OursColor}"/>""");
            double target = Targets.HasRatioGoal(result.Workload) ? Offset(Targets.SgemmRatioToTorch) : 0;
            if (target > 0)
                TargetMark(svg, y, target, $"{Targets.SgemmRatioToTorch:F1}x");
            var label = end >= parity
                ? $"""x="{PlotLeft + LabelOffset(end, target):F1}" """
                : $"""x="{PlotLeft + end - 5:F1}" text-anchor="end" """;
            svg.AppendLine($"""<text {ValueLabelHalo} {label}y="{y + RowHeight / 2 + 4}">{result.Ratio:F2}x</text>""");
        }
        svg.AppendLine($"""<line x1="{PlotLeft + parity:F1}" y1="{rowsTop}" x2="{PlotLeft + parity:F1}" y2="{rowsTop + results.Count * RowHeight}" stroke="black" stroke-width="1.5" stroke-dasharray="6,4"/>""");
    }

    private static void CeilingPanel(StringBuilder svg, IReadOnlyList<ComparisonResult> results, Ceilings ceilings, int top)
    {
        var measured = results.Where(r => r.Failure is null).ToList();
        double largest = measured.SelectMany(r => new[] { r.OursFractionOf(ceilings), r.TorchFractionOf(ceilings) }).DefaultIfEmpty(0).Max();
        double axisMax = CeilingTo(Math.Max(1.0, largest * 1.1), 0.25);
        PanelTitle(svg, top, "Fraction of the machine's ceiling",
            $"matmul: FMA peak {ceilings.FmaGflops:F1} GFLOP/s; others: copy bandwidth {ceilings.CopyGigabytes:F1} GB/s; dotted: 100%");
        int rowsTop = top + PanelHeader;
        int steps = (int)Math.Round(axisMax / 0.25);
        Axis(svg, rowsTop, results.Count, Enumerable.Range(0, steps + 1).Select(k => (Scale(k * 0.25, axisMax), $"{k * 25}%")));
        int barHeight = (RowHeight - 10) / 2;
        for (int i = 0; i < results.Count; i++)
        {
            var result = results[i];
            int y = rowsTop + i * RowHeight;
            RowLabel(svg, y, result.Workload);
            if (result.Failure is not null)
            {
                FailedRow(svg, y);
                continue;
            }
            double ours = Scale(result.OursFractionOf(ceilings), axisMax);
            double torchWidth = Scale(result.TorchFractionOf(ceilings), axisMax);
            svg.AppendLine($"""<rect x="{PlotLeft}" y="{y + 5}" width="{ours:F1}" height="{barHeight}" fill="{OursColor}"/>""");
            svg.AppendLine($"""<rect x="{PlotLeft}" y="{y + 5 + barHeight}" width="{torchWidth:F1}" height="{barHeight}" fill="{TorchColor}"/>""");
            var goal = Targets.FractionGoal(result.Workload);
            double target = goal is null ? 0 : Scale(goal.Value, axisMax);
            if (goal is not null)
                TargetMark(svg, y, target, $"{goal * 100:F0}%");
            svg.AppendLine($"""<text {ValueLabelHalo} x="{PlotLeft + LabelOffset(Math.Max(ours, torchWidth), target):F1}" y="{y + RowHeight / 2 + 4}">{result.OursFractionOf(ceilings) * 100:F0}% / {result.TorchFractionOf(ceilings) * 100:F0}%</text>""");
        }
        double full = PlotLeft + Scale(1.0, axisMax);
        svg.AppendLine($"""<line x1="{full:F1}" y1="{rowsTop}" x2="{full:F1}" y2="{rowsTop + results.Count * RowHeight}" stroke="black" stroke-width="1" stroke-dasharray="2,3"/>""");
    }

    private static void PanelTitle(StringBuilder svg, int top, string title, string subtitle)
    {
        svg.AppendLine($"""<text x="{PlotLeft}" y="{top + 26}" font-size="14" font-weight="bold">{Escape(title)}</text>""");
        svg.AppendLine($"""<text x="{PlotLeft}" y="{top + 42}" fill="#555">{Escape(subtitle)}</text>""");
    }

    private static void Axis(StringBuilder svg, int rowsTop, int rows, IEnumerable<(double Offset, string Label)> ticks)
    {
        int bottom = rowsTop + rows * RowHeight;
        foreach (var (offset, label) in ticks)
        {
            double x = PlotLeft + offset;
            svg.AppendLine($"""<line x1="{x:F1}" y1="{rowsTop}" x2="{x:F1}" y2="{bottom}" stroke="#e4e4e4"/>""");
            svg.AppendLine($"""<text x="{x:F1}" y="{bottom + 16}" text-anchor="middle" fill="#555">{label}</text>""");
        }
        svg.AppendLine($"""<line x1="{PlotLeft}" y1="{rowsTop}" x2="{PlotLeft}" y2="{bottom}" stroke="black"/>""");
    }

    private static void RowLabel(StringBuilder svg, int y, Workload workload)
    {
        var note = workload.Note.Length == 0 ? "" : $" ({workload.Note})";
        svg.AppendLine($"""<text x="{LabelWidth}" y="{y + RowHeight / 2 + 4}" text-anchor="end">{Escape($"{workload.Family} {workload.Shape}{note}")}</text>""");
    }

    private static void FailedRow(StringBuilder svg, int y) =>
        svg.AppendLine($"""<text x="{PlotLeft + 6}" y="{y + RowHeight / 2 + 4}" fill="{TargetColor}">failed</text>""");

    private static void TargetMark(StringBuilder svg, int y, double offset, string label)
    {
        double x = PlotLeft + offset;
        svg.AppendLine($"""<line x1="{x:F1}" y1="{y + 2}" x2="{x:F1}" y2="{y + RowHeight - 2}" stroke="{TargetColor}" stroke-width="3"><title>target {label}</title></line>""");
    }

    /// <summary>Just past the bar, or past the target mark when the label would run into it.</summary>
    private static double LabelOffset(double barEnd, double targetMark) =>
        (targetMark > barEnd && targetMark - barEnd < 50 ? targetMark : barEnd) + 5;

    private static double Scale(double value, double axisMax) => Math.Max(0, value) / axisMax * PlotWidth;

    private static double CeilingTo(double value, double step) => Math.Ceiling(value / step) * step;

    private static string Escape(string text) => SecurityElement.Escape(text) ?? "";
}
