using System.Text;

namespace Engine.Bench;

/// <summary>The comparison results as a table of text cells, rendered for the console and for Markdown.</summary>
public static class ResultTable
{
    private static readonly string[] Header =
        ["Kernel", "Shape", "Case", "Ours", "libtorch", "Ours/torch", "Ours of ceiling", "torch of ceiling", "Rel. error", "Target"];

    /// <summary>One line for a finished shape, printed while the run goes on.</summary>
    public static string ProgressLine(ComparisonResult result)
    {
        var workload = result.Workload;
        if (result.Failure is not null)
            return $"{workload.Family,-10} {workload.Shape,-16} failed: {result.Failure}";
        return $"{workload.Family,-10} {workload.Shape,-16} ours {workload.FormatRate(result.OursRate),-16} torch {workload.FormatRate(result.TorchRate),-16} " +
               $"ratio {result.Ratio:F2}x  error {ErrorCell(result)}";
    }

    /// <summary>A plain-text table with aligned columns.</summary>
    public static string ToConsole(IReadOnlyList<ComparisonResult> results, Ceilings ceilings)
    {
        var rows = Rows(results, ceilings);
        var widths = Enumerable.Range(0, Header.Length).Select(c => rows.Max(row => row[c].Length)).ToArray();
        var text = new StringBuilder();
        foreach (var (row, index) in rows.Select((row, index) => (row, index)))
        {
            text.AppendLine(string.Join("  ", row.Select((cell, c) => cell.PadRight(widths[c]))).TrimEnd());
            if (index == 0)
                text.AppendLine(string.Join("  ", widths.Select(w => new string('-', w))));
        }
        return text.ToString();
    }

    /// <summary>A GitHub-flavoured Markdown table.</summary>
    public static string ToMarkdown(IReadOnlyList<ComparisonResult> results, Ceilings ceilings)
    {
        var rows = Rows(results, ceilings);
        var text = new StringBuilder();
        text.AppendLine($"| {string.Join(" | ", rows[0])} |");
        text.AppendLine($"|{string.Join("|", rows[0].Select((_, c) => c < 3 || c == rows[0].Length - 1 ? "---" : "---:"))}|");
        foreach (var row in rows.Skip(1))
            text.AppendLine($"| {string.Join(" | ", row.Select(cell => cell.Replace("|", "\\|")))} |");
        return text.ToString();
    }

    private static List<string[]> Rows(IReadOnlyList<ComparisonResult> results, Ceilings ceilings)
    {
        var rows = new List<string[]> { Header };
        rows.AddRange(results.Select(r => Cells(r, ceilings)));
        return rows;
    }

    private static string[] Cells(ComparisonResult result, Ceilings ceilings)
    {
        var workload = result.Workload;
        if (result.Failure is not null)
            return [workload.Family, workload.Shape, workload.Note, $"failed ({result.Failure})", "", "", "", "", "", ""];
        var ceilingName = workload.Unit == RateUnit.GflopPerSecond ? "FMA peak" : "copy BW";
        var target = Targets.Check(result, ceilings);
        return
        [
            workload.Family,
            workload.Shape,
            workload.Note,
            workload.FormatRate(result.OursRate),
            workload.FormatRate(result.TorchRate),
            $"{result.Ratio:F2}x",
            $"{result.OursFractionOf(ceilings) * 100:F0}% {ceilingName}",
            $"{result.TorchFractionOf(ceilings) * 100:F0}% {ceilingName}",
            ErrorCell(result),
            target is null ? "" : $"{target.Goal}: {(target.Met ? "met" : "missed")}",
        ];
    }

    private static string ErrorCell(ComparisonResult result) =>
        $"{result.RelativeError:0.0e+00}{(result.ErrorFlagged ? $" (> {ComparisonResult.ErrorTolerance:0e+00}!)" : "")}";
}
