using System.Diagnostics;
using System.Globalization;

namespace Engine.Cli;

/// <summary>
/// Training progress on the console: one line redrawn in place with '\r' (step/total, a bar,
/// loss, validation loss once known, tokens per second, elapsed time and ETA). When the output is
/// redirected to a file or pipe, each update is written as its own line instead, so logs stay
/// readable.
/// </summary>
internal sealed class ProgressBar
{
    private const int BarWidth = 24;

    private readonly TextWriter _output;
    private readonly bool _redraw;
    private readonly Func<TimeSpan> _elapsed;
    private readonly long _totalSteps;
    private readonly long _firstStep;
    private readonly long _tokensPerStep;
    private int _drawnLength;

    /// <summary>Progress of a run from <paramref name="firstStep"/> (where a resumed run starts) to <paramref name="totalSteps"/>.</summary>
    /// <param name="totalSteps">The step count at the end of the run.</param>
    /// <param name="tokensPerStep">Tokens trained on per step (B * T), for the token rate.</param>
    /// <param name="firstStep">Steps already done when this run started; rate and ETA count only this run's steps.</param>
    /// <param name="output">Where to write; the console unless given.</param>
    /// <param name="redraw">Redraw one line in place; by default when the console output is not redirected.</param>
    /// <param name="elapsed">The time since the run started; a stopwatch started now unless given.</param>
    public ProgressBar(long totalSteps, long tokensPerStep, long firstStep = 0, TextWriter? output = null, bool? redraw = null, Func<TimeSpan>? elapsed = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(totalSteps);
        ArgumentOutOfRangeException.ThrowIfNegative(tokensPerStep);
        ArgumentOutOfRangeException.ThrowIfNegative(firstStep);
        _totalSteps = totalSteps;
        _tokensPerStep = tokensPerStep;
        _firstStep = firstStep;
        _output = output ?? Console.Out;
        _redraw = redraw ?? (output is null && !Console.IsOutputRedirected);
        if (elapsed is null)
        {
            var clock = Stopwatch.StartNew();
            elapsed = () => clock.Elapsed;
        }
        _elapsed = elapsed;
    }

    /// <summary>Shows that <paramref name="step"/> steps are done, the last with training loss <paramref name="loss"/>.</summary>
    public void Update(long step, float loss, float? validationLoss = null)
    {
        string line = Format(step, loss, validationLoss, _elapsed());
        if (_redraw)
        {
            // Spaces cover what a longer previous line left behind.
            _output.Write("\r" + line.PadRight(_drawnLength));
            _drawnLength = line.Length;
        }
        else
        {
            _output.WriteLine(line);
        }
        _output.Flush();
    }

    /// <summary>Ends the redrawn line, so what is written next starts on a line of its own.</summary>
    public void Finish()
    {
        if (_redraw && _drawnLength > 0)
            _output.WriteLine();
        _drawnLength = 0;
    }

    /// <summary>The progress line for <paramref name="step"/> after <paramref name="elapsed"/>.</summary>
    public string Format(long step, float loss, float? validationLoss, TimeSpan elapsed)
    {
        var invariant = CultureInfo.InvariantCulture;
        double done = Math.Clamp((double)step / _totalSteps, 0, 1);
        int filled = (int)(done * BarWidth);
        string bar = new string('#', filled) + new string('.', BarWidth - filled);
        long stepsThisRun = step - _firstStep;
        double seconds = elapsed.TotalSeconds;
        string rate = stepsThisRun > 0 && seconds > 0 ? Compact(stepsThisRun * _tokensPerStep / seconds) : "-";
        string eta = stepsThisRun > 0 ? Clock(elapsed / stepsThisRun * Math.Max(0, _totalSteps - step)) : "--:--:--";
        string validation = validationLoss is { } v ? string.Create(invariant, $" | val {v:F4}") : "";
        int digits = _totalSteps.ToString(invariant).Length;
        return string.Create(invariant,
            $"step {step.ToString(invariant).PadLeft(digits)}/{_totalSteps} [{bar}] {done * 100,5:F1}% | loss {loss:F4}{validation} | {rate} tok/s | {Clock(elapsed)} elapsed | ETA {eta}");
    }

    private static string Clock(TimeSpan time) =>
        string.Create(CultureInfo.InvariantCulture, $"{(long)time.TotalHours:00}:{time.Minutes:00}:{time.Seconds:00}");

    private static string Compact(double value) => value switch
    {
        >= 1e6 => string.Create(CultureInfo.InvariantCulture, $"{value / 1e6:F2}M"),
        >= 1e4 => string.Create(CultureInfo.InvariantCulture, $"{value / 1e3:F1}k"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{value:F0}"),
    };
}
