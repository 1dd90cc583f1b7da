using System.Text.Json.Nodes;
using Engine.GpuCheck;

namespace Engine.Tests;

// The CUDA check kit (tools/Engine.GpuCheck) must be known to work before a GPU session: here it
// runs as the bundle does on a machine without a GPU, on ILGPU's CPU accelerator at tiny sizes.
public sealed class GpuCheckKitTests : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "engine-gpu-check-" + Guid.NewGuid().ToString("N"));

    public GpuCheckKitTests() => Directory.CreateDirectory(_directory);

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void The_cpu_fallback_run_passes_and_writes_its_table_with_the_torch_columns()
    {
        string plan = Path.Combine(_directory, "torch-plan.json");
        GpuCheck.GpuCheck.WriteTorchPlan(SizeClass.Tiny, plan);
        string torch = WriteTorchResults(plan, milliseconds: 2.0);
        var log = new StringWriter();

        var report = GpuCheck.GpuCheck.Run(new GpuCheckOptions
        {
            Device = CheckDevice.IlgpuCpu,
            Sizes = SizeClass.Auto,
            OutputDirectory = Path.Combine(_directory, "results"),
            TorchResultsPath = torch,
        }, log);

        Assert.True(report.Success, log.ToString());
        Assert.Equal(SizeClass.Tiny, report.Sizes);
        Assert.Contains(report.Results, r => r.Op == "matmul" && r.Reference.Contains("rows") && r.Status == CheckStatus.Pass);
        Assert.All(report.Results.Where(r => r.Op == "matmul"), r => Assert.Equal(CheckStatus.Pass, r.Status));
        Assert.All(report.Results, r => Assert.True(r.Milliseconds > 0, $"{r.Op} {r.Shape} was not timed"));
        Assert.All(report.Results, r => Assert.Equal(2.0, r.TorchMilliseconds));
        Assert.NotNull(report.Ceilings);

        string table = File.ReadAllText(report.TablePath);
        Assert.Contains("| Op | Shape | Result | Rel. error | Tolerance |", table);
        Assert.Contains("| matmul | [16x16] @ [16x16] | pass |", table);
        Assert.Equal(report.Results.Count, JsonNode.Parse(File.ReadAllText(report.JsonPath))!["Results"]!.AsArray().Count);
    }

    [Fact]
    public void The_gpu_plan_reaches_the_sizes_that_matter_on_a_gpu()
    {
        string plan = Path.Combine(_directory, "torch-plan.json");
        GpuCheck.GpuCheck.WriteTorchPlan(SizeClass.Gpu, plan);

        var ids = JsonNode.Parse(File.ReadAllText(plan))!["cases"]!.AsArray().Select(c => c!["id"]!.GetValue<string>()).ToList();
        Assert.Contains(ids, id => id.StartsWith("matmul batch=1 m=8192 n=8192 k=8192 "));
        Assert.Contains(ids, id => id.StartsWith("attention batch=1 heads=16 t=4096 d=64 "));
        Assert.Equal(ids.Count, ids.Distinct().Count());
    }

    [Fact]
    public void Bad_arguments_are_rejected_with_their_name()
    {
        var error = Assert.Throws<ArgumentException>(() => GpuCheckOptions.Parse(["--sizes", "huge"]));
        Assert.Contains("huge", error.Message);
        Assert.Equal(TimeSpan.FromSeconds(30), GpuCheckOptions.Parse(["--budget", "30"]).Budget);
    }

    /// <summary>Torch results as tools/gpu-check/torch_reference.py writes them, with the same time for every case of the plan.</summary>
    private string WriteTorchResults(string plan, double milliseconds)
    {
        var results = new JsonObject();
        foreach (var entry in JsonNode.Parse(File.ReadAllText(plan))!["cases"]!.AsArray())
            results[entry!["id"]!.GetValue<string>()] = new JsonObject { ["ms"] = milliseconds, ["note"] = "" };
        var document = new JsonObject { ["torch"] = "test", ["device"] = "none", ["settings"] = "fp32", ["results"] = results };
        string path = Path.Combine(_directory, "torch.json");
        File.WriteAllText(path, document.ToJsonString());
        return path;
    }
}
