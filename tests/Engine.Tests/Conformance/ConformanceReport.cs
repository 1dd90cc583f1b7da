using System.Text;

namespace Engine.Tests.Conformance;

/// <summary>
/// The Markdown summary: per device, one row per op (cases, passed, failed, skipped, and the
/// skip reasons with their counts), then every failure with its error. Runnable cases that this
/// session did not run (a test filter) are counted below each table.
/// </summary>
internal static class ConformanceReport
{
    public static readonly DeviceKind[] Devices = [DeviceKind.Cpu, DeviceKind.IlgpuCpu];

    public static string Render(ConformanceCatalog catalog, ConformanceResults results)
    {
        var text = new StringBuilder();
        text.AppendLine("# ONNX backend node tests (conformance)").AppendLine();
        if (catalog.AbsentReason is not null)
        {
            text.AppendLine($"All conformance cases were skipped: {catalog.AbsentReason}.");
            return text.ToString();
        }
        text.AppendLine($"{catalog.Entries.Count} cases from `{ConformancePaths.DataDirectory}`. An output passes when its shape is the reference's, " +
                        "NaN and infinities sit at the same positions, and the relative L2 error of the rest is at most 1e-5 (1e-4 for MatMul and Gemm).");
        foreach (var device in Devices)
            AppendDeviceTable(text, device, catalog, results);
        AppendFailures(text, results);
        return text.ToString();
    }

    public static void Write(string path, ConformanceCatalog catalog, ConformanceResults results)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, Render(catalog, results));
    }

    private static string DeviceTitle(DeviceKind device) => device switch
    {
        DeviceKind.Cpu => "SIMD backend (`Device.Cpu()`)",
        DeviceKind.IlgpuCpu => "ILGPU CPU accelerator (`Device.IlgpuCpu()`)",
        _ => device.ToString(),
    };

    private static void AppendDeviceTable(StringBuilder text, DeviceKind device, ConformanceCatalog catalog, ConformanceResults results)
    {
        text.AppendLine().AppendLine($"## {DeviceTitle(device)}").AppendLine();
        text.AppendLine("| op | cases | passed | failed | skipped | skip reasons |");
        text.AppendLine("| --- | ---: | ---: | ---: | ---: | --- |");
        int[] totals = new int[4];
        int notRun = 0;
        foreach (var group in catalog.Entries.GroupBy(e => e.Op).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            var skipReasons = group.Select(e => catalog.SkipReason(e.Test, device)).OfType<string>().ToArray();
            var outcomes = group.Where(e => catalog.SkipReason(e.Test, device) is null).Select(e => results.Find(e.Test, device)).ToArray();
            int[] counts = [group.Count(), outcomes.Count(r => r is { Passed: true }), outcomes.Count(r => r is { Passed: false }), skipReasons.Length];
            notRun += outcomes.Count(r => r is null);
            for (int i = 0; i < counts.Length; i++) totals[i] += counts[i];
            string reasons = string.Join("; ", skipReasons.GroupBy(r => r).Select(r => r.Count() == group.Count() ? r.Key : $"{r.Key} ({r.Count()})"));
            text.AppendLine($"| {group.Key} | {counts[0]} | {counts[1]} | {counts[2]} | {counts[3]} | {Cell(reasons)} |");
        }
        text.AppendLine($"| **all** | **{totals[0]}** | **{totals[1]}** | **{totals[2]}** | **{totals[3]}** | |");
        if (notRun > 0)
            text.AppendLine().AppendLine($"{notRun} runnable cases were not run in this session (filtered out).");
    }

    private static void AppendFailures(StringBuilder text, ConformanceResults results)
    {
        var failures = results.Failures.ToArray();
        text.AppendLine().AppendLine("## Failures").AppendLine();
        if (failures.Length == 0)
        {
            text.AppendLine("None.");
            return;
        }
        text.AppendLine("| device | case | error |");
        text.AppendLine("| --- | --- | --- |");
        foreach (var f in failures)
            text.AppendLine($"| {f.Device} | {f.Test} | {Cell(f.Error ?? "")} |");
    }

    /// <summary>Text fit for one table cell: one line, no column breaks, at most 400 characters.</summary>
    private static string Cell(string s)
    {
        var line = s.ReplaceLineEndings(" ").Replace("|", "\\|");
        return line.Length <= 400 ? line : line[..397] + "...";
    }
}
