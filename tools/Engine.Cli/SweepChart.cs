using System.Globalization;
using System.Text;

namespace Engine.Cli;

/// <summary>
/// The FLOPs / effectiveness trade-off of a lambda sweep as an SVG scatter plot: FLOPs per
/// query-document pair on a log x axis, MRR@10 on y; learned sparse points joined in lambda order,
/// reference methods without a FLOPs figure (dense) drawn as a horizontal line.
/// </summary>
internal static class SweepChart
{
    private const int Width = 720, Height = 440, Left = 70, Right = 190, Top = 40, Bottom = 60;

    /// <summary>One point: a label, its FLOPs (null: no sparse cost, drawn as a line) and MRR@10.</summary>
    public readonly record struct Point(string Label, double? Flops, double Mrr10);

    public static string Render(string title, IReadOnlyList<Point> sweep, IReadOnlyList<Point> references)
    {
        var invariant = CultureInfo.InvariantCulture;
        var all = sweep.Concat(references).ToArray();
        var flops = all.Where(p => p.Flops is > 0).Select(p => p.Flops!.Value).ToArray();
        double xLow = Math.Floor(Math.Log10(flops.Min())), xHigh = Math.Ceiling(Math.Log10(flops.Max()));
        if (xHigh <= xLow) xHigh = xLow + 1;
        double yLow = 0, yHigh = Math.Ceiling(all.Max(p => p.Mrr10) * 10 + 0.5) / 10;
        double X(double f) => Left + (Math.Log10(f) - xLow) / (xHigh - xLow) * (Width - Left - Right);
        double Y(double m) => Height - Bottom - (m - yLow) / (yHigh - yLow) * (Height - Top - Bottom);
        string F(double v) => v.ToString("F1", invariant);

        var svg = new StringBuilder();
        svg.AppendLine($"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{Width}\" height=\"{Height}\" font-family=\"sans-serif\" font-size=\"12\">");
        svg.AppendLine($"<rect width=\"{Width}\" height=\"{Height}\" fill=\"white\"/>");
        svg.AppendLine($"<text x=\"{Width / 2}\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">{Escape(title)}</text>");
        for (double e = xLow; e <= xHigh; e++)
        {
            double x = X(Math.Pow(10, e));
            svg.AppendLine($"<line x1=\"{F(x)}\" y1=\"{Top}\" x2=\"{F(x)}\" y2=\"{Height - Bottom}\" stroke=\"#ddd\"/>");
            svg.AppendLine($"<text x=\"{F(x)}\" y=\"{Height - Bottom + 16}\" text-anchor=\"middle\">1e{e:F0}</text>");
        }
        for (double m = yLow; m <= yHigh + 1e-9; m += 0.1)
        {
            double y = Y(m);
            svg.AppendLine($"<line x1=\"{Left}\" y1=\"{F(y)}\" x2=\"{Width - Right}\" y2=\"{F(y)}\" stroke=\"#ddd\"/>");
            svg.AppendLine($"<text x=\"{Left - 6}\" y=\"{F(y + 4)}\" text-anchor=\"end\">{m.ToString("F1", invariant)}</text>");
        }
        svg.AppendLine($"<text x=\"{(Left + Width - Right) / 2}\" y=\"{Height - 18}\" text-anchor=\"middle\">FLOPs per query-document pair (log scale)</text>");
        svg.AppendLine($"<text x=\"18\" y=\"{(Top + Height - Bottom) / 2}\" text-anchor=\"middle\" transform=\"rotate(-90 18 {(Top + Height - Bottom) / 2})\">MRR@10</text>");

        var line = string.Join(' ', sweep.Where(p => p.Flops is > 0).OrderBy(p => p.Flops).Select(p => $"{F(X(p.Flops!.Value))},{F(Y(p.Mrr10))}"));
        svg.AppendLine($"<polyline points=\"{line}\" fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"2\"/>");
        foreach (var p in sweep.Where(p => p.Flops is > 0))
        {
            svg.AppendLine($"<circle cx=\"{F(X(p.Flops!.Value))}\" cy=\"{F(Y(p.Mrr10))}\" r=\"5\" fill=\"#1f77b4\"/>");
            svg.AppendLine($"<text x=\"{F(X(p.Flops!.Value) + 8)}\" y=\"{F(Y(p.Mrr10) - 8)}\" fill=\"#1f77b4\">{Escape(p.Label)}</text>");
        }
        string[] colors = ["#d62728", "#2ca02c", "#9467bd", "#8c564b"];
        for (int i = 0; i < references.Count; i++)
        {
            var p = references[i];
            string color = colors[i % colors.Length];
            if (p.Flops is > 0)
            {
                svg.AppendLine($"<rect x=\"{F(X(p.Flops.Value) - 5)}\" y=\"{F(Y(p.Mrr10) - 5)}\" width=\"10\" height=\"10\" fill=\"{color}\"/>");
                svg.AppendLine($"<text x=\"{F(X(p.Flops.Value) + 8)}\" y=\"{F(Y(p.Mrr10) + 16)}\" fill=\"{color}\">{Escape(p.Label)}</text>");
            }
            else
            {
                svg.AppendLine($"<line x1=\"{Left}\" y1=\"{F(Y(p.Mrr10))}\" x2=\"{Width - Right}\" y2=\"{F(Y(p.Mrr10))}\" stroke=\"{color}\" stroke-dasharray=\"6 4\" stroke-width=\"2\"/>");
                svg.AppendLine($"<text x=\"{Width - Right + 6}\" y=\"{F(Y(p.Mrr10) + 4)}\" fill=\"{color}\">{Escape(p.Label)}</text>");
            }
        }
        svg.AppendLine("</svg>");
        return svg.ToString();
    }

    private static string Escape(string text) => text.Replace("&", "&amp;").Replace("<", "&lt;").Replace(">", "&gt;");
}
