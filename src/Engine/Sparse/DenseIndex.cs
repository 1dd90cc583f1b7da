using Engine.Io;

namespace Engine.Sparse;

/// <summary>
/// Exact (brute-force) top-k search over dense document vectors by inner product: every
/// document is scored, none is skipped. With L2-normalised vectors (as
/// sentence encoders make them) the inner product is the cosine similarity.
/// </summary>
/// <remarks>
/// <para>Results: the min(k, <see cref="Documents"/>) documents of highest score, best first, ties
/// broken by the lower document number (as <see cref="InvertedIndex"/> breaks them).</para>
/// <para>Scores are float32 dot products summed in one fixed order (<see cref="DenseDot"/>), so
/// a query gets the same scores, bit for bit, from the single-query and the batch search, on any
/// number of threads.</para>
/// <para>The batch search scores a group of queries against a tile of documents small enough to
/// stay in the core's L1 cache before moving to the next tile, so each document row comes from
/// memory once per group rather than once per query.</para>
/// <para>Thread safety: an index is immutable; any number of threads may search it at once.</para>
/// </remarks>
public sealed class DenseIndex
{
    // A document tile's size: the rows scored while they sit in a core's L1 data cache. Tiles
    // of 8 to 256 KiB searched equally fast on a 2-core AVX2 machine (the kernel, not memory,
    // limits a tiled batch there); a tile much larger than the last-level cache would not.
    private const int TileBytes = 32 * 1024;
    // Queries scored against each tile before the next tile is loaded, in the batch search.
    private const int QueryGroup = 32;

    private readonly float[] _vectors;

    private DenseIndex(float[] vectors, int documents, int dimension)
    {
        _vectors = vectors;
        Documents = documents;
        Dimension = dimension;
    }

    /// <summary>The number of documents indexed.</summary>
    public int Documents { get; }

    /// <summary>The length of every document and query vector.</summary>
    public int Dimension { get; }

    /// <summary>An index over the rows of a row-major [documents, dimension] matrix (copied): row r is document r.</summary>
    /// <exception cref="ArgumentException">The matrix does not hold documents * dimension values, the dimension is not positive, or a value is NaN or infinite.</exception>
    public static DenseIndex Build(ReadOnlySpan<float> vectors, int documents, int dimension)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(documents);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(dimension);
        if ((long)documents * dimension != vectors.Length)
            throw new ArgumentException($"DenseIndex.Build: {vectors.Length} values do not make {documents} vectors of {dimension}.");
        int bad = FirstNonFinite(vectors);
        if (bad >= 0)
            throw new ArgumentException($"DenseIndex.Build: document {bad / dimension} has a non-finite value ({vectors[bad]}) at {bad % dimension}.");
        return new DenseIndex(vectors.ToArray(), documents, dimension);
    }

    /// <summary>An index over <paramref name="rows"/>: row r is document r.</summary>
    /// <exception cref="ArgumentException">A row's length is not <paramref name="dimension"/>, or a value is NaN or infinite.</exception>
    public static DenseIndex Build(IReadOnlyList<float[]> rows, int dimension)
    {
        ArgumentNullException.ThrowIfNull(rows);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(dimension);
        var vectors = new float[(long)rows.Count * dimension];
        for (int r = 0; r < rows.Count; r++)
        {
            if (rows[r].Length != dimension)
                throw new ArgumentException($"DenseIndex.Build: row {r} has {rows[r].Length} values, not {dimension}.");
            rows[r].CopyTo(vectors, (long)r * dimension);
        }
        return Build(vectors, rows.Count, dimension);
    }

    /// <summary>Document <paramref name="document"/>'s vector.</summary>
    public ReadOnlySpan<float> Vector(int document)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(document);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(document, Documents);
        return _vectors.AsSpan(document * Dimension, Dimension);
    }

    /// <summary>The <paramref name="k"/> best documents for <paramref name="query"/>, on the calling thread.</summary>
    /// <exception cref="ArgumentException">The query's length is not <see cref="Dimension"/> or it holds a NaN or infinity.</exception>
    public SearchHit[] Search(float[] query, int k)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(k);
        CheckQuery(query, 0);
        int tile = TileDocuments;
        Span<float> scores = stackalloc float[tile];
        var best = new TopHits(Math.Min(k, Documents));
        for (int start = 0; start < Documents; start += tile)
        {
            int count = Math.Min(tile, Documents - start);
            ScoreTile(query, start, scores[..count]);
            for (int j = 0; j < count; j++)
                best.Offer(start + j, scores[j]);
        }
        return best.ToSortedArray();
    }

    /// <summary>
    /// The <paramref name="k"/> best documents for each query, groups of queries spread over
    /// <paramref name="maxDegreeOfParallelism"/> threads (-1: every core). Each query's result is
    /// the one <see cref="Search(float[], int)"/> gives.
    /// </summary>
    /// <exception cref="ArgumentException">A query's length is not <see cref="Dimension"/> or it holds a NaN or infinity.</exception>
    public SearchHit[][] Search(IReadOnlyList<float[]> queries, int k, int maxDegreeOfParallelism = -1)
    {
        ArgumentNullException.ThrowIfNull(queries);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(k);
        for (int i = 0; i < queries.Count; i++)
            CheckQuery(queries[i], i);
        var results = new SearchHit[queries.Count][];
        int groups = (queries.Count + QueryGroup - 1) / QueryGroup;
        var options = new ParallelOptions { MaxDegreeOfParallelism = maxDegreeOfParallelism };
        Parallel.For(0, groups, options, g =>
        {
            int first = g * QueryGroup, count = Math.Min(QueryGroup, queries.Count - first);
            SearchGroup(queries, first, count, k, results);
        });
        return results;
    }

    /// <summary>Queries [first, first + count): each document tile is scored against all of them before the next.</summary>
    private void SearchGroup(IReadOnlyList<float[]> queries, int first, int count, int k, SearchHit[][] results)
    {
        int tile = TileDocuments;
        var scores = new float[tile];
        var best = new TopHits[count];
        for (int i = 0; i < count; i++)
            best[i] = new TopHits(Math.Min(k, Documents));
        for (int start = 0; start < Documents; start += tile)
        {
            int size = Math.Min(tile, Documents - start);
            for (int i = 0; i < count; i++)
            {
                ScoreTile(queries[first + i], start, scores.AsSpan(0, size));
                for (int j = 0; j < size; j++)
                    best[i].Offer(start + j, scores[j]);
            }
        }
        for (int i = 0; i < count; i++)
            results[first + i] = best[i].ToSortedArray();
    }

    /// <summary>Documents per tile: as many rows as fit in <see cref="TileBytes"/>, at least 4 (one <see cref="DenseDot"/> group).</summary>
    private int TileDocuments => Math.Max(4, TileBytes / (sizeof(float) * Dimension));

    private void ScoreTile(float[] query, int start, Span<float> scores) =>
        DenseDot.Score(query, _vectors.AsSpan(start * Dimension, scores.Length * Dimension), scores);

    private void CheckQuery(float[] query, int number)
    {
        ArgumentNullException.ThrowIfNull(query);
        if (query.Length != Dimension)
            throw new ArgumentException($"DenseIndex.Search: query {number} has {query.Length} values; the index's vectors have {Dimension}.");
        int bad = FirstNonFinite(query);
        if (bad >= 0)
            throw new ArgumentException($"DenseIndex.Search: query {number} has a non-finite value ({query[bad]}) at {bad}.");
    }

    /// <summary>The position of the first NaN or infinity, or -1.</summary>
    private static int FirstNonFinite(ReadOnlySpan<float> values)
    {
        for (int i = 0; i < values.Length; i++)
            if (!float.IsFinite(values[i]))
                return i;
        return -1;
    }

    /// <summary>Writes the document vectors to <paramref name="path"/> atomically as a [Documents, Dimension] float32 .npy matrix (<see cref="NpyMatrix"/>), which NumPy reads as is.</summary>
    public void Save(string path) => NpyMatrix.Write(path, _vectors, Documents, Dimension);

    /// <summary>An index over the rows of a float32 .npy matrix, as <see cref="Save"/> or NumPy writes it.</summary>
    /// <exception cref="InvalidDataException">The file is not a two-dimensional little-endian float32 C-order .npy matrix with at least one column, is cut short or too long, or holds a NaN or infinity; the message names the path.</exception>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    public static DenseIndex Load(string path)
    {
        var (values, rows, columns) = NpyMatrix.Read(path);
        if (columns == 0)
            throw new InvalidDataException($"{path}: a ({rows}, 0) matrix has no vector components to search.");
        int bad = FirstNonFinite(values);
        if (bad >= 0)
            throw new InvalidDataException($"{path}: row {bad / columns} has a non-finite value ({values[bad]}) at column {bad % columns}.");
        return new DenseIndex(values, rows, columns);
    }

    /// <inheritdoc/>
    public override string ToString() => $"DenseIndex({Documents} documents, {Dimension} dimensions)";
}
