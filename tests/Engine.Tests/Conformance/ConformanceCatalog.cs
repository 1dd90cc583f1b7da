using System.Collections.Concurrent;
using System.Text.Json;

namespace Engine.Tests.Conformance;

/// <summary>
/// A case of the index and what the runner decided about it: null SkipReason means it runs;
/// Error holds why its data could not be read or classified (the case then runs and fails with it).
/// </summary>
internal sealed record CatalogEntry(string Test, string Op, string? SkipReason, long ElementCount, string? Error = null);

/// <summary>
/// The conformance cases listed in index.json, each classified once: skipped when the engine has
/// no such op or the mapping lacks a feature the case uses, runnable otherwise. A case whose data
/// is invalid is runnable, so its test fails with the error. Loaded cases are cached.
/// </summary>
internal sealed class ConformanceCatalog
{
    /// <summary>The single theory row, always skipped, when the data folder is absent.</summary>
    public const string DataAbsentRow = "onnx-node data absent";

    /// <summary>The ILGPU CPU accelerator simulates GPU threads; cases with more elements than this (inputs and outputs together) are left to the SIMD backend.</summary>
    public const long IlgpuElementLimit = 5000;

    private static readonly Lazy<ConformanceCatalog> Shared = new(() => new ConformanceCatalog());

    private readonly ConcurrentDictionary<string, Lazy<OnnxCase>> _loaded = new();
    private readonly Dictionary<string, CatalogEntry> _byTest;

    private ConformanceCatalog()
    {
        string? directory = ConformancePaths.DataDirectory;
        if (directory is null || !File.Exists(Path.Combine(directory, "index.json")))
        {
            AbsentReason = directory is null
                ? "conformance data not found: no folder above the test binaries holds Engine.sln, so ../shared/conformance/onnx-node cannot be located"
                : $"conformance data not found: {Path.Combine(directory, "index.json")} does not exist";
            Entries = [];
        }
        else
        {
            CasesDirectory = Path.Combine(directory, "cases");
            Entries = ReadIndex(Path.Combine(directory, "index.json")).Select(Classify).ToArray();
        }
        _byTest = Entries.ToDictionary(e => e.Test);
    }

    public static ConformanceCatalog Instance => Shared.Value;

    /// <summary>Why there are no cases (the data folder is missing), or null when there are.</summary>
    public string? AbsentReason { get; }

    public string? CasesDirectory { get; }

    public IReadOnlyList<CatalogEntry> Entries { get; }

    /// <summary>The theory rows: every case name, or the one always-skipped row when the data is absent.</summary>
    public IEnumerable<string> TestNames => AbsentReason is null ? Entries.Select(e => e.Test) : [DataAbsentRow];

    public CatalogEntry Entry(string test) => _byTest[test];

    /// <summary>Why <paramref name="test"/> does not run on <paramref name="device"/>, or null when it runs.</summary>
    public string? SkipReason(string test, DeviceKind device)
    {
        if (AbsentReason is not null) return AbsentReason;
        var entry = Entry(test);
        if (entry.SkipReason is not null) return entry.SkipReason;
        if (device == DeviceKind.IlgpuCpu && entry.ElementCount > IlgpuElementLimit)
            return $"more than {IlgpuElementLimit} elements: the ILGPU CPU accelerator is a thread simulator, so large cases run on SIMD only";
        return null;
    }

    public OnnxCase Load(string test) =>
        _loaded.GetOrAdd(test, t => new Lazy<OnnxCase>(() => OnnxCaseLoader.Load(CasesDirectory!, t))).Value;

    private CatalogEntry Classify((string Test, string Op) indexed)
    {
        if (!OnnxOpTable.Ops.TryGetValue(indexed.Op, out var op))
            return new CatalogEntry(indexed.Test, indexed.Op, $"op not implemented: Engine has no {indexed.Op}", 0);
        try
        {
            var c = Load(indexed.Test);
            long elements = c.Inputs.Concat(c.Outputs).Sum(t => t?.Count ?? 0);
            return new CatalogEntry(indexed.Test, indexed.Op, op.Unsupported(c), elements);
        }
        catch (Exception e)
        {
            // Bad data must not break discovery of the other cases; the case fails with this error.
            return new CatalogEntry(indexed.Test, indexed.Op, null, 0, $"{e.GetType().Name}: {e.Message}");
        }
    }

    private static IEnumerable<(string Test, string Op)> ReadIndex(string indexFile)
    {
        using var document = JsonDocument.Parse(File.ReadAllBytes(indexFile));
        var cases = new List<(string, string)>();
        foreach (var entry in document.RootElement.GetProperty("cases").EnumerateArray())
        {
            string test = entry.GetProperty("test").GetString()!;
            if (Path.GetFileName(test) != test)
                throw new InvalidDataException($"{indexFile}: test name \"{test}\" is not a plain file name.");
            cases.Add((test, entry.GetProperty("op").GetString()!));
        }
        return cases;
    }
}
