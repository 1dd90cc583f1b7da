using System.Diagnostics;
using System.Globalization;

namespace Engine.Cli;

/// <summary>
/// Progress of a loop over a known number of items: one line redrawn in place with '\r' (label,
/// done/total, a bar, items per second, elapsed time and ETA), at most ten times a second. When
/// the output is redirected, a line is written at the first update and at each tenth of the way instead.
/// </summary>
internal sealed class CountProgress
{
    private const int BarWidth = 24;
    private static readonly TimeSpan RedrawInterval = TimeSpan.FromMilliseconds(100);

    private readonly string _label;
    private readonly long _total;
    private readonly TextWriter _output;
    private readonly bool _redraw;
    private readonly Func<TimeSpan> _elapsed;
    private TimeSpan? _lastDrawn;
    private long _lastTenth = -1;
    private int _drawnLength;

    /// <summary>Progress through <paramref name="total"/> items, shown after <paramref name="label"/>.</summary>
    /// <param name="label">What the items are ("search", "latency").</param>
    /// <param name="total">The number of items.</param>
    /// <param name="output">Where to write; the console unless given.</param>
    /// <param name="redraw">Redraw one line in place; by default when the console output is not redirected.</param>
    /// <param name="elapsed">The time since the loop started; a stopwatch started now unless given.</param>
    public CountProgress(string label, long total, TextWriter? output = null, bool? redraw = null, Func<TimeSpan>? elapsed = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(total);
        _label = label;
        _total = total;
        _output = output ?? Console.Out;
        _redraw = redraw ?? (output is null && !Console.IsOutputRedirected);
        if (elapsed is null)
        {
            var clock = Stopwatch.StartNew();
            elapsed = () => clock.Elapsed;
        }
        _elapsed = elapsed;
    }

    /// <summary>Shows that <paramref name="done"/> items are done (drawn only when due).</summary>
    public void Update(long done)
    {
        var elapsed = _elapsed();
        if (_redraw)
        {
            if (done < _total && _lastDrawn is { } last && elapsed - last < RedrawInterval)
                return;
            _lastDrawn = elapsed;
            string line = Format(done, elapsed);
            _output.Write("\r" + line.PadRight(_drawnLength));
            _drawnLength = line.Length;
        }
        else
        {
            long tenth = _total == 0 ? 10 : done * 10 / _total;
            if (tenth == _lastTenth)
                return;
            _lastTenth = tenth;
            _output.WriteLine(Format(done, elapsed));
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

    /// <summary>The progress line for <paramref name="done"/> items after <paramref name="elapsed"/>.</summary>
    public string Format(long done, TimeSpan elapsed)
    {
        var invariant = CultureInfo.InvariantCulture;
        double fraction = _total == 0 ? 1 : Math.Clamp((double)done / _total, 0, 1);
        int filled = (int)(fraction * BarWidth);
        string bar = new string('#', filled) + new string('.', BarWidth - filled);
        double seconds = elapsed.TotalSeconds;
        string rate = done > 0 && seconds > 0 ? string.Create(invariant, $"{done / seconds:F0}/s") : "-/s";
        string eta = done > 0 ? Clock(elapsed / done * Math.Max(0, _total - done)) : "--:--:--";
        int digits = _total.ToString(invariant).Length;
        return string.Create(invariant,
            $"{_label} {done.ToString(invariant).PadLeft(digits)}/{_total} [{bar}] {fraction * 100,5:F1}% | {rate} | {Clock(elapsed)} elapsed | ETA {eta}");
    }

    private static string Clock(TimeSpan time) =>
        string.Create(CultureInfo.InvariantCulture, $"{(long)time.TotalHours:00}:{time.Minutes:00}:{time.Seconds:00}");
}
