using Engine.Sparse;

namespace Engine.Tests.Sparse;

// Seeded random sparse data for the index tests: rows with a random number of distinct terms
// drawn from a small vocabulary (so rows overlap often), with weights of both signs or
// non-negative, and some exact ties.
internal static class SparseRandom
{
    public static SparseVector Vector(Random random, int vocabulary, int maxTerms, bool nonNegative)
    {
        int count = random.Next(0, Math.Min(maxTerms, vocabulary) + 1);
        var terms = Enumerable.Range(0, vocabulary).OrderBy(_ => random.Next()).Take(count).Order().ToArray();
        var weights = terms.Select(_ => Weight(random, nonNegative)).ToArray();
        return new SparseVector(terms, weights);
    }

    public static SparseMatrix Matrix(Random random, int rows, int vocabulary, int maxTerms, bool nonNegative) =>
        SparseMatrix.FromRows(Enumerable.Range(0, rows).Select(_ => Vector(random, vocabulary, maxTerms, nonNegative)).ToArray(), vocabulary);

    // Weights on a coarse grid now and then, so equal scores (ties) happen.
    private static float Weight(Random random, bool nonNegative)
    {
        float magnitude = random.Next(4) == 0 ? random.Next(1, 4) * 0.5f : (float)random.NextDouble() * 3 + 0.01f;
        return nonNegative || random.Next(2) == 0 ? magnitude : -magnitude;
    }

    // The reference: score every document by SparseVector.Dot, keep those sharing a term where both
    // weights are non-zero, order by score descending then document ascending.
    public static SearchHit[] BruteForce(SparseMatrix documents, SparseVector query, int k)
    {
        var hits = new List<SearchHit>();
        for (int d = 0; d < documents.Rows; d++)
        {
            var row = documents.Row(d);
            if (Shares(row, query))
                hits.Add(new SearchHit(d, row.Dot(query)));
        }
        return hits.OrderByDescending(h => h.Score).ThenBy(h => h.Document).Take(k).ToArray();
    }

    public static bool Shares(SparseVector a, SparseVector b)
    {
        for (int i = 0; i < a.NonZeros; i++)
        {
            int j = b.Indices.BinarySearch(a.Indices[i]);
            if (j >= 0 && a.Values[i] != 0 && b.Values[j] != 0)
                return true;
        }
        return false;
    }
}
