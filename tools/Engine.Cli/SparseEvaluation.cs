using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Engine.Io.Retrieval;
using Engine.Sparse;

namespace Engine.Cli;

/// <summary>The effectiveness and cost of one sparse retrieval method on one split.</summary>
internal sealed record SparseEvaluationResult(
    string Method, string Split, int Queries, int Documents, double Mrr10, double Ndcg10, double Recall100,
    double QueryNonZeros, double DocumentNonZeros, double Flops, double QueriesPerSecond, double LatencyUs, double LatencyWithEncodingUs)
{
    /// <summary>Prints the figures, one per line.</summary>
    public void Print(TextWriter output)
    {
        var invariant = CultureInfo.InvariantCulture;
        output.WriteLine(string.Create(invariant, $"{Method} on {Split}: {Queries} queries, {Documents:N0} documents"));
        output.WriteLine(string.Create(invariant, $"  MRR@10      {Mrr10:F4}"));
        output.WriteLine(string.Create(invariant, $"  nDCG@10     {Ndcg10:F4}"));
        output.WriteLine(string.Create(invariant, $"  Recall@100  {Recall100:F4}"));
        output.WriteLine(string.Create(invariant, $"  non-zeros   {QueryNonZeros:F2} per query, {DocumentNonZeros:F2} per document"));
        output.WriteLine(string.Create(invariant, $"  FLOPs       {Flops:F4} per query-document pair"));
        output.WriteLine(string.Create(invariant, $"  batch       {QueriesPerSecond:F0} queries/s on {Environment.ProcessorCount} cores (top {JudgedSearch.Depth})"));
        output.WriteLine(string.Create(invariant, $"  latency     {LatencyUs:F1} µs median single-thread top-{JudgedSearch.Depth} search; {LatencyWithEncodingUs:F1} µs with query encoding"));
    }

    /// <summary>The figures as one JSON object.</summary>
    public string ToJson() => JsonSerializer.Serialize(this);
}

/// <summary>
/// Evaluates a sparse index on a split: MRR@10, nDCG@10, Recall@100 (top-100 search), mean
/// non-zeros, FLOPs per query-document pair (<see cref="RetrievalMetrics.Flops(SparseMatrix, InvertedIndex)"/>),
/// the batch search rate on every core, and the median single-thread latency of one search, without
/// and with encoding the query text.
/// </summary>
internal static class SparseEvaluation
{
    /// <summary>
    /// Runs the split's judged queries through <paramref name="index"/>; <paramref name="encodeQueries"/>
    /// encodes them all at once, <paramref name="encodeQuery"/> one at a time (timed for the latency).
    /// </summary>
    public static SparseEvaluationResult Run(string method, InvertedIndex index, RetrievalDataset dataset, QuerySplit split,
        Func<IReadOnlyList<string>, SparseMatrix> encodeQueries, Func<string, SparseVector> encodeQuery, int? latencyQueries = null)
    {
        var queries = JudgedSearch.Queries(dataset, split);
        var queryMatrix = encodeQueries(queries.Select(q => q.Text).ToArray());
        var vectors = Enumerable.Range(0, queryMatrix.Rows).Select(queryMatrix.Row).ToArray();
        var (results, queriesPerSecond) = JudgedSearch.Run(vectors, (chunk, k) => index.Search(chunk, k), new CountProgress("search ", queries.Length));
        var scores = JudgedSearch.Score(dataset, queries, results);
        int timed = Math.Min(latencyQueries ?? queries.Length, queries.Length);
        var (search, endToEnd) = MedianLatencies(index, queries.Take(timed).ToArray(), vectors, encodeQuery);
        return new SparseEvaluationResult(method, split.ToString().ToLowerInvariant(), scores.Queries, dataset.Documents.Count,
            scores.Mrr10, scores.Ndcg10, scores.Recall100, RetrievalMetrics.MeanNonZeros(queryMatrix), (double)index.Postings / index.Documents,
            RetrievalMetrics.Flops(queryMatrix, index), queriesPerSecond, search * 1e6, endToEnd * 1e6);
    }

    /// <summary>Median seconds of one single-thread top-100 search, without and with encoding the query text, after one untimed pass.</summary>
    private static (double Search, double EndToEnd) MedianLatencies(InvertedIndex index, RetrievalQuery[] queries, SparseVector[] vectors, Func<string, SparseVector> encodeQuery)
    {
        for (int i = 0; i < queries.Length; i++)
            index.Search(vectors[i], JudgedSearch.Depth);
        return Latency.Medians(queries.Length, i => index.Search(vectors[i], JudgedSearch.Depth), i => index.Search(encodeQuery(queries[i].Text), JudgedSearch.Depth),
            new CountProgress("latency", queries.Length));
    }
}
