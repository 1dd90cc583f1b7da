using System.Diagnostics;
using TorchSharp;

namespace Engine.Bench;

/// <summary>
/// The compare verb: our kernels and libtorch's in one process on the same shapes and values,
/// alternating batch by batch so that both see the same machine noise; reports median rates,
/// their ratio, the fraction of the machine's ceilings each reaches, and how far the outputs differ.
/// </summary>
public static class Compare
{
    /// <summary>Runs the comparison described by <paramref name="options"/>; returns the process exit code.</summary>
    public static int Run(ComparisonOptions options)
    {
        var clock = Stopwatch.StartNew();
        int threads = Environment.ProcessorCount;
        torch.set_num_threads(threads);
        using var noGradients = torch.no_grad();

        var machine = MachineInfo.Describe();
        Console.WriteLine($"Machine: {machine}");
        Console.WriteLine($"libtorch threads: {torch.get_num_threads()}; {options.Rounds} alternating rounds per shape{(options.Quick ? " (quick)" : "")}");

        var ceilingsBefore = Ceilings.Measure(options.Quick);
        PrintCeilings("before the kernels", ceilingsBefore);
        Console.WriteLine();

        var results = new List<ComparisonResult>();
        using (var device = Device.Cpu())
        {
            foreach (var family in options.Families)
            {
                foreach (var workload in Workloads.Of(family, options.Quick))
                {
                    var result = Measure(workload, device, options);
                    results.Add(result);
                    Console.WriteLine(ResultTable.ProgressLine(result));
                }
            }
        }

        // Measured again after the kernels: a ceiling caught while the machine was busier would flatter them.
        Console.WriteLine();
        var ceilingsAfter = Ceilings.Measure(options.Quick);
        PrintCeilings("after the kernels", ceilingsAfter);
        var ceilings = ceilingsBefore.BestOf(ceilingsAfter);
        PrintCeilings("best of both, used below", ceilings);

        var elapsed = clock.Elapsed;
        Console.WriteLine();
        Console.WriteLine(ResultTable.ToConsole(results, ceilings));
        Console.WriteLine($"Compare took {elapsed.TotalSeconds:F1} s.");

        if (options.ReportPath is not null)
        {
            var chartPath = Report.Write(options.ReportPath, machine, ceilings, results, options, elapsed);
            Console.WriteLine($"Wrote {options.ReportPath} and {chartPath}.");
        }
        return results.Any(r => r.Failure is not null || r.ErrorFlagged) ? 1 : 0;
    }

    private static void PrintCeilings(string when, Ceilings ceilings) =>
        Console.WriteLine($"Ceilings {when} ({ceilings.Threads} threads): FMA peak {ceilings.FmaGflops:F1} GFLOP/s ({ceilings.VectorWidth}), " +
                          $"copy bandwidth {ceilings.CopyGigabytes:F1} GB/s (read + write)");

    private static ComparisonResult Measure(Workload workload, Device device, ComparisonOptions options)
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        using var pair = KernelPair.Create(workload, device);
        double relativeError;
        try
        {
            relativeError = pair.RelativeError();
        }
        catch (Exception e)
        {
            // A kernel that throws (not written yet, or broken) costs its row, not the whole run.
            Console.Error.WriteLine($"{workload.Family} {workload.Shape}: {e.GetType().Name}: {e.Message}");
            return ComparisonResult.Failed(workload, e);
        }

        int oursCalls = CallsPerBatch(pair.RunOurs, options);
        int torchCalls = CallsPerBatch(pair.RunTorch, options);
        var oursSeconds = new double[options.Rounds];
        var torchSeconds = new double[options.Rounds];
        for (int round = 0; round < options.Rounds; round++)
        {
            // Alternate which side goes first so neither always runs on a warmer (or hotter) machine.
            if (round % 2 == 0)
            {
                oursSeconds[round] = SecondsPerCall(pair.RunOurs, oursCalls);
                torchSeconds[round] = SecondsPerCall(pair.RunTorch, torchCalls);
            }
            else
            {
                torchSeconds[round] = SecondsPerCall(pair.RunTorch, torchCalls);
                oursSeconds[round] = SecondsPerCall(pair.RunOurs, oursCalls);
            }
        }
        return new ComparisonResult(workload, Median(oursSeconds), Median(torchSeconds), relativeError);
    }

    /// <summary>Warms <paramref name="call"/> up, and from the warm-up's pace picks how many calls fill one timed batch.</summary>
    private static int CallsPerBatch(Action call, ComparisonOptions options)
    {
        call();
        int calls = 0;
        var clock = Stopwatch.StartNew();
        do
        {
            call();
            calls++;
        } while (clock.Elapsed.TotalSeconds < options.WarmupSeconds);
        double secondsPerCall = clock.Elapsed.TotalSeconds / calls;
        return (int)Math.Clamp(Math.Round(options.BatchSeconds / secondsPerCall), 1, 1_000_000);
    }

    private static double SecondsPerCall(Action call, int calls)
    {
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < calls; i++)
            call();
        return clock.Elapsed.TotalSeconds / calls;
    }

    private static double Median(double[] values)
    {
        var sorted = values.Order().ToArray();
        int middle = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
    }
}
