using System.Globalization;

namespace Engine.Cli;

/// <summary>
/// A PNG chart of loss against step: the training loss and the validation loss as two polylines
/// over a grid with tick labels, written without any imaging library.
/// </summary>
internal static class LossChart
{
    /// <summary>The chart's width in pixels unless given.</summary>
    public const int DefaultWidth = 640;

    /// <summary>The chart's height in pixels unless given.</summary>
    public const int DefaultHeight = 400;

    private const int Scale = 2;  // font pixels are 2 x 2 screen pixels: glyphs are 6 x 10
    private const int LeftMargin = 64, RightMargin = 20, TopMargin = 36, BottomMargin = 48;

    private static readonly Rgb Paper = new(255, 255, 255);
    private static readonly Rgb Grid = new(228, 228, 228);
    private static readonly Rgb Ink = new(60, 60, 60);
    private static readonly Rgb TrainColor = new(31, 119, 180);
    private static readonly Rgb ValidationColor = new(230, 110, 0);

    /// <summary>Renders the chart and writes it to <paramref name="path"/> atomically.</summary>
    public static void Write(string path, IReadOnlyList<(long Step, float Loss)> train, IReadOnlyList<(long Step, float Loss)> validation,
        int width = DefaultWidth, int height = DefaultHeight)
    {
        byte[] png = Render(train, validation, width, height).EncodePng();
        Io.AtomicFile.Write(path, stream => stream.Write(png));
    }

    /// <summary>
    /// Draws the chart. The axes span the finite points of both series (NaN and infinite losses
    /// are left out, breaking the line); with no finite point the axes show [0, 1].
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The canvas is too small to hold the margins, labels and a plot.</exception>
    public static Canvas Render(IReadOnlyList<(long Step, float Loss)> train, IReadOnlyList<(long Step, float Loss)> validation,
        int width = DefaultWidth, int height = DefaultHeight)
    {
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(validation);
        if (width < LeftMargin + RightMargin + 100 || height < TopMargin + BottomMargin + 60)
            throw new ArgumentOutOfRangeException(nameof(width), $"LossChart: {width}x{height} is too small; the chart needs at least {LeftMargin + RightMargin + 100}x{TopMargin + BottomMargin + 60}.");

        var finite = train.Concat(validation).Where(p => float.IsFinite(p.Loss)).ToList();
        var (stepLow, stepHigh) = Range(finite.Select(p => (double)p.Step), padding: 0);
        var (lossLow, lossHigh) = Range(finite.Select(p => (double)p.Loss), padding: 0.05);

        var canvas = new Canvas(width, height, Paper);
        var plot = new Plot(LeftMargin, TopMargin, width - RightMargin, height - BottomMargin, stepLow, stepHigh, lossLow, lossHigh);
        int labelHeight = PixelFont.GlyphHeight * Scale;

        foreach (double tick in Ticks(lossLow, lossHigh, minimumSpacing: 0, out int lossDecimals))
        {
            int y = plot.Y(tick);
            canvas.Line(plot.Left, y, plot.Right, y, Grid);
            string label = tick.ToString("F" + lossDecimals, CultureInfo.InvariantCulture);
            canvas.Text(plot.Left - 8 - PixelFont.Width(label, Scale), y - labelHeight / 2, label, Ink, Scale);
        }
        foreach (double tick in Ticks(stepLow, stepHigh, minimumSpacing: 1, out _))
        {
            int x = plot.X(tick);
            canvas.Line(x, plot.Top, x, plot.Bottom, Grid);
            string label = StepLabel(tick);
            canvas.Text(x - PixelFont.Width(label, Scale) / 2, plot.Bottom + 8, label, Ink, Scale);
        }
        canvas.Line(plot.Left, plot.Top, plot.Left, plot.Bottom, Ink);
        canvas.Line(plot.Left, plot.Bottom, plot.Right, plot.Bottom, Ink);
        canvas.Text((plot.Left + plot.Right - PixelFont.Width("STEP", Scale)) / 2, height - labelHeight - 6, "STEP", Ink, Scale);
        canvas.Text(8, 12, "LOSS", Ink, Scale);

        DrawSeries(canvas, plot, train, TrainColor, markers: false);
        DrawSeries(canvas, plot, validation, ValidationColor, markers: true);

        int legendX = plot.Right - PixelFont.Width("TRAIN", Scale) - PixelFont.Width("VAL", Scale) - 80;
        legendX = DrawLegendEntry(canvas, legendX, 12, "TRAIN", TrainColor);
        DrawLegendEntry(canvas, legendX + 16, 12, "VAL", ValidationColor);
        return canvas;
    }

    // The data-to-pixel mapping of the plot area [Left, Right] x [Top, Bottom], loss growing upwards.
    private readonly record struct Plot(int Left, int Top, int Right, int Bottom, double StepLow, double StepHigh, double LossLow, double LossHigh)
    {
        public int X(double step) => Left + (int)Math.Round((step - StepLow) / (StepHigh - StepLow) * (Right - Left));

        public int Y(double loss) => Bottom - (int)Math.Round((loss - LossLow) / (LossHigh - LossLow) * (Bottom - Top));
    }

    private static void DrawSeries(Canvas canvas, Plot plot, IReadOnlyList<(long Step, float Loss)> points, Rgb color, bool markers)
    {
        (int X, int Y)? previous = null;
        foreach (var (step, loss) in points)
        {
            if (!float.IsFinite(loss))
            {
                previous = null;
                continue;
            }
            var point = (X: plot.X(step), Y: plot.Y(loss));
            if (previous is { } from)
                canvas.Line(from.X, from.Y, point.X, point.Y, color, thickness: 2);
            if (markers)
                canvas.FillRectangle(point.X - 2, point.Y - 2, 5, 5, color);
            previous = point;
        }
    }

    private static int DrawLegendEntry(Canvas canvas, int x, int y, string label, Rgb color)
    {
        int middle = y + PixelFont.GlyphHeight * Scale / 2;
        canvas.Line(x, middle, x + 20, middle, color, thickness: 3);
        canvas.Text(x + 28, y, label, Ink, Scale);
        return x + 28 + PixelFont.Width(label, Scale);
    }

    // [min, max] of the values, widened by padding * span on each side; a single value or none
    // gets a span of 1 so the mapping never divides by zero.
    private static (double Low, double High) Range(IEnumerable<double> values, double padding)
    {
        double low = double.PositiveInfinity, high = double.NegativeInfinity;
        foreach (double v in values)
        {
            low = Math.Min(low, v);
            high = Math.Max(high, v);
        }
        if (low > high)
            return (0, 1);
        if (low == high)
            return (low - 0.5, high + 0.5);
        double margin = (high - low) * padding;
        return (low - margin, high + margin);
    }

    // About five round ticks (1, 2 or 5 times a power of ten apart, and at least minimumSpacing)
    // inside [low, high], and the decimals their labels need.
    private static IEnumerable<double> Ticks(double low, double high, double minimumSpacing, out int decimals)
    {
        double rough = (high - low) / 5;
        double power = Math.Pow(10, Math.Floor(Math.Log10(rough)));
        double spacing = Math.Max(minimumSpacing, (rough / power) switch { < 1.5 => power, < 3.5 => 2 * power, < 7.5 => 5 * power, _ => 10 * power });
        decimals = Math.Max(0, -(int)Math.Floor(Math.Log10(spacing)));
        var ticks = new List<double>();
        for (double tick = Math.Ceiling(low / spacing) * spacing; tick <= high + spacing * 1e-9; tick += spacing)
            ticks.Add(Math.Round(tick / spacing) * spacing);
        return ticks;
    }

    private static string StepLabel(double step) => Math.Abs(step) >= 10_000
        ? (step / 1000).ToString("0.#", CultureInfo.InvariantCulture) + "K"
        : step.ToString("0.##", CultureInfo.InvariantCulture);
}
