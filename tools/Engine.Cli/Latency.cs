using System.Diagnostics;

namespace Engine.Cli;

/// <summary>Single-thread latency of one search, timed query by query, reported as medians (the machines here are noisy).</summary>
internal static class Latency
{
    /// <summary>
    /// Times <paramref name="search"/>(i) (the query vector given) and <paramref name="withEncoding"/>(i)
    /// (the query text encoded first) for i = 0 .. count - 1; returns the median seconds of each.
    /// </summary>
    public static (double Search, double WithEncoding) Medians(int count, Action<int> search, Action<int> withEncoding, CountProgress? progress = null)
    {
        var searchSeconds = new double[count];
        var encodingSeconds = new double[count];
        for (int i = 0; i < count; i++)
        {
            long start = Stopwatch.GetTimestamp();
            search(i);
            searchSeconds[i] = Stopwatch.GetElapsedTime(start).TotalSeconds;
            start = Stopwatch.GetTimestamp();
            withEncoding(i);
            encodingSeconds[i] = Stopwatch.GetElapsedTime(start).TotalSeconds;
            progress?.Update(i + 1);
        }
        progress?.Finish();
        return (Median(searchSeconds), Median(encodingSeconds));
    }

    private static double Median(double[] values)
    {
        var sorted = values.Order().ToArray();
        int mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }
}
