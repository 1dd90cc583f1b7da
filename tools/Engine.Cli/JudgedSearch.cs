using System.Diagnostics;
using Engine.Io.Retrieval;
using Engine.Sparse;

namespace Engine.Cli;

/// <summary>
/// What sparse and dense evaluation share: a split's judged queries, searched top-<see cref="Depth"/>
/// in chunks behind a progress line, and scored against their relevant documents.
/// </summary>
internal static class JudgedSearch
{
    /// <summary>Hits kept per query: Recall@100 needs the top 100.</summary>
    public const int Depth = 100;
    /// <summary>Queries per batch search call: one progress update each.</summary>
    private const int Chunk = 64;

    /// <summary>The queries of <paramref name="split"/> that have relevance judgments.</summary>
    /// <exception cref="InvalidDataException">The split has none.</exception>
    public static RetrievalQuery[] Queries(RetrievalDataset dataset, QuerySplit split)
    {
        var queries = dataset.QueriesOf(split).Where(q => dataset.Relevant.ContainsKey(q.Id)).ToArray();
        return queries.Length > 0 ? queries : throw new InvalidDataException($"the {split} split has no query with relevance judgments.");
    }

    /// <summary>
    /// Searches every query vector with <paramref name="search"/> (a batch search on all cores), a
    /// chunk at a time; returns the hits and the queries searched per second.
    /// </summary>
    public static (SearchHit[][] Results, double QueriesPerSecond) Run<TQuery>(TQuery[] vectors, Func<TQuery[], int, SearchHit[][]> search, CountProgress progress)
    {
        var results = new SearchHit[vectors.Length][];
        var clock = Stopwatch.StartNew();
        for (int start = 0; start < vectors.Length; start += Chunk)
        {
            int count = Math.Min(Chunk, vectors.Length - start);
            search(vectors.AsSpan(start, count).ToArray(), Depth).CopyTo(results, start);
            progress.Update(start + count);
        }
        double seconds = clock.Elapsed.TotalSeconds;
        progress.Finish();
        return (results, vectors.Length / seconds);
    }

    /// <summary>MRR@10, nDCG@10 and Recall@100 of the hits of <paramref name="queries"/>.</summary>
    public static RetrievalScores Score(RetrievalDataset dataset, RetrievalQuery[] queries, SearchHit[][] results) =>
        RetrievalMetrics.Evaluate(results, queries.Select(q => (IReadOnlySet<int>)new HashSet<int>(dataset.Relevant[q.Id])).ToArray());
}
