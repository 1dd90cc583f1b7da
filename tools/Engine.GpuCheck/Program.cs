using Engine.GpuCheck;

GpuCheckOptions options;
try
{
    if (args.Contains("--help") || args.Contains("-h"))
    {
        Console.WriteLine(GpuCheckOptions.Usage);
        return 0;
    }
    options = GpuCheckOptions.Parse(args);
}
catch (ArgumentException e)
{
    Console.Error.WriteLine($"engine-gpu-check: {e.Message}");
    Console.Error.WriteLine(GpuCheckOptions.Usage);
    return 2;
}

if (options.PlanPath is { } plan)
{
    GpuCheck.WriteTorchPlan(options.Sizes, plan);
    Console.WriteLine($"torch plan written to {plan}");
    return 0;
}

try
{
    var report = GpuCheck.Run(options, Console.Out);
    return report.Success ? 0 : 1;
}
catch (InvalidOperationException e)
{
    Console.Error.WriteLine($"engine-gpu-check: {e.Message}");
    return 1;
}
