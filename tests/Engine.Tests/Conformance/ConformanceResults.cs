using System.Collections.Concurrent;

namespace Engine.Tests.Conformance;

/// <summary>How one case went on one device.</summary>
internal sealed record CaseResult(string Test, string Op, DeviceKind Device, bool Passed, string? Error);

/// <summary>The results of the cases run in this session, for the report.</summary>
internal sealed class ConformanceResults
{
    private readonly ConcurrentDictionary<(string Test, DeviceKind Device), CaseResult> _results = new();

    public void Record(CaseResult result) => _results[(result.Test, result.Device)] = result;

    public CaseResult? Find(string test, DeviceKind device) => _results.GetValueOrDefault((test, device));

    public IEnumerable<CaseResult> Failures => _results.Values.Where(r => !r.Passed).OrderBy(r => r.Device).ThenBy(r => r.Test, StringComparer.Ordinal);
}
