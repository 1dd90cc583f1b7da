using System.Diagnostics;
using System.Globalization;
using Engine.Io.Retrieval;
using Engine.Sparse;

namespace Engine.Cli;

/// <summary>
/// engine eval: BM25 effectiveness and cost on one split of a retrieval dataset.
///   engine eval --index DIR --data DIR [--split test|dev|train]
/// Prints MRR@10, nDCG@10, Recall@100, the mean non-zeros per query and per document, FLOPs
/// (<see cref="RetrievalMetrics.Flops(SparseMatrix, InvertedIndex)"/>), the batch search rate on
/// every core, and the median single-thread latency of one top-100 search.
/// </summary>
internal static class EvalCommand
{
    public const string Usage = "eval      BM25 metrics and latency on a split: --index DIR --data DIR [--split test|dev|train]";

    private const int Depth = 100;
    private const int ProgressChunk = 64;

    /// <summary>Runs the command on the arguments after the verb; returns the process exit code.</summary>
    public static int Run(string[] args)
    {
        var options = Options.Parse(args);
        if (!options.Has("--index") || !options.Has("--data"))
            throw new ArgumentException("usage: engine " + Usage);
        var split = RetrievalDataset.ParseSplit(options.Get("--split", "test"));
        var (model, index, dataset) = Bm25Index.Load(options.Get("--index", ""), options.Get("--data", ""));
        var queries = dataset.QueriesOf(split).Where(q => dataset.Relevant.ContainsKey(q.Id)).ToArray();
        if (queries.Length == 0)
            throw new InvalidDataException($"the {split} split has no query with relevance judgments.");

        var vectors = queries.Select(q => model.EncodeQuery(q.Text)).ToArray();
        var queryMatrix = SparseMatrix.FromRows(vectors, model.Vocabulary.Count);

        var results = new SearchHit[queries.Length][];
        var progress = new CountProgress("search ", queries.Length);
        var clock = Stopwatch.StartNew();
        for (int start = 0; start < queries.Length; start += ProgressChunk)
        {
            int count = Math.Min(ProgressChunk, queries.Length - start);
            index.Search(vectors.AsSpan(start, count).ToArray(), Depth).CopyTo(results, start);
            progress.Update(start + count);
        }
        double batchSeconds = clock.Elapsed.TotalSeconds;
        progress.Finish();

        var relevant = queries.Select(q => (IReadOnlySet<int>)new HashSet<int>(dataset.Relevant[q.Id])).ToArray();
        var scores = RetrievalMetrics.Evaluate(results, relevant);
        var (searchMedian, endToEndMedian) = MedianLatencies(model, index, queries, vectors);

        var invariant = CultureInfo.InvariantCulture;
        Console.WriteLine(string.Create(invariant, $"BM25 on {split.ToString().ToLowerInvariant()}: {scores.Queries} queries, {dataset.Documents.Count:N0} documents ({index.Encoding} postings)"));
        Console.WriteLine(string.Create(invariant, $"  MRR@10      {scores.Mrr10:F4}"));
        Console.WriteLine(string.Create(invariant, $"  nDCG@10     {scores.Ndcg10:F4}"));
        Console.WriteLine(string.Create(invariant, $"  Recall@100  {scores.Recall100:F4}"));
        Console.WriteLine(string.Create(invariant, $"  non-zeros   {RetrievalMetrics.MeanNonZeros(queryMatrix):F2} per query, {(double)index.Postings / index.Documents:F2} per document"));
        Console.WriteLine(string.Create(invariant, $"  FLOPs       {RetrievalMetrics.Flops(queryMatrix, index):F4} per query-document pair"));
        Console.WriteLine(string.Create(invariant, $"  batch       {queries.Length / batchSeconds:F0} queries/s on {Environment.ProcessorCount} cores (top {Depth})"));
        Console.WriteLine(string.Create(invariant, $"  latency     {searchMedian * 1e6:F1} µs median single-thread top-{Depth} search; {endToEndMedian * 1e6:F1} µs with query tokenization"));
        return 0;
    }

    /// <summary>Median seconds of one single-thread top-100 search, without and with encoding the query text, after one untimed pass.</summary>
    private static (double Search, double EndToEnd) MedianLatencies(Bm25 model, InvertedIndex index, RetrievalQuery[] queries, SparseVector[] vectors)
    {
        foreach (var vector in vectors)
            index.Search(vector, Depth);
        var search = new double[queries.Length];
        var endToEnd = new double[queries.Length];
        var progress = new CountProgress("latency", queries.Length);
        for (int i = 0; i < queries.Length; i++)
        {
            long start = Stopwatch.GetTimestamp();
            index.Search(vectors[i], Depth);
            search[i] = Stopwatch.GetElapsedTime(start).TotalSeconds;
            start = Stopwatch.GetTimestamp();
            index.Search(model.EncodeQuery(queries[i].Text), Depth);
            endToEnd[i] = Stopwatch.GetElapsedTime(start).TotalSeconds;
            progress.Update(i + 1);
        }
        progress.Finish();
        return (Median(search), Median(endToEnd));
    }

    private static double Median(double[] values)
    {
        var sorted = values.Order().ToArray();
        int mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }
}
