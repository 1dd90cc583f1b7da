using System.Diagnostics;
using System.Globalization;
using Engine.Backends;

namespace Engine.GpuCheck;

/// <summary>
/// The CUDA check: every ILGPU kernel on the CUDA accelerator (or, without a GPU, on ILGPU's CPU
/// accelerator at tiny sizes) against the SIMD backend on the same inputs, then timed next to the
/// device's measured ceilings and torch's time for the same shape. Callable from tests.
/// </summary>
public static class GpuCheck
{
    private const string TableFile = "gpu-check.md";
    private const string JsonFile = "gpu-check.json";

    /// <summary>Runs the check, logging a line per case to <paramref name="log"/>, and writes the table and JSON into options.OutputDirectory.</summary>
    /// <exception cref="InvalidOperationException">options.Device is Cuda and no CUDA device can be opened.</exception>
    public static GpuCheckReport Run(GpuCheckOptions options, TextWriter log)
    {
        var clock = Stopwatch.StartNew();
        var (backend, onCuda, fallback) = OpenBackend(options.Device);
        using var device = backend;
        using var reference = new SimdBackend();
        var sizes = options.Sizes != SizeClass.Auto ? options.Sizes : onCuda ? SizeClass.Gpu : SizeClass.Tiny;
        var timing = sizes == SizeClass.Gpu ? TimingPolicy.Gpu : TimingPolicy.Tiny;
        var cases = Select(options.Only, sizes);
        var (torchTimings, torchDescription) = ReadTorch(options.TorchResultsPath);

        log.WriteLine($"device:    {device.Name}");
        if (fallback.Length > 0)
            log.WriteLine($"fallback:  {fallback}");
        log.WriteLine($"reference: {reference.Name}");
        log.WriteLine($"sizes:     {sizes}, {cases.Count} cases, budget {options.Budget.TotalSeconds:F0} s");
        log.WriteLine($"torch:     {torchDescription}");

        using var probe = OpenProbe(onCuda, timing, log);
        var ceilings = probe is null ? null : MeasureCeilings(probe, sizes, log);

        Directory.CreateDirectory(options.OutputDirectory);
        var results = new List<CaseResult>();
        var report = new GpuCheckReport
        {
            Device = device.Name,
            Fallback = fallback,
            Reference = reference.Name,
            Sizes = sizes,
            Ceilings = ceilings,
            Torch = torchDescription,
            Results = results,
            TablePath = Path.GetFullPath(Path.Combine(options.OutputDirectory, TableFile)),
            JsonPath = Path.GetFullPath(Path.Combine(options.OutputDirectory, JsonFile)),
        };
        foreach (var kernelCase in cases)
        {
            var result = clock.Elapsed > options.Budget
                ? Skipped(kernelCase, options.Budget)
                : RunCase(kernelCase, device, reference, probe, ceilings, torchTimings, timing);
            results.Add(result);
            log.WriteLine(ResultTable.ProgressLine(result));
            // Written after every case, so a run killed by the GPU machine's time limit still leaves its table.
            Write(report with { Elapsed = clock.Elapsed });
        }

        report = report with { Elapsed = clock.Elapsed };
        Write(report);
        log.WriteLine($"result: {report.Summary} in {report.Elapsed.TotalSeconds:F1} s");
        log.WriteLine($"table:  {report.TablePath}");
        return report;
    }

    private static void Write(GpuCheckReport report)
    {
        File.WriteAllText(report.TablePath, ResultTable.ToMarkdown(report));
        File.WriteAllText(report.JsonPath, ResultTable.ToJson(report));
    }

    /// <summary>Writes the torch plan (the torch counterpart of every case of <paramref name="sizes"/>) to <paramref name="path"/>.</summary>
    public static void WriteTorchPlan(SizeClass sizes, string path) =>
        TorchPeer.WritePlan(KernelCases.For(sizes == SizeClass.Auto ? SizeClass.Gpu : sizes), path);

    private static IReadOnlyList<KernelCase> Select(string? only, SizeClass sizes) =>
        KernelCases.For(sizes)
            .Where(c => only is null || c.Op.Contains(only, StringComparison.OrdinalIgnoreCase))
            .ToList();

    /// <summary>The ILGPU backend on the requested device; in Auto mode a missing GPU falls back to the CPU accelerator with the reason.</summary>
    private static (IBackend Backend, bool OnCuda, string Fallback) OpenBackend(CheckDevice device)
    {
        switch (device)
        {
            case CheckDevice.Cuda:
                return (IlgpuBackend.CreateCuda(0), true, "");
            case CheckDevice.IlgpuCpu:
                return (IlgpuBackend.CreateCpu(), false, "");
            default:
                try
                {
                    return (IlgpuBackend.CreateCuda(0), true, "");
                }
                catch (Exception e)
                {
                    return (IlgpuBackend.CreateCpu(), false, $"no CUDA device ({e.GetType().Name}: {e.Message}); ILGPU CPU accelerator instead");
                }
        }
    }

    private static (IReadOnlyDictionary<string, TorchTiming> Timings, string Description) ReadTorch(string? path)
    {
        if (path is null)
            return (new Dictionary<string, TorchTiming>(), "none given");
        if (!File.Exists(path))
            return (new Dictionary<string, TorchTiming>(), $"{path} not found (the torch script did not run or failed)");
        return TorchPeer.Read(path);
    }

    private static CeilingProbe? OpenProbe(bool onCuda, TimingPolicy timing, TextWriter log)
    {
        try
        {
            var probe = CeilingProbe.Open(onCuda, timing);
            log.WriteLine($"cuBLAS:    {probe.CuBlasNote}");
            return probe;
        }
        catch (Exception e)
        {
            log.WriteLine($"ceilings:  not measured ({e.GetType().Name}: {e.Message})");
            return null;
        }
    }

    private static DeviceCeilings? MeasureCeilings(CeilingProbe probe, SizeClass sizes, TextWriter log)
    {
        try
        {
            bool gpu = sizes == SizeClass.Gpu;
            long copyBytes = gpu ? 1L << 30 : 1L << 22;
            double copy = probe.CopyGigabytesPerSecond(copyBytes);
            int square = gpu ? 8192 : 64;
            double? sgemmMs = probe.SgemmMilliseconds(new SgemmShape(square, square, square, false, false));
            double? sgemm = sgemmMs is double ms ? 2.0 * square * square * (double)square / (ms * 1e-3) / 1e9 : null;
            var ceilings = new DeviceCeilings(copy, copyBytes / 1e6, sgemm, sgemm is null ? "" : $"{square}^3", probe.CuBlasNote);
            log.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"ceilings:  copy {copy:F1} GB/s ({copyBytes >> 20} MiB device to device), SGEMM {(sgemm is double g ? $"{g:F0} GFLOP/s at {square}^3" : "n/a")}"));
            return ceilings;
        }
        catch (Exception e)
        {
            log.WriteLine($"ceilings:  not measured ({e.GetType().Name}: {e.Message})");
            return null;
        }
    }

    private static CaseResult Skipped(KernelCase kernelCase, TimeSpan budget) => new()
    {
        Op = kernelCase.Op,
        Shape = kernelCase.Shape,
        Status = CheckStatus.Skipped,
        Tolerance = kernelCase.Tolerance,
        Unit = kernelCase.Unit,
        Note = $"time budget of {budget.TotalSeconds:F0} s spent",
    };

    private static CaseResult RunCase(KernelCase kernelCase, IBackend device, IBackend reference, CeilingProbe? probe,
        DeviceCeilings? ceilings, IReadOnlyDictionary<string, TorchTiming> torch, TimingPolicy timing)
    {
        var result = new CaseResult
        {
            Op = kernelCase.Op,
            Shape = kernelCase.Shape,
            Status = CheckStatus.Fail,
            Tolerance = kernelCase.Tolerance,
            Unit = kernelCase.Unit,
        };
        var notes = new List<string>();
        if (kernelCase.Note.Length > 0)
            notes.Add(kernelCase.Note);
        try
        {
            var inputs = kernelCase.CreateInputs();
            using var run = new BackendRun(device, inputs, kernelCase.Outputs, kernelCase.Prepare);
            run.Launch(kernelCase.Launch);
            var actual = run.Download(kernelCase.Outputs);
            result = Verify(kernelCase, reference, inputs, actual, result, notes);

            double ms = Timing.Milliseconds(() => run.Launch(kernelCase.Launch), device.Synchronize, timing);
            double rate = kernelCase.Work / (ms * 1e-3) / 1e9;
            double? ceiling = kernelCase.Unit == RateUnit.GflopPerSecond ? ceilings?.SgemmGflops : ceilings?.CopyGigabytesPerSecond;
            result = result with
            {
                Milliseconds = ms,
                Rate = rate,
                CeilingFraction = ceiling is double c && c > 0 ? rate / c : null,
            };
        }
        catch (Exception e)
        {
            result = result with { Status = CheckStatus.Fail };
            notes.Add($"{e.GetType().Name}: {e.Message}");
        }
        result = AddPeers(kernelCase, result, probe, torch, notes);
        return result with { Note = string.Join("; ", notes) };
    }

    /// <summary>Compares the device's outputs with the SIMD backend's (in full, or on the case's sample).</summary>
    private static CaseResult Verify(KernelCase kernelCase, IBackend reference, float[][] inputs, float[][] actual,
        CaseResult result, List<string> notes)
    {
        float[][] expected;
        string what;
        try
        {
            if (kernelCase.Sample is { } sample)
            {
                expected = sample.Expected(reference, inputs);
                actual = sample.Select(actual);
                what = sample.Description;
            }
            else
            {
                expected = BackendRun.Evaluate(reference, inputs, kernelCase.Outputs, kernelCase.Launch, kernelCase.Prepare);
                what = "full";
            }
        }
        catch (NotImplementedException)
        {
            return result with { Status = CheckStatus.NoReference, Reference = "none: the SIMD kernel is not written yet" };
        }

        double worst = 0;
        for (int i = 0; i < kernelCase.Outputs.Length; i++)
        {
            var spec = kernelCase.Outputs[i];
            if (spec.Kind == OutputKind.Scratch)
                continue;
            var error = Comparison.Compare(spec.Name, actual[i], expected[i], spec.Kind);
            worst = Math.Max(worst, error.Error);
            if (error.Detail.Length > 0)
                notes.Add(error.Detail);
        }
        return result with
        {
            Error = worst,
            Reference = what,
            Status = worst <= kernelCase.Tolerance.Bound ? CheckStatus.Pass : CheckStatus.Fail,
        };
    }

    /// <summary>Adds cuBLAS's time for the same single product and torch's time for the same shape.</summary>
    private static CaseResult AddPeers(KernelCase kernelCase, CaseResult result, CeilingProbe? probe,
        IReadOnlyDictionary<string, TorchTiming> torch, List<string> notes)
    {
        if (kernelCase.Sgemm is { } shape && probe is not null)
        {
            try
            {
                result = result with { CuBlasMilliseconds = probe.SgemmMilliseconds(shape) };
            }
            catch (Exception e)
            {
                notes.Add($"cuBLAS failed: {e.GetType().Name}: {e.Message}");
            }
        }
        if (kernelCase.Torch is { } spec && torch.TryGetValue(spec.Id, out var timing))
        {
            result = result with { TorchMilliseconds = timing.Milliseconds };
            if (timing.Note.Length > 0)
                notes.Add(timing.Note);
        }
        return result;
    }
}
