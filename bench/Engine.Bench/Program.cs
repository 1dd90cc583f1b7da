using System.Globalization;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using Engine.Bench;
using Engine.Bench.Benchmarks;

CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;

const string usage = $"""
    usage: Engine.Bench bench [BenchmarkDotNet arguments]   kernel benchmarks (without --filter: all of them)
           Engine.Bench {ComparisonOptions.Usage}
           Engine.Bench bert [--rounds N]   MiniLM (BERT, 6 layers) against ONNX Runtime: batch 1 x 128 and 32 x 128 tokens
           Engine.Bench {Gpt2TrainingComparison.Usage}
           Engine.Bench {AttentionComparison.Usage}
           Engine.Bench {SpladeComparison.Usage}
    """;

switch (args.FirstOrDefault())
{
    case "bench":
        return RunBenchmarks(args[1..]);
    case "compare":
        try
        {
            return Compare.Run(ComparisonOptions.Parse(args[1..]));
        }
        catch (ArgumentException e)
        {
            Console.Error.WriteLine($"compare: {e.Message}");
            Console.Error.WriteLine(usage);
            return 2;
        }
    case "bert":
        return BertComparison.Run(args[1..]);
    case "gpt2":
        return Gpt2TrainingComparison.Run(args[1..]);
    case "attention":
        return AttentionComparison.Run(args[1..]);
    case "splade":
        return SpladeComparison.Run(args[1..]);
    default:
        Console.Error.WriteLine(usage);
        return 2;
}

static int RunBenchmarks(string[] benchmarkArgs)
{
    // Wide enough for shapes such as "pool-backward 64x2048x30522".
    var config = DefaultConfig.Instance.AddColumn(new RateColumn())
        .WithSummaryStyle(SummaryStyle.Default.WithMaxParameterColumnWidth(32));
    bool filtered = benchmarkArgs.Any(arg => arg is "--filter" or "-f");
    var arguments = filtered ? benchmarkArgs : [.. benchmarkArgs, "--filter", "*"];
    var summaries = BenchmarkSwitcher.FromAssembly(typeof(CpuBenchmark).Assembly).Run(arguments, config);
    return summaries.Any(summary => summary.HasCriticalValidationErrors || summary.Reports.Any(report => !report.Success)) ? 1 : 0;
}
