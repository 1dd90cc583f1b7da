using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Engine.Io;
using Engine.Io.Retrieval;
using Engine.Models;
using Engine.Sparse;

namespace Engine.Cli;

/// <summary>
/// engine dense-eval: dense retrieval (a sentence encoder's vectors, exact cosine top-k) on one
/// split of a retrieval dataset, the baseline beside BM25's <see cref="EvalCommand"/>.
///   engine dense-eval --data DIR [--model minilm|arcticxs] [--split test|dev|train] [--cache FILE.npy] [--batch 32] [--json FILE]
/// Embeds every document (or reuses the --cache matrix when it fits the dataset and model),
/// embeds the split's queries, searches the top 100 with <see cref="DenseIndex"/>, and prints
/// MRR@10, nDCG@10, Recall@100, the embedding rate, the batch search rate on every core, and the
/// median single-thread latency of one search without and with encoding the query.
/// </summary>
internal static class DenseEvalCommand
{
    public const string Usage = "dense-eval  dense retrieval metrics and latency on a split: --data DIR [--model minilm|arcticxs] [--split test|dev|train] [--cache FILE.npy] [--batch 32] [--json FILE]";

    // Documents embedded per call between progress updates (a multiple of any usual batch size).
    private const int EmbedChunk = 256;
    // Cached rows re-embedded to check that a cache belongs to this model and these documents.
    private const int SpotChecks = 8;
    // Largest difference in any component between a cached row and a fresh one: far above
    // rounding from batching, far below what a different model or text gives.
    private const float SpotCheckTolerance = 1e-3f;
    // Single-query searches run untimed before the latency measurement.
    private const int WarmUpQueries = 16;

    /// <summary>What Arctic embed prepends to queries (not to documents), as its model card says.</summary>
    private const string ArcticQueryPrefix = "Represent this sentence for searching relevant passages: ";

    /// <summary>Runs the command on the arguments after the verb; returns the process exit code.</summary>
    public static int Run(string[] args) => Run(args, Console.Out);

    /// <summary>As <see cref="Run(string[])"/>, writing the report and progress to <paramref name="output"/>.</summary>
    internal static int Run(string[] args, TextWriter output)
    {
        var options = Options.Parse(args);
        if (!options.Has("--data"))
            throw new ArgumentException("usage: engine " + Usage);
        string model = options.Get("--model", "minilm").ToLowerInvariant();
        if (model is not ("minilm" or "arcticxs"))
            throw new ArgumentException($"--model must be minilm or arcticxs, not '{model}'.");
        var split = RetrievalDataset.ParseSplit(options.Get("--split", "test"));
        int batch = options.GetInt("--batch", 32);
        string? cache = options.Has("--cache") ? options.Get("--cache", "") : null;
        string? json = options.Has("--json") ? options.Get("--json", "") : null;

        var dataset = RetrievalDataset.Load(options.Get("--data", ""));
        var queries = JudgedSearch.Queries(dataset, split);

        var (assembly, pooling) = EmbedCommand.Resolve(model);
        using var device = Device.Cpu();
        using var encoder = PretrainedBert.FromResourceAssembly(device, assembly, pooling);
        var (index, documentsPerSecond) = DocumentIndex(encoder, dataset, cache, batch, output);

        var texts = queries.Select(q => QueryText(model, q.Text)).ToArray();
        var vectors = encoder.Embed(texts, batch);

        var (results, queriesPerSecond) = JudgedSearch.Run(vectors, (chunk, k) => index.Search(chunk, k), Progress("search ", queries.Length, output));
        var scores = JudgedSearch.Score(dataset, queries, results);
        var (searchMedian, endToEndMedian) = MedianLatencies(encoder, index, texts, vectors, output);

        var invariant = CultureInfo.InvariantCulture;
        string splitName = split.ToString().ToLowerInvariant();
        output.WriteLine(string.Create(invariant, $"dense {model} ({pooling} pooling, cosine) on {splitName}: {scores.Queries} queries, {index.Documents:N0} documents of {index.Dimension} dimensions"));
        output.WriteLine(string.Create(invariant, $"  MRR@10      {scores.Mrr10:F4}"));
        output.WriteLine(string.Create(invariant, $"  nDCG@10     {scores.Ndcg10:F4}"));
        output.WriteLine(string.Create(invariant, $"  Recall@100  {scores.Recall100:F4}"));
        output.WriteLine(documentsPerSecond is { } rate
            ? string.Create(invariant, $"  documents   {rate:F1} documents/s embedded (batch {batch}, {Environment.ProcessorCount} cores)")
            : $"  documents   vectors reused from {cache}");
        output.WriteLine(string.Create(invariant, $"  batch       {queriesPerSecond:F0} queries/s on {Environment.ProcessorCount} cores (top {JudgedSearch.Depth}, query vectors given)"));
        output.WriteLine(string.Create(invariant, $"  latency     {searchMedian * 1e6:F1} µs median single-thread top-{JudgedSearch.Depth} search; {endToEndMedian * 1e6:F1} µs with query encoding"));

        if (json is not null)
        {
            var report = new DenseEvalReport($"dense-{model}", splitName, scores.Queries, scores.Mrr10, scores.Ndcg10, scores.Recall100,
                searchMedian * 1e6, endToEndMedian * 1e6, documentsPerSecond, queriesPerSecond, index.Documents, index.Dimension);
            CreateParent(json);
            AtomicFile.Write(json, stream => JsonSerializer.Serialize(stream, report, DenseEvalReport.JsonOptions));
            output.WriteLine($"wrote {json}");
        }
        return 0;
    }

    /// <summary>The text embedded for a query: Arctic embed's queries carry its instruction prefix; MiniLM's are as written.</summary>
    private static string QueryText(string model, string query) => model == "arcticxs" ? ArcticQueryPrefix + query : query;

    /// <summary>
    /// The index of every document's vector: the cache when it holds one row per document of the
    /// encoder's width and a spot check of rows re-embedded agrees with it, else embedded now
    /// (and written to the cache when one is named). The rate is null when the cache was reused.
    /// </summary>
    private static (DenseIndex Index, double? DocumentsPerSecond) DocumentIndex(SentenceEncoder encoder, RetrievalDataset dataset, string? cache, int batch, TextWriter output)
    {
        var documents = dataset.Documents.Select(d => d.Text).ToArray();
        int width = encoder.Encoder.Config.Hidden;
        if (cache is not null && File.Exists(cache))
        {
            string? refusal = null;
            try
            {
                var cached = DenseIndex.Load(cache);
                refusal = cached.Documents != documents.Length || cached.Dimension != width
                    ? $"it holds {cached.Documents} vectors of {cached.Dimension}, not {documents.Length} of {width}"
                    : SpotCheck(encoder, cached, documents);
                if (refusal is null)
                {
                    output.WriteLine($"reusing {cache}: {cached.Documents:N0} document vectors of {cached.Dimension} dimensions ({SpotChecks} re-embedded rows agree)");
                    return (cached, null);
                }
            }
            catch (InvalidDataException e)
            {
                refusal = e.Message;
            }
            output.WriteLine($"not reusing {cache}: {refusal}; embedding again");
        }

        var lengths = documents.Select(text => encoder.Tokenize(text).Length).ToArray();
        var order = Enumerable.Range(0, documents.Length).OrderBy(i => lengths[i]).ToArray();
        var rows = new float[documents.Length][];
        var progress = Progress("embed  ", documents.Length, output);
        var clock = Stopwatch.StartNew();
        for (int start = 0; start < order.Length; start += EmbedChunk)
        {
            var members = order.AsSpan(start, Math.Min(EmbedChunk, order.Length - start)).ToArray();
            var vectors = encoder.Embed(members.Select(i => documents[i]).ToArray(), batch);
            for (int j = 0; j < members.Length; j++)
                rows[members[j]] = vectors[j];
            progress.Update(start + members.Length);
        }
        double seconds = clock.Elapsed.TotalSeconds;
        progress.Finish();
        var index = DenseIndex.Build(rows, width);
        if (cache is not null)
        {
            CreateParent(cache);
            index.Save(cache);
            output.WriteLine($"wrote {cache}");
        }
        return (index, documents.Length / seconds);
    }

    /// <summary>Null when <see cref="SpotChecks"/> rows spread over the cache match fresh embeddings; else what differs.</summary>
    private static string? SpotCheck(SentenceEncoder encoder, DenseIndex cached, string[] documents)
    {
        if (documents.Length == 0)
            return null;
        var rows = Enumerable.Range(0, SpotChecks).Select(i => (int)((long)i * (documents.Length - 1) / (SpotChecks - 1))).Distinct().ToArray();
        var fresh = encoder.Embed(rows.Select(r => documents[r]).ToArray());
        for (int i = 0; i < rows.Length; i++)
        {
            var stored = cached.Vector(rows[i]);
            float difference = 0;
            for (int c = 0; c < stored.Length; c++)
                difference = MathF.Max(difference, MathF.Abs(stored[c] - fresh[i][c]));
            if (!(difference <= SpotCheckTolerance))
                return string.Create(CultureInfo.InvariantCulture, $"row {rows[i]} differs from a fresh embedding of its document by up to {difference:G3} (another model or other documents?)");
        }
        return null;
    }

    /// <summary>Median seconds of one single-thread top-100 search, without and with embedding the query text, after a few untimed searches.</summary>
    private static (double Search, double EndToEnd) MedianLatencies(SentenceEncoder encoder, DenseIndex index, string[] texts, float[][] vectors, TextWriter output)
    {
        for (int i = 0; i < Math.Min(WarmUpQueries, texts.Length); i++)
            index.Search(encoder.Embed([texts[i]], 1)[0], JudgedSearch.Depth);
        return Latency.Medians(texts.Length, i => index.Search(vectors[i], JudgedSearch.Depth), i => index.Search(encoder.Embed([texts[i]], 1)[0], JudgedSearch.Depth),
            Progress("latency", texts.Length, output));
    }

    /// <summary>A progress line: redrawn in place on the console when it is a terminal, a line per tenth elsewhere.</summary>
    private static CountProgress Progress(string label, int total, TextWriter output) =>
        new(label, total, ReferenceEquals(output, Console.Out) ? null : output);

    private static void CreateParent(string path)
    {
        string? directory = Path.GetDirectoryName(Path.GetFullPath(path));
        if (directory is not null)
            Directory.CreateDirectory(directory);
    }
}

/// <summary>The figures <see cref="DenseEvalCommand"/> writes with --json, for plots that compare methods.</summary>
/// <param name="Method">"dense-minilm" or "dense-arcticxs".</param>
/// <param name="Split">"test", "dev" or "train".</param>
/// <param name="Queries">Queries evaluated (those of the split with judgments).</param>
/// <param name="Mrr10">Mean reciprocal rank at 10.</param>
/// <param name="Ndcg10">Mean nDCG at 10.</param>
/// <param name="Recall100">Mean recall at 100.</param>
/// <param name="LatencyUs">Median microseconds of one single-thread top-100 search, the query vector given.</param>
/// <param name="LatencyWithEncodingUs">The same median with embedding the query text included.</param>
/// <param name="DocumentsPerSecond">Documents embedded per second; null when the vectors came from the cache.</param>
/// <param name="QueriesPerSecond">Batch search rate on every core, query vectors given.</param>
/// <param name="Documents">Documents searched.</param>
/// <param name="Dimension">Vector dimensions.</param>
internal sealed record DenseEvalReport(string Method, string Split, int Queries, double Mrr10, double Ndcg10, double Recall100,
    double LatencyUs, double LatencyWithEncodingUs, double? DocumentsPerSecond, double QueriesPerSecond, int Documents, int Dimension)
{
    /// <summary>camelCase names, indented.</summary>
    public static readonly JsonSerializerOptions JsonOptions = new() { PropertyNamingPolicy = JsonNamingPolicy.CamelCase, WriteIndented = true };
}
