using System.Text;

namespace Engine.Bench;

/// <summary>
/// Writes the comparison as a Markdown page (what the benchmarks are, how to run them, the machine,
/// the results table) and, next to it, the SVG chart the page shows.
/// </summary>
public static class Report
{
    /// <summary>The chart's file name, in the report's folder.</summary>
    public const string ChartFileName = "compare.svg";

    /// <summary>Writes the page to <paramref name="markdownPath"/> and the chart beside it; returns the chart's path.</summary>
    public static string Write(string markdownPath, string machine, Ceilings ceilings, IReadOnlyList<ComparisonResult> results,
        ComparisonOptions options, TimeSpan elapsed)
    {
        var folder = Path.GetDirectoryName(Path.GetFullPath(markdownPath))!;
        Directory.CreateDirectory(folder);
        var chartPath = Path.Combine(folder, ChartFileName);
        File.WriteAllText(chartPath, SvgChart.Render(results, ceilings, machine));
        File.WriteAllText(markdownPath, Markdown(machine, ceilings, results, options, elapsed));
        return chartPath;
    }

    private static string Markdown(string machine, Ceilings ceilings, IReadOnlyList<ComparisonResult> results,
        ComparisonOptions options, TimeSpan elapsed)
    {
        var page = new StringBuilder();
        page.AppendLine($"""
            # Engine kernel benchmarks

            How fast the SIMD CPU kernels are, measured two ways:

            - **BenchmarkDotNet benchmarks** (`bench/Engine.Bench`, verb `bench`), one class per kernel family on
              `Device.Cpu()`: matmul (square 256–2048 and the GPT-2 small projections for 256 tokens), softmax
              (attention-like `[heads·tokens, tokens]` and `[tokens, vocabulary]` logits), layer norm and GELU (tanh).
              Inputs are allocated once per benchmark; every output goes back to the pool per call. Besides time,
              a `Rate` column gives GFLOP/s (matmul; a multiply-add is 2 flops) or GB/s (the others; every
              tensor element read or written counted once). Shapes read `MxKxN` for matmul (`[M,K] @ [K,N]`) and
              `RxC` (rows x columns, the op along the columns) for the others.
            - **Side-by-side comparison with libtorch** (verb `compare`): in one process, our op and libtorch's
              (TorchSharp, `torch.set_num_threads` = {ceilings.Threads}, the core count) on the same shapes and
              the same input values, alternating timed batches after a warm-up. The figures are the medians of
              the rounds. The machines here are shared and noisy, so the **ratio ours/torch measured in one run is
              the figure that counts**, not absolute rates; above 1 we are faster. The run also checks that both
              outputs agree (relative L2 error, flagged above {ComparisonResult.ErrorTolerance:0e+00}; the run then exits non-zero).
            - **The machine's ceilings**, measured on all cores before and after the kernels (the higher of
              each is used, so that a busy moment does not flatter the kernels): the peak FMA rate
              ({ceilings.VectorWidth}, independent accumulator chains) that matmul is held against, and
              memory-copy bandwidth (256 MiB buffers, bytes read + written) that the memory-bound kernels are
              held against.

            ## How to run

            | Command | What it does |
            |---|---|
            | `./build.sh bench` | all BenchmarkDotNet benchmarks; arguments go to BenchmarkDotNet, e.g. `./build.sh bench --filter '*MatMul*' --job short` |
            | `./build.sh compare` | the comparison with libtorch, printed; `--ops matmul,softmax,layernorm,gelu` picks families, `--quick` runs a short version (fewer rounds; matmul only at 1024 and the GPT-2 MLP-up shape) |
            | `./build.sh bench-report` | the full comparison, rewriting this page and `{ChartFileName}` |

            ## Targets

            On the 2-core reference machine: SGEMM at 1024–2048 at ≥ {Targets.SgemmFractionOfPeak * 100:F0}% of the measured FMA
            peak and ≥ {Targets.SgemmRatioToTorch:F1}x libtorch; softmax and layer norm at ≥ {Targets.NormalizationFractionOfBandwidth * 100:F0}% of copy bandwidth.

            ## Results

            Machine: {machine}.

            Ceilings ({ceilings.Threads} threads): FMA peak **{ceilings.FmaGflops:F1} GFLOP/s**, copy bandwidth **{ceilings.CopyGigabytes:F1} GB/s**.
            {options.Rounds} alternating rounds per shape{(options.Quick ? " (quick run)" : "")}; the run took {elapsed.TotalSeconds:F0} s
            ({DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC).

            """);
        page.AppendLine(ResultTable.ToMarkdown(results, ceilings));
        page.AppendLine($"![Ours / libtorch per shape, and the fraction of the machine's ceilings]({ChartFileName})");
        return page.ToString();
    }
}
