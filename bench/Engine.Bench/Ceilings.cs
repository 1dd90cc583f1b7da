using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Engine.Bench;

/// <summary>
/// The machine's ceilings, measured on all cores: the peak fused multiply-add rate (what an SGEMM
/// can reach at best) and the memory-copy bandwidth (what a kernel that streams its tensors once
/// can reach at best). Each is the best of several trials; on a shared machine, trials taken at
/// different times (<see cref="BestOf"/>) get closer to the real ceiling.
/// </summary>
public sealed record Ceilings(double FmaGflops, double CopyGigabytes, int Threads, string VectorWidth)
{
    private const int Accumulators = 12;

    /// <summary>The ceiling a kernel of <paramref name="unit"/> is held against.</summary>
    public double For(RateUnit unit) => unit == RateUnit.GflopPerSecond ? FmaGflops : CopyGigabytes;

    /// <summary>The higher of each ceiling here and in <paramref name="other"/>.</summary>
    public Ceilings BestOf(Ceilings other) =>
        this with { FmaGflops = Math.Max(FmaGflops, other.FmaGflops), CopyGigabytes = Math.Max(CopyGigabytes, other.CopyGigabytes) };

    /// <summary>Measures both ceilings with one thread per core; <paramref name="quick"/> runs fewer, shorter trials.</summary>
    public static Ceilings Measure(bool quick)
    {
        int threads = Environment.ProcessorCount;
        int trials = quick ? 3 : 7;
        double fma = Best(trials, () => FmaGflopsOnce(threads, quick ? 20_000_000 : 50_000_000));
        double copy = Best(trials, () => CopyGigabytesOnce(threads, quick ? 2 : 4));
        string width = Vector512.IsHardwareAccelerated ? "Vector512" : "Vector256";
        return new Ceilings(fma, copy, threads, width);
    }

    private static double Best(int trials, Func<double> trial)
    {
        double best = 0;
        for (int i = 0; i < trials; i++)
            best = Math.Max(best, trial());
        return best;
    }

    /// <summary>Every thread runs <paramref name="iterations"/> steps of independent FMA chains; returns GFLOP/s over all threads.</summary>
    private static double FmaGflopsOnce(int threads, long iterations)
    {
        int lanes = Vector512.IsHardwareAccelerated ? Vector512<float>.Count : Vector256<float>.Count;
        var sinks = new float[threads];
        double seconds = RunOnAllThreads(threads, t =>
            sinks[t] = Vector512.IsHardwareAccelerated ? FmaChains512(iterations) : FmaChains256(iterations));
        double flops = 2.0 * Accumulators * lanes * iterations * threads;
        GC.KeepAlive(sinks);
        return flops / seconds / 1e9;
    }

    // Twelve accumulators keep both FMA pipes busy past the instruction latency; multiplier and
    // addend keep every chain bounded (it converges to addend / (1 - multiplier)).
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static float FmaChains256(long iterations)
    {
        var multiplier = Vector256.Create(0.999f);
        var addend = Vector256.Create(0.001f);
        Vector256<float> a0 = Vector256.Create(0.0f), a1 = Vector256.Create(0.1f), a2 = Vector256.Create(0.2f),
            a3 = Vector256.Create(0.3f), a4 = Vector256.Create(0.4f), a5 = Vector256.Create(0.5f),
            a6 = Vector256.Create(0.6f), a7 = Vector256.Create(0.7f), a8 = Vector256.Create(0.8f),
            a9 = Vector256.Create(0.9f), a10 = Vector256.Create(1.0f), a11 = Vector256.Create(1.1f);
        for (long i = 0; i < iterations; i++)
        {
            a0 = Vector256.FusedMultiplyAdd(a0, multiplier, addend);
            a1 = Vector256.FusedMultiplyAdd(a1, multiplier, addend);
            a2 = Vector256.FusedMultiplyAdd(a2, multiplier, addend);
            a3 = Vector256.FusedMultiplyAdd(a3, multiplier, addend);
            a4 = Vector256.FusedMultiplyAdd(a4, multiplier, addend);
            a5 = Vector256.FusedMultiplyAdd(a5, multiplier, addend);
            a6 = Vector256.FusedMultiplyAdd(a6, multiplier, addend);
            a7 = Vector256.FusedMultiplyAdd(a7, multiplier, addend);
            a8 = Vector256.FusedMultiplyAdd(a8, multiplier, addend);
            a9 = Vector256.FusedMultiplyAdd(a9, multiplier, addend);
            a10 = Vector256.FusedMultiplyAdd(a10, multiplier, addend);
            a11 = Vector256.FusedMultiplyAdd(a11, multiplier, addend);
        }
        var sum = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11;
        return Vector256.Sum(sum);
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static float FmaChains512(long iterations)
    {
        var multiplier = Vector512.Create(0.999f);
        var addend = Vector512.Create(0.001f);
        Vector512<float> a0 = Vector512.Create(0.0f), a1 = Vector512.Create(0.1f), a2 = Vector512.Create(0.2f),
            a3 = Vector512.Create(0.3f), a4 = Vector512.Create(0.4f), a5 = Vector512.Create(0.5f),
            a6 = Vector512.Create(0.6f), a7 = Vector512.Create(0.7f), a8 = Vector512.Create(0.8f),
            a9 = Vector512.Create(0.9f), a10 = Vector512.Create(1.0f), a11 = Vector512.Create(1.1f);
        for (long i = 0; i < iterations; i++)
        {
            a0 = Vector512.FusedMultiplyAdd(a0, multiplier, addend);
            a1 = Vector512.FusedMultiplyAdd(a1, multiplier, addend);
            a2 = Vector512.FusedMultiplyAdd(a2, multiplier, addend);
            a3 = Vector512.FusedMultiplyAdd(a3, multiplier, addend);
            a4 = Vector512.FusedMultiplyAdd(a4, multiplier, addend);
            a5 = Vector512.FusedMultiplyAdd(a5, multiplier, addend);
            a6 = Vector512.FusedMultiplyAdd(a6, multiplier, addend);
            a7 = Vector512.FusedMultiplyAdd(a7, multiplier, addend);
            a8 = Vector512.FusedMultiplyAdd(a8, multiplier, addend);
            a9 = Vector512.FusedMultiplyAdd(a9, multiplier, addend);
            a10 = Vector512.FusedMultiplyAdd(a10, multiplier, addend);
            a11 = Vector512.FusedMultiplyAdd(a11, multiplier, addend);
        }
        var sum = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11;
        return Vector512.Sum(sum);
    }

    /// <summary>
    /// Copies a 256 MiB buffer into another <paramref name="passes"/> times, each thread its own
    /// slice; returns GB/s counting the bytes read plus the bytes written.
    /// </summary>
    private static unsafe double CopyGigabytesOnce(int threads, int passes)
    {
        const long bytes = 256L << 20;
        byte* source = (byte*)NativeMemory.AlignedAlloc((nuint)bytes, 64);
        byte* destination = (byte*)NativeMemory.AlignedAlloc((nuint)bytes, 64);
        try
        {
            // Touch every page first so the timed copies see no page faults.
            new Span<byte>(source, (int)bytes).Fill(1);
            new Span<byte>(destination, (int)bytes).Clear();
            long slice = bytes / threads;
            double seconds = RunOnAllThreads(threads, t =>
            {
                long start = t * slice;
                long length = t == threads - 1 ? bytes - start : slice;
                for (int pass = 0; pass < passes; pass++)
                    Buffer.MemoryCopy(source + start, destination + start, length, length);
            });
            return 2.0 * bytes * passes / seconds / 1e9;
        }
        finally
        {
            NativeMemory.AlignedFree(source);
            NativeMemory.AlignedFree(destination);
        }
    }

    /// <summary>Runs <paramref name="work"/> on <paramref name="threads"/> dedicated threads released together; returns the wall time.</summary>
    private static double RunOnAllThreads(int threads, Action<int> work)
    {
        using var start = new Barrier(threads + 1);
        var workers = Enumerable.Range(0, threads).Select(t => new Thread(() =>
        {
            start.SignalAndWait();
            work(t);
        })).ToArray();
        foreach (var worker in workers)
            worker.Start();
        start.SignalAndWait();
        var clock = Stopwatch.StartNew();
        foreach (var worker in workers)
            worker.Join();
        return clock.Elapsed.TotalSeconds;
    }
}
