using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Engine.Io.Retrieval;
using Engine.Models;
using Engine.Sparse;

namespace Engine.Cli;

/// <summary>
/// engine splade-sweep: trains one SPLADE encoder per lambda from the same start and evaluates each
/// on a split, next to BM25 on the same inverted index and the dense MiniLM baseline; writes a
/// table (markdown and JSON) and a plot of FLOPs against MRR@10.
/// </summary>
internal static class SpladeSweepCommand
{
    public const string Usage =
        "splade-sweep  lambda sweep vs BM25 and dense: --data DIR --cache FILE --out DIR [--lambdas 0.03,0.1,0.2,0.3] [--query-weight 1] [--split test] " +
        "[splade-train's training options]";

    public static int Run(string[] args)
    {
        var o = Options.Parse(args, "--full-vocabulary", "--hard-negatives");
        if (!o.Has("--data") || !o.Has("--cache") || !o.Has("--out"))
            throw new ArgumentException("usage: engine " + Usage);
        var invariant = CultureInfo.InvariantCulture;
        string outDir = o.Get("--out", "");
        Directory.CreateDirectory(outDir);
        var dataset = RetrievalDataset.Load(o.Get("--data", ""));
        var split = RetrievalDataset.ParseSplit(o.Get("--split", "test"));
        var lambdas = o.Get("--lambdas", "0.03,0.1,0.2,0.3").Split(',').Select(t =>
            double.TryParse(t, NumberStyles.Float, invariant, out double lambda) && lambda >= 0 && double.IsFinite(lambda) ? lambda
            : throw new ArgumentException($"--lambdas must be non-negative numbers separated by commas, not '{t}'.")).ToArray();
        double queryWeight = o.GetDouble("--query-weight", 1);
        var baseOptions = SpladeTrainCommand.ReadOptions(o);

        var clock = Stopwatch.StartNew();
        var cache = SpladeStateCache.Load(o.Get("--cache", ""));
        Console.WriteLine(string.Create(invariant, $"state cache: {cache.Count:N0} texts entering layer {cache.FirstTunedLayer}, {cache.Bytes / 1e9:F2} GB, loaded in {clock.Elapsed.TotalSeconds:F0} s"));
        using var device = DeviceOption.Create(o.Get("--device", "cpu"));
        var assembly = SpladeTrainCommand.MiniLmAssembly();
        string start = Path.Combine(outDir, "start.safetensors");
        using (var model = SpladeTrainCommand.Start(o, dataset, device, cache, baseOptions.TunedLayers).Model)
            model.Save(start);

        var references = new List<SparseEvaluationResult> { Bm25Reference(dataset, split) };
        references[0].Print(Console.Out);
        var dense = DenseBaseline.Evaluate(dataset, split, cache, assembly, device);

        var rows = new List<SweepRow>();
        foreach (double lambda in lambdas)
        {
            var options = baseOptions with { LambdaDocument = lambda, LambdaQuery = lambda * queryWeight };
            string runDir = Path.Combine(outDir, "lambda-" + lambda.ToString("G3", invariant));
            Directory.CreateDirectory(runDir);
            using var model = SpladeEncoder.Load(device, start);
            var trainClock = Stopwatch.StartNew();
            var steps = SpladeTrainCommand.Train(model, options, dataset, cache, Path.Combine(runDir, "splade.safetensors"), resume: false);
            double trainSeconds = trainClock.Elapsed.TotalSeconds;
            var result = SpladeTrainCommand.Evaluate(model, cache, dataset, split, string.Create(invariant, $"SPLADE lambda_d {lambda:G3}, lambda_q {lambda * queryWeight:G3}"), runDir);
            result.Print(Console.Out);
            var last = steps[^Math.Min(10, steps.Count)..];
            rows.Add(new SweepRow(lambda, lambda * queryWeight, result, last.Average(s => s.RankingLoss), trainSeconds / steps.Count));
            File.WriteAllText(Path.Combine(runDir, $"eval-{result.Split}.json"), result.ToJson());
            Write(outDir, rows, references, dense, baseOptions, model.OutputSize, o.GetCount("--pretrain-steps", 200), args);
        }
        Console.WriteLine($"sweep done in {clock.Elapsed.TotalMinutes:F0} min: {Path.Combine(outDir, "sweep.md")}, {Path.Combine(outDir, "sweep.svg")}");
        return 0;
    }

    private sealed record SweepRow(double LambdaDocument, double LambdaQuery, SparseEvaluationResult Result, double FinalRankingLoss, double SecondsPerStep);

    private static SparseEvaluationResult Bm25Reference(RetrievalDataset dataset, QuerySplit split)
    {
        var (bm25, documents) = Bm25.Build(dataset.Documents.Select(d => d.Text).ToArray());
        var index = InvertedIndex.Build(documents);
        return SparseEvaluation.Run("BM25", index, dataset, split,
            queries => SparseMatrix.FromRows(queries.Select(bm25.EncodeQuery).ToArray(), bm25.Vocabulary.Count), bm25.EncodeQuery);
    }

    private static void Write(string outDir, List<SweepRow> rows, List<SparseEvaluationResult> references, DenseEvaluationResult dense,
        SpladeTrainingOptions options, int outputWords, int pretrainSteps, string[] args)
    {
        var invariant = CultureInfo.InvariantCulture;
        var bm25 = references[0];
        var md = new StringBuilder();
        md.AppendLine($"# SPLADE lambda sweep on the {bm25.Split} split");
        md.AppendLine();
        md.AppendLine(string.Create(invariant, $"{bm25.Queries} queries (Nave's topics), {bm25.Documents:N0} documents (KJV verses). Regenerate with `./build.sh splade-sweep` (here: `engine splade-sweep {string.Join(' ', args)}`)."));
        string vocabulary = outputWords < 30522 ? $"output vocabulary the {outputWords:N0} word pieces of the documents and training queries" : "the full output vocabulary";
        string start = pretrainSteps > 0
            ? $"the fresh head first pretrained {pretrainSteps} steps to name each document token's word piece (shared start of every lambda)."
            : "every lambda starts from the same fresh head.";
        md.AppendLine(string.Create(invariant,
            $"Training: {options.TotalSteps} steps of {options.BatchSize} queries with in-batch negatives, AdamW lr {options.LearningRate:G3} (warm-up {options.WarmupSteps}, cosine), FLOPs warm-up {options.RegularizerWarmupSteps} steps, {options.TunedLayers} encoder layers tuned, {vocabulary}; {start}"));
        md.AppendLine("FLOPs: expected multiplications per query-document pair, sum over terms of p_q(j) p_d(j) (Paria et al. 2020). Latency: median single-thread top-100 search of one query vector through the inverted index; with encoding: including the query's encoder forward.");
        md.AppendLine();
        md.AppendLine("| method | lambda_d | lambda_q | MRR@10 | nDCG@10 | R@100 | nnz/query | nnz/doc | FLOPs | latency µs | with encoding µs | final ranking loss | s/step |");
        md.AppendLine("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
        void Line(string method, string ld, string lq, SparseEvaluationResult r, string loss, string step) =>
            md.AppendLine(string.Create(invariant,
                $"| {method} | {ld} | {lq} | {r.Mrr10:F4} | {r.Ndcg10:F4} | {r.Recall100:F4} | {r.QueryNonZeros:F1} | {r.DocumentNonZeros:F1} | {r.Flops:F4} | {r.LatencyUs:F0} | {r.LatencyWithEncodingUs:F0} | {loss} | {step} |"));
        foreach (var r in references) Line(r.Method, "", "", r, "", "");
        md.AppendLine(string.Create(invariant,
            $"| {dense.Method} | | | {dense.Mrr10:F4} | {dense.Ndcg10:F4} | {dense.Recall100:F4} | dense {dense.Dimension} | dense {dense.Dimension} | | {dense.LatencyUs:F0} | {dense.LatencyWithEncodingUs:F0} | | |"));
        foreach (var row in rows)
            Line("SPLADE", row.LambdaDocument.ToString("G3", invariant), row.LambdaQuery.ToString("G3", invariant), row.Result,
                row.FinalRankingLoss.ToString("F3", invariant), row.SecondsPerStep.ToString("F2", invariant));
        File.WriteAllText(Path.Combine(outDir, "sweep.md"), md.ToString());
        File.WriteAllText(Path.Combine(outDir, "sweep.json"), JsonSerializer.Serialize(new { references, dense, sweep = rows }, new JsonSerializerOptions { WriteIndented = true }));
        var chart = SweepChart.Render($"SPLADE on Nave/KJV ({bm25.Split}): FLOPs vs MRR@10",
            rows.Select(r => new SweepChart.Point("λ " + r.LambdaDocument.ToString("G2", invariant), r.Result.Flops, r.Result.Mrr10)).ToArray(),
            references.Select(r => new SweepChart.Point(r.Method, r.Flops, r.Mrr10)).Append(new SweepChart.Point("dense MiniLM", null, dense.Mrr10)).ToArray());
        File.WriteAllText(Path.Combine(outDir, "sweep.svg"), chart);
    }
}

/// <summary>The dense baseline's figures on a split.</summary>
internal sealed record DenseEvaluationResult(string Method, int Queries, int Dimension, double Mrr10, double Ndcg10, double Recall100, double LatencyUs, double LatencyWithEncodingUs);

/// <summary>
/// The dense baseline from cached final encoder states: all-MiniLM-L6-v2's sentence vector is the
/// mean of a text's final token states, L2-normalised, so the states a frozen-encoder sweep caches
/// give every document's vector without another encoder pass; search is exact (brute-force cosine).
/// </summary>
internal static class DenseBaseline
{
    public static DenseEvaluationResult Evaluate(RetrievalDataset dataset, QuerySplit split, SpladeStateCache cache, string assembly, Device device)
    {
        using var model = SpladeEncoder.FromPretrained(device, assembly);
        int hidden = model.Encoder.Config.Hidden;
        if (cache.FirstTunedLayer != model.Encoder.Config.Layers)
            throw new ArgumentException($"the dense baseline needs the final states (a cache entering layer {model.Encoder.Config.Layers}); this cache enters layer {cache.FirstTunedLayer}.");
        float[] MeanPooled(float[] states)
        {
            var vector = new float[hidden];
            int tokens = states.Length / hidden;
            for (int t = 0; t < tokens; t++)
                for (int c = 0; c < hidden; c++) vector[c] += states[t * hidden + c];
            double norm = Math.Sqrt(vector.Sum(v => (double)v * v)) / tokens;
            for (int c = 0; c < hidden; c++) vector[c] = (float)(vector[c] / tokens / Math.Max(norm, 1e-12));
            return vector;
        }
        float[][] Vectors(IEnumerable<string> texts) => cache.Get(model, texts.Select(model.Tokenize).ToArray()).Select(MeanPooled).ToArray();

        var index = DenseIndex.Build(Vectors(dataset.Documents.Select(d => d.Text)), hidden);
        var queries = JudgedSearch.Queries(dataset, split);
        var queryVectors = Vectors(queries.Select(q => q.Text));
        var scores = JudgedSearch.Score(dataset, queries, index.Search(queryVectors, JudgedSearch.Depth));

        using var sentences = PretrainedBert.FromResourceAssembly(device, assembly, Pooling.Mean);
        var (search, withEncoding) = Latency.Medians(Math.Min(200, queries.Length), i => index.Search(queryVectors[i], JudgedSearch.Depth),
            i => index.Search(sentences.Embed([queries[i].Text])[0], JudgedSearch.Depth));
        var result = new DenseEvaluationResult("dense MiniLM (mean pooling, exact cosine)", scores.Queries, hidden, scores.Mrr10, scores.Ndcg10, scores.Recall100,
            search * 1e6, withEncoding * 1e6);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{result.Method} on {split.ToString().ToLowerInvariant()}: MRR@10 {result.Mrr10:F4}, nDCG@10 {result.Ndcg10:F4}, R@100 {result.Recall100:F4}, latency {result.LatencyUs:F0} µs ({result.LatencyWithEncodingUs:F0} µs with encoding)"));
        return result;
    }
}
