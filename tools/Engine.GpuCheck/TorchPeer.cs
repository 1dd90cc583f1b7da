using System.Text.Json;
using System.Text.Json.Nodes;

namespace Engine.GpuCheck;

/// <summary>
/// A case as the torch script understands it: a kind ("matmul", "attention", "softmax", ...)
/// and its arguments. <see cref="Id"/> ties the torch timing back to the case.
/// </summary>
internal sealed record TorchSpec(string Kind, IReadOnlyDictionary<string, object> Args)
{
    /// <summary>A stable key made of the kind and the arguments in order.</summary>
    public string Id => Kind + " " + string.Join(" ", Args.Select(a => $"{a.Key}={Format(a.Value)}"));

    private static string Format(object value) => value switch
    {
        bool b => b ? "1" : "0",
        IFormattable f => f.ToString(null, System.Globalization.CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };
}

/// <summary>One torch timing read back from the torch script's results; no milliseconds when torch could not run the case.</summary>
internal sealed record TorchTiming(double? Milliseconds, string Note);

/// <summary>
/// The exchange with tools/gpu-check/torch_reference.py: the check program writes the plan (the
/// torch counterpart of every case), the script times each entry on the GPU with torch (fp32,
/// TF32 off) and writes its results, which the check program reads to fill the torch columns.
/// </summary>
internal static class TorchPeer
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    /// <summary>Writes the plan for <paramref name="cases"/>: {"cases": [{"id", "kind", "args"}]}.</summary>
    public static void WritePlan(IEnumerable<KernelCase> cases, string path)
    {
        var entries = new JsonArray();
        foreach (var spec in cases.Select(c => c.Torch).OfType<TorchSpec>().DistinctBy(s => s.Id))
        {
            var args = new JsonObject();
            foreach (var (key, value) in spec.Args)
                args[key] = JsonSerializer.SerializeToNode(value);
            entries.Add(new JsonObject { ["id"] = spec.Id, ["kind"] = spec.Kind, ["args"] = args });
        }
        var plan = new JsonObject { ["version"] = 1, ["cases"] = entries };
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        File.WriteAllText(path, plan.ToJsonString(Indented));
    }

    /// <summary>
    /// Reads the torch script's results: {"torch": version, "device": name, "results": {id: {"ms", "note"}}}.
    /// Returns the timings by id and a one-line description of the torch run.
    /// </summary>
    public static (IReadOnlyDictionary<string, TorchTiming> Timings, string Description) Read(string path)
    {
        var root = JsonNode.Parse(File.ReadAllText(path))
            ?? throw new InvalidDataException($"{path}: empty torch results.");
        var timings = new Dictionary<string, TorchTiming>();
        if (root["results"] is JsonObject results)
        {
            foreach (var (id, entry) in results)
            {
                if (entry is null)
                    continue;
                double? milliseconds = entry["ms"] is JsonValue ms && ms.TryGetValue(out double value) ? value : null;
                timings[id] = new TorchTiming(milliseconds, entry["note"]?.GetValue<string>() ?? "");
            }
        }
        string description = $"torch {root["torch"]?.GetValue<string>() ?? "?"} on {root["device"]?.GetValue<string>() ?? "?"}; " +
            (root["settings"]?.GetValue<string>() ?? "fp32");
        return (timings, description);
    }
}
