namespace Engine.Sparse;

/// <summary>Mean effectiveness of a run over a set of queries.</summary>
/// <param name="Queries">The number of queries averaged over.</param>
/// <param name="Mrr10">Mean reciprocal rank of the first relevant document in the top 10 (0 when none is).</param>
/// <param name="Ndcg10">Mean nDCG@10 with binary relevance.</param>
/// <param name="Recall100">Mean share of each query's relevant documents found in its top 100.</param>
public sealed record RetrievalScores(int Queries, double Mrr10, double Ndcg10, double Recall100);

/// <summary>
/// Retrieval metrics with binary relevance, and the sparsity figures that predict the cost of
/// sparse retrieval. A ranking is a list of document numbers, best first.
/// </summary>
public static class RetrievalMetrics
{
    /// <summary>1 / (rank of the first relevant document) if it is within <paramref name="cutoff"/>, else 0.</summary>
    public static double ReciprocalRank(IReadOnlyList<int> ranking, IReadOnlySet<int> relevant, int cutoff = 10)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(cutoff);
        for (int i = 0; i < Math.Min(cutoff, ranking.Count); i++)
            if (relevant.Contains(ranking[i]))
                return 1.0 / (i + 1);
        return 0;
    }

    /// <summary>
    /// nDCG@cutoff with binary gains: DCG = sum over ranks i = 1..cutoff holding a relevant
    /// document of 1 / log2(i + 1), divided by the DCG of the ideal ranking (min(|relevant|,
    /// cutoff) relevant documents first). 0 when nothing is relevant.
    /// </summary>
    public static double Ndcg(IReadOnlyList<int> ranking, IReadOnlySet<int> relevant, int cutoff = 10)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(cutoff);
        double dcg = 0, ideal = 0;
        for (int i = 0; i < Math.Min(cutoff, ranking.Count); i++)
            if (relevant.Contains(ranking[i]))
                dcg += 1 / Math.Log2(i + 2);
        for (int i = 0; i < Math.Min(cutoff, relevant.Count); i++)
            ideal += 1 / Math.Log2(i + 2);
        return ideal == 0 ? 0 : dcg / ideal;
    }

    /// <summary>|relevant ∩ top cutoff| / |relevant|; 0 when nothing is relevant.</summary>
    public static double Recall(IReadOnlyList<int> ranking, IReadOnlySet<int> relevant, int cutoff = 100)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(cutoff);
        if (relevant.Count == 0)
            return 0;
        int found = 0;
        var distinct = new HashSet<int>();
        for (int i = 0; i < Math.Min(cutoff, ranking.Count); i++)
            if (relevant.Contains(ranking[i]) && distinct.Add(ranking[i]))
                found++;
        return (double)found / relevant.Count;
    }

    /// <summary>MRR@10, nDCG@10 and Recall@100 averaged over queries: <paramref name="results"/>[i] is query i's ranking, <paramref name="relevant"/>[i] its relevant documents.</summary>
    /// <exception cref="ArgumentException">The lists differ in length, or a query has no relevant document (its recall would be undefined).</exception>
    public static RetrievalScores Evaluate(IReadOnlyList<SearchHit[]> results, IReadOnlyList<IReadOnlySet<int>> relevant)
    {
        if (results.Count != relevant.Count)
            throw new ArgumentException($"RetrievalMetrics.Evaluate: {results.Count} rankings for {relevant.Count} queries.");
        double mrr = 0, ndcg = 0, recall = 0;
        for (int q = 0; q < results.Count; q++)
        {
            if (relevant[q].Count == 0)
                throw new ArgumentException($"RetrievalMetrics.Evaluate: query {q} has no relevant document.");
            var ranking = Array.ConvertAll(results[q], hit => hit.Document);
            mrr += ReciprocalRank(ranking, relevant[q], 10);
            ndcg += Ndcg(ranking, relevant[q], 10);
            recall += Recall(ranking, relevant[q], 100);
        }
        int n = results.Count;
        return n == 0 ? new RetrievalScores(0, 0, 0, 0) : new RetrievalScores(n, mrr / n, ndcg / n, recall / n);
    }

    /// <summary>
    /// The expected number of multiply-adds to score one query against one document, as Paria et
    /// al. (2020, "Minimizing FLOPs to Learn Efficient Sparse Representations") define it:
    /// FLOPs = sum over terms j of p_q(j) * p_d(j), where p_q(j) is the fraction of queries and
    /// p_d(j) the fraction of documents with a non-zero weight on j.
    /// </summary>
    /// <exception cref="ArgumentException">The two matrices have different vocabulary sizes.</exception>
    public static double Flops(SparseMatrix queries, SparseMatrix documents)
    {
        if (queries.Columns != documents.Columns)
            throw new ArgumentException($"RetrievalMetrics.Flops: queries over {queries.Columns} terms but documents over {documents.Columns}.");
        if (queries.Rows == 0 || documents.Rows == 0)
            return 0;
        var queryCounts = NonZeroCounts(queries);
        var documentCounts = NonZeroCounts(documents);
        double flops = 0;
        for (int j = 0; j < queryCounts.Length; j++)
            if (queryCounts[j] != 0 && documentCounts[j] != 0)
                flops += (double)queryCounts[j] / queries.Rows * ((double)documentCounts[j] / documents.Rows);
        return flops;
    }

    /// <summary>
    /// <see cref="Flops(SparseMatrix, SparseMatrix)"/> with the documents' term fractions read from
    /// an index: p_d(j) = (postings of term j) / (documents), which is exact for a float32 index
    /// (quantised ones leave out weights that round to 0). Query terms outside the index's
    /// vocabulary contribute nothing.
    /// </summary>
    public static double Flops(SparseMatrix queries, InvertedIndex documents)
    {
        if (queries.Rows == 0 || documents.Documents == 0)
            return 0;
        var queryCounts = NonZeroCounts(queries);
        double flops = 0;
        for (int j = 0; j < Math.Min(queryCounts.Length, documents.Terms); j++)
            if (queryCounts[j] != 0)
                flops += (double)queryCounts[j] / queries.Rows * ((double)documents.PostingCount(j) / documents.Documents);
        return flops;
    }

    /// <summary>For each term, the number of rows with a non-zero weight on it.</summary>
    private static long[] NonZeroCounts(SparseMatrix matrix)
    {
        var counts = new long[matrix.Columns];
        var ids = matrix.ColumnIndices;
        var values = matrix.Values;
        for (int i = 0; i < ids.Length; i++)
            if (values[i] != 0)
                counts[ids[i]]++;
        return counts;
    }

    /// <summary>The mean number of non-zero weights per row.</summary>
    public static double MeanNonZeros(SparseMatrix matrix)
    {
        if (matrix.Rows == 0)
            return 0;
        long count = 0;
        foreach (float value in matrix.Values)
            if (value != 0)
                count++;
        return (double)count / matrix.Rows;
    }
}
