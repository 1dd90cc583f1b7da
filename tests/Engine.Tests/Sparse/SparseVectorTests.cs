using Engine.Sparse;

namespace Engine.Tests.Sparse;

// The CSR types: their invariants are enforced, the pruning helpers keep what they say, and a
// matrix row is a view of the matrix.
public sealed class SparseVectorTests
{
    [Fact]
    public void Construction_rejects_unsorted_repeated_negative_or_non_finite_entries()
    {
        Assert.Throws<ArgumentException>(() => new SparseVector(new[] { 3, 1 }, new[] { 1f, 1f }));
        Assert.Throws<ArgumentException>(() => new SparseVector(new[] { 1, 1 }, new[] { 1f, 1f }));
        Assert.Throws<ArgumentException>(() => new SparseVector(new[] { -1 }, new[] { 1f }));
        Assert.Throws<ArgumentException>(() => new SparseVector(new[] { 1 }, new[] { float.NaN }));
        Assert.Throws<ArgumentException>(() => new SparseVector(new[] { 1, 2 }, new[] { 1f }));
        Assert.Equal(0, SparseVector.Empty.NonZeros);
    }

    [Fact]
    public void From_dense_keeps_entries_above_the_threshold_in_absolute_value()
    {
        var v = SparseVector.FromDense([0f, 0.5f, -2f, 0.1f, 3f], threshold: 0.2f);

        Assert.Equal([1, 2, 4], v.Indices.ToArray());
        Assert.Equal([0.5f, -2f, 3f], v.Values.ToArray());
        Assert.Equal([0f, 0.5f, -2f, 0f, 3f], v.ToDense(5));
        Assert.Equal([2, 4], v.Prune(1f).Indices.ToArray());
    }

    [Fact]
    public void Top_k_keeps_the_largest_magnitudes_ties_to_the_lower_term_in_term_order()
    {
        var v = new SparseVector(new[] { 2, 5, 7, 9, 11 }, new[] { 1f, -4f, 2f, 2f, 3f });

        var top = v.TopK(3);

        Assert.Equal([5, 7, 11], top.Indices.ToArray());
        Assert.Equal([-4f, 2f, 3f], top.Values.ToArray());
        Assert.Equal(5, v.TopK(10).NonZeros);
        Assert.Equal(0, v.TopK(0).NonZeros);
    }

    [Fact]
    public void From_pairs_sorts_adds_repeats_and_drops_zero_totals()
    {
        var v = SparseVector.FromPairs([7, 2, 7, 4, 4], [1f, 2f, 0.5f, 1f, -1f]);

        Assert.Equal([2, 7], v.Indices.ToArray());
        Assert.Equal([2f, 1.5f], v.Values.ToArray());
    }

    [Fact]
    public void Dot_sums_the_products_of_shared_terms()
    {
        var a = new SparseVector(new[] { 1, 3, 6 }, new[] { 2f, 1f, -1f });
        var b = new SparseVector(new[] { 0, 3, 6, 9 }, new[] { 5f, 4f, 2f, 1f });

        Assert.Equal(2f, a.Dot(b));
        Assert.Equal(2f, b.Dot(a));
        Assert.Equal(0f, a.Dot(SparseVector.Empty));
    }

    [Fact]
    public void Matrix_rows_are_views_and_from_dense_prunes_per_row()
    {
        float[] dense =
        [
            0f, 1f, 0f, 3f,
            0f, 0f, 0f, 0f,
            4f, 0.1f, 2f, 5f,
        ];

        var m = SparseMatrix.FromDense(dense, rows: 3, columns: 4, threshold: 0.5f, topK: 2);

        Assert.Equal(3, m.Rows);
        Assert.Equal(4, m.Columns);
        Assert.Equal([0, 2, 2, 4], m.RowOffsets.ToArray());
        Assert.Equal([1, 3], m.Row(0).Indices.ToArray());
        Assert.Equal(0, m.Row(1).NonZeros);
        Assert.Equal([0, 3], m.Row(2).Indices.ToArray());
        Assert.Equal([4f, 5f], m.Row(2).Values.ToArray());
        Assert.Equal(4, m.NonZeros);
        Assert.Equal(4.0 / 3, RetrievalMetrics.MeanNonZeros(m), 12);
    }

    [Fact]
    public void Matrix_rejects_terms_outside_its_vocabulary_and_broken_offsets()
    {
        Assert.Throws<ArgumentException>(() => SparseMatrix.FromRows([new SparseVector(new[] { 4 }, new[] { 1f })], columns: 4));
        Assert.Throws<ArgumentException>(() => new SparseMatrix(4, [0, 2, 1], [0, 1], [1f, 1f]));
        Assert.Throws<ArgumentException>(() => new SparseMatrix(4, [0, 2], [1, 0], [1f, 1f]));
        Assert.Throws<ArgumentException>(() => SparseMatrix.FromDense(new float[5], 2, 2));
    }
}
