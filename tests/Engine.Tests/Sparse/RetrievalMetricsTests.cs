using Engine.Sparse;

namespace Engine.Tests.Sparse;

// The metrics on rankings small enough to work out by hand.
public sealed class RetrievalMetricsTests
{
    private static readonly HashSet<int> Relevant = [3, 7, 9];

    [Fact]
    public void Reciprocal_rank_is_one_over_the_first_relevant_rank_within_the_cutoff()
    {
        Assert.Equal(1.0, RetrievalMetrics.ReciprocalRank([3, 1, 2], Relevant));
        Assert.Equal(1.0 / 3, RetrievalMetrics.ReciprocalRank([1, 2, 7, 3], Relevant), 12);
        Assert.Equal(0.0, RetrievalMetrics.ReciprocalRank([1, 2, 4, 5, 6, 8, 10, 11, 12, 13, 7], Relevant));
        Assert.Equal(0.0, RetrievalMetrics.ReciprocalRank([], Relevant));
    }

    [Fact]
    public void Ndcg_with_binary_gains()
    {
        // Relevant at ranks 2 and 4: DCG = 1/log2(3) + 1/log2(5) = 0.6309298 + 0.4306766 = 1.0616063.
        // Ideal with 3 relevant: 1 + 0.6309298 + 0.5 = 2.1309298. nDCG = 1.0616063 / 2.1309298 = 0.4981893.
        Assert.Equal(0.4981893, RetrievalMetrics.Ndcg([1, 3, 2, 9, 4], Relevant), 6);
        Assert.Equal(1.0, RetrievalMetrics.Ndcg([9, 3, 7, 1], Relevant), 12);
        // Cutoff 2 with a relevant document at rank 3 only: 0. With cutoff 1 and rank 1: 1.
        Assert.Equal(0.0, RetrievalMetrics.Ndcg([1, 2, 3], Relevant, cutoff: 2));
        Assert.Equal(1.0, RetrievalMetrics.Ndcg([7, 1], Relevant, cutoff: 1));
        Assert.Equal(0.0, RetrievalMetrics.Ndcg([1], new HashSet<int>()));
    }

    [Fact]
    public void Recall_counts_distinct_relevant_documents_within_the_cutoff()
    {
        Assert.Equal(2.0 / 3, RetrievalMetrics.Recall([3, 1, 9, 9], Relevant), 12);
        Assert.Equal(1.0 / 3, RetrievalMetrics.Recall([3, 1, 9], Relevant, cutoff: 2), 12);
        Assert.Equal(0.0, RetrievalMetrics.Recall([3], new HashSet<int>()));
    }

    [Fact]
    public void Evaluate_averages_over_queries()
    {
        SearchHit[] Run(params int[] documents) => documents.Select((d, i) => new SearchHit(d, -i)).ToArray();

        var scores = RetrievalMetrics.Evaluate(
            [Run(3, 1), Run(1, 2, 5)],
            [new HashSet<int> { 3 }, new HashSet<int> { 2, 4 }]);

        // Query 0: RR 1, nDCG 1, recall 1. Query 1: RR 1/2, nDCG (1/log2 3) / (1 + 1/log2 3), recall 1/2.
        Assert.Equal(2, scores.Queries);
        Assert.Equal(0.75, scores.Mrr10, 12);
        Assert.Equal((1 + 0.6309297536 / 1.6309297536) / 2, scores.Ndcg10, 9);
        Assert.Equal(0.75, scores.Recall100, 12);
        Assert.Throws<ArgumentException>(() => RetrievalMetrics.Evaluate([Run(1)], [new HashSet<int>()]));
        Assert.Throws<ArgumentException>(() => RetrievalMetrics.Evaluate([Run(1)], []));
    }

    [Fact]
    public void Flops_is_the_sum_over_terms_of_query_and_document_fractions()
    {
        // Vocabulary of 4. Queries: {0, 1}, {1}. Documents: {1, 2}, {1}, {0, 3}, {3}.
        // p_q = [1/2, 1, 0, 0]; p_d = [1/4, 1/2, 1/4, 1/2]; FLOPs = 1/2 * 1/4 + 1 * 1/2 = 0.625.
        var queries = Matrix(4, [0, 1], [1]);
        var documents = Matrix(4, [1, 2], [1], [0, 3], [3]);

        Assert.Equal(0.625, RetrievalMetrics.Flops(queries, documents), 12);
        Assert.Equal(0.625, RetrievalMetrics.Flops(queries, InvertedIndex.Build(documents)), 12);
        Assert.Equal(1.5, RetrievalMetrics.MeanNonZeros(queries), 12);
        Assert.Equal(1.5, RetrievalMetrics.MeanNonZeros(documents), 12);
        Assert.Throws<ArgumentException>(() => RetrievalMetrics.Flops(queries, Matrix(5, [0])));
    }

    [Fact]
    public void Flops_of_dense_vectors_is_the_vocabulary_size()
    {
        var all = Matrix(3, [0, 1, 2], [0, 1, 2]);

        Assert.Equal(3.0, RetrievalMetrics.Flops(all, all), 12);
    }

    private static SparseMatrix Matrix(int columns, params int[][] rows) =>
        SparseMatrix.FromRows(rows.Select(r => new SparseVector(r, r.Select(_ => 1f).ToArray())).ToArray(), columns);
}
