using System.Globalization;

namespace Engine.Sparse;

/// <summary>
/// A sparse vector over a vocabulary: term ids in strictly ascending order, each with a finite
/// weight (the CSR representation of one row). Immutable; a row of a <see cref="SparseMatrix"/>
/// shares the matrix's arrays instead of copying them.
/// </summary>
/// <remarks>
/// Zero weights are allowed but carry nothing: the index skips them and they never make a
/// document match. The pruning helpers (<see cref="Prune"/>, <see cref="TopK"/>,
/// <see cref="FromDense"/>) are how a SPLADE encoder's vocabulary-sized output becomes a vector
/// worth indexing.
/// </remarks>
public readonly struct SparseVector
{
    private readonly ReadOnlyMemory<int> _indices;
    private readonly ReadOnlyMemory<float> _values;

    /// <summary>A vector of the given term ids (strictly ascending, non-negative) and weights (finite), which it keeps without copying.</summary>
    /// <exception cref="ArgumentException">The lengths differ, the ids are not strictly ascending and non-negative, or a weight is not finite.</exception>
    public SparseVector(ReadOnlyMemory<int> indices, ReadOnlyMemory<float> values)
    {
        Validate(indices.Span, values.Span, "SparseVector");
        _indices = indices;
        _values = values;
    }

    /// <summary>Wraps data the caller has already validated; <paramref name="validated"/> only selects this overload.</summary>
    internal SparseVector(ReadOnlyMemory<int> indices, ReadOnlyMemory<float> values, bool validated)
    {
        _indices = indices;
        _values = values;
    }

    /// <summary>The vector with no entries.</summary>
    public static SparseVector Empty => default;

    /// <summary>The term ids, strictly ascending.</summary>
    public ReadOnlySpan<int> Indices => _indices.Span;

    /// <summary>The weights, one per term id.</summary>
    public ReadOnlySpan<float> Values => _values.Span;

    /// <summary>The number of stored entries.</summary>
    public int NonZeros => _indices.Length;

    /// <summary>
    /// The entries of <paramref name="dense"/> whose absolute value is above
    /// <paramref name="threshold"/> (0 keeps every non-zero).
    /// </summary>
    /// <exception cref="ArgumentException">A value is not finite, or the threshold is negative.</exception>
    public static SparseVector FromDense(ReadOnlySpan<float> dense, float threshold = 0f)
    {
        if (!(threshold >= 0))
            throw new ArgumentException($"SparseVector.FromDense: the threshold must be >= 0, not {threshold}.");
        var indices = new List<int>();
        var values = new List<float>();
        for (int i = 0; i < dense.Length; i++)
        {
            if (!float.IsFinite(dense[i]))
                throw new ArgumentException($"SparseVector.FromDense: value {i} is {dense[i]}.");
            if (MathF.Abs(dense[i]) > threshold)
            {
                indices.Add(i);
                values.Add(dense[i]);
            }
        }
        return new SparseVector(indices.ToArray(), values.ToArray(), validated: true);
    }

    /// <summary>
    /// A vector from (term, weight) pairs in any order: weights of a repeated term are added (in
    /// the order given), and terms whose total is zero are left out.
    /// </summary>
    /// <exception cref="ArgumentException">The lengths differ, a term is negative, or a weight is not finite.</exception>
    public static SparseVector FromPairs(ReadOnlySpan<int> terms, ReadOnlySpan<float> weights)
    {
        if (terms.Length != weights.Length)
            throw new ArgumentException($"SparseVector.FromPairs: {terms.Length} terms but {weights.Length} weights.");
        var sums = new SortedDictionary<int, float>();
        for (int i = 0; i < terms.Length; i++)
        {
            if (terms[i] < 0 || !float.IsFinite(weights[i]))
                throw new ArgumentException($"SparseVector.FromPairs: pair {i} is ({terms[i]}, {weights[i]}); terms must be >= 0 and weights finite.");
            sums[terms[i]] = sums.GetValueOrDefault(terms[i]) + weights[i];
        }
        var kept = sums.Where(p => p.Value != 0).ToArray();
        return new SparseVector(kept.Select(p => p.Key).ToArray(), kept.Select(p => p.Value).ToArray(), validated: true);
    }

    /// <summary>The entries whose absolute weight is above <paramref name="threshold"/>.</summary>
    public SparseVector Prune(float threshold)
    {
        if (!(threshold >= 0))
            throw new ArgumentException($"SparseVector.Prune: the threshold must be >= 0, not {threshold}.");
        var indices = new List<int>(NonZeros);
        var values = new List<float>(NonZeros);
        var ids = Indices;
        var weights = Values;
        for (int i = 0; i < ids.Length; i++)
        {
            if (MathF.Abs(weights[i]) > threshold)
            {
                indices.Add(ids[i]);
                values.Add(weights[i]);
            }
        }
        return new SparseVector(indices.ToArray(), values.ToArray(), validated: true);
    }

    /// <summary>
    /// The <paramref name="k"/> entries of largest absolute weight (ties go to the lower term id),
    /// in ascending term order; the whole vector when it has at most k entries.
    /// </summary>
    public SparseVector TopK(int k)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(k);
        if (NonZeros <= k)
            return this;
        var weights = Values;
        var order = new int[NonZeros];
        for (int i = 0; i < order.Length; i++)
            order[i] = i;
        var magnitudes = new float[NonZeros];
        for (int i = 0; i < magnitudes.Length; i++)
            magnitudes[i] = MathF.Abs(weights[i]);
        // Positions ascend with term ids, so ordering by (magnitude descending, position ascending) breaks ties toward the lower id.
        Array.Sort(order, (a, b) => magnitudes[a] != magnitudes[b] ? magnitudes[b].CompareTo(magnitudes[a]) : a.CompareTo(b));
        Array.Sort(order, 0, k);
        var ids = Indices;
        var indices = new int[k];
        var values = new float[k];
        for (int i = 0; i < k; i++)
        {
            indices[i] = ids[order[i]];
            values[i] = weights[order[i]];
        }
        return new SparseVector(indices, values, validated: true);
    }

    /// <summary>
    /// The dot product: the sum over shared terms of the two weights' product, added in ascending
    /// term order in float32 (the order and precision <see cref="InvertedIndex"/> uses, so the two agree exactly).
    /// </summary>
    public float Dot(SparseVector other)
    {
        var a = Indices;
        var b = other.Indices;
        var x = Values;
        var y = other.Values;
        float sum = 0f;
        int i = 0, j = 0;
        while (i < a.Length && j < b.Length)
        {
            if (a[i] < b[j])
                i++;
            else if (a[i] > b[j])
                j++;
            else
                sum += x[i++] * y[j++];
        }
        return sum;
    }

    /// <summary>The vector as a dense array of <paramref name="dimension"/> entries.</summary>
    /// <exception cref="ArgumentException">A term id is not below <paramref name="dimension"/>.</exception>
    public float[] ToDense(int dimension)
    {
        var dense = new float[dimension];
        var ids = Indices;
        var weights = Values;
        for (int i = 0; i < ids.Length; i++)
        {
            if (ids[i] >= dimension)
                throw new ArgumentException($"SparseVector.ToDense: term {ids[i]} is outside a dimension of {dimension}.");
            dense[ids[i]] = weights[i];
        }
        return dense;
    }

    /// <summary>The entries as "term:weight" pairs.</summary>
    public override string ToString()
    {
        var ids = _indices.Span;
        var weights = _values.Span;
        var parts = new string[ids.Length];
        for (int i = 0; i < ids.Length; i++)
            parts[i] = string.Create(CultureInfo.InvariantCulture, $"{ids[i]}:{weights[i]:G6}");
        return "{" + string.Join(", ", parts) + "}";
    }

    /// <summary>Checks the CSR invariants of one row; <paramref name="what"/> names the caller in the message.</summary>
    internal static void Validate(ReadOnlySpan<int> indices, ReadOnlySpan<float> values, string what)
    {
        if (indices.Length != values.Length)
            throw new ArgumentException($"{what}: {indices.Length} term ids but {values.Length} weights.");
        for (int i = 0; i < indices.Length; i++)
        {
            if (indices[i] < 0 || (i > 0 && indices[i] <= indices[i - 1]))
                throw new ArgumentException($"{what}: term ids must be non-negative and strictly ascending; entry {i} is {indices[i]}{(i > 0 ? $" after {indices[i - 1]}" : "")}.");
            if (!float.IsFinite(values[i]))
                throw new ArgumentException($"{what}: the weight of term {indices[i]} is {values[i]}.");
        }
    }
}
