using Xunit.Sdk;

namespace Engine.Tests.Conformance;

/// <summary>
/// State shared by the conformance tests of one run: a device per backend (made on first use,
/// with new tensors poisoned to NaN so an unwritten output element fails), the results, and on
/// Dispose, after the last test, the Markdown report.
/// </summary>
public sealed class ConformanceSession : IDisposable
{
    private readonly Dictionary<DeviceKind, Lazy<Device>> _devices = ConformanceReport.Devices.ToDictionary(
        kind => kind,
        kind => new Lazy<Device>(() => Create(kind)));

    internal ConformanceResults Results { get; } = new();

    /// <summary>Runs one case on one backend, records the outcome, and fails the test when an output differs.</summary>
    public void Run(string test, DeviceKind device)
    {
        var catalog = ConformanceCatalog.Instance;
        var entry = catalog.Entry(test);
        try
        {
            if (entry.Error is not null) throw new InvalidDataException(entry.Error);
            var c = catalog.Load(test);
            ConformanceRunner.Run(c, OnnxOpTable.Ops[c.Op], _devices[device].Value);
            Results.Record(new CaseResult(test, entry.Op, device, true, null));
        }
        catch (Exception e)
        {
            Results.Record(new CaseResult(test, entry.Op, device, false, Describe(e)));
            throw;
        }
    }

    /// <summary>The error for the report; an engine exception also names the method that threw it.</summary>
    private static string Describe(Exception e) => e is XunitException || e.TargetSite is not { } site
        ? e.Message
        : $"{e.GetType().Name} in {site.DeclaringType?.Name}.{site.Name}: {e.Message}";

    public void Dispose()
    {
        if (ConformancePaths.ReportFile is { } path)
            ConformanceReport.Write(path, ConformanceCatalog.Instance, Results);
        foreach (var device in _devices.Values.Where(d => d.IsValueCreated))
            device.Value.Dispose();
    }

    private static Device Create(DeviceKind kind)
    {
        var device = kind == DeviceKind.IlgpuCpu ? Device.IlgpuCpu() : Device.Cpu();
        device.PoisonNewTensors = true;
        return device;
    }
}
