using System.Diagnostics;

namespace Engine.GpuCheck;

/// <summary>
/// How long timings run: each sample launches the kernel back to back for about
/// <see cref="SampleTarget"/> (at least once, at most <see cref="MaxRepetitions"/> times) and
/// then waits for the device; the best sample's time per launch is reported.
/// </summary>
internal sealed record TimingPolicy(TimeSpan SampleTarget, int Samples, int MaxRepetitions)
{
    /// <summary>On a GPU: 100 ms samples, best of 3, so launch overhead and clock ramp-up wash out.</summary>
    public static TimingPolicy Gpu { get; } = new(TimeSpan.FromMilliseconds(100), 3, 1000);

    /// <summary>On the CPU accelerator the numbers only show the timing path works: one short sample.</summary>
    public static TimingPolicy Tiny { get; } = new(TimeSpan.FromMilliseconds(5), 1, 1);
}

/// <summary>
/// Synchronised wall-clock timing with a warm-up launch first. Launches queue asynchronously on a
/// GPU, so a sample of many back-to-back launches and one wait measures the kernels, not the
/// launch latency of each.
/// </summary>
internal static class Timing
{
    /// <summary>Milliseconds per launch of <paramref name="launch"/>, waiting with <paramref name="synchronize"/> after each sample.</summary>
    public static double Milliseconds(Action launch, Action synchronize, TimingPolicy policy)
    {
        launch();
        synchronize();

        var clock = Stopwatch.StartNew();
        launch();
        synchronize();
        double single = Math.Max(clock.Elapsed.TotalMilliseconds, 1e-3);
        int repetitions = (int)Math.Clamp(policy.SampleTarget.TotalMilliseconds / single, 1, policy.MaxRepetitions);

        // A launch longer than a whole sample (an 8192^3 product on a slow kernel) is timed once more, not Samples times.
        int samples = single > policy.SampleTarget.TotalMilliseconds ? 1 : policy.Samples;
        double best = single;
        for (int sample = 0; sample < samples; sample++)
        {
            clock.Restart();
            for (int i = 0; i < repetitions; i++)
                launch();
            synchronize();
            best = Math.Min(best, clock.Elapsed.TotalMilliseconds / repetitions);
        }
        return best;
    }
}
