namespace Engine.Sparse;

/// <summary>
/// A batch of sparse vectors in compressed sparse row (CSR) form: row r's term ids are
/// <c>ColumnIndices[RowOffsets[r] .. RowOffsets[r + 1]]</c>, strictly ascending, with the weights
/// at the same positions of <c>Values</c>. <see cref="Columns"/> is the vocabulary size: every
/// term id is below it. Immutable.
/// </summary>
public sealed class SparseMatrix
{
    private readonly int[] _rowOffsets;
    private readonly int[] _columnIndices;
    private readonly float[] _values;

    /// <summary>A matrix from CSR arrays, which it keeps without copying.</summary>
    /// <param name="columns">The vocabulary size.</param>
    /// <param name="rowOffsets">Rows + 1 offsets: 0 first, non-decreasing, the entry count last.</param>
    /// <param name="columnIndices">The term ids of every row, one row after another.</param>
    /// <param name="values">The weights, aligned with <paramref name="columnIndices"/>.</param>
    /// <exception cref="ArgumentException">The arrays break a CSR invariant or a term id is not below <paramref name="columns"/>.</exception>
    public SparseMatrix(int columns, int[] rowOffsets, int[] columnIndices, float[] values)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(columns);
        if (rowOffsets.Length == 0 || rowOffsets[0] != 0 || rowOffsets[^1] != columnIndices.Length)
            throw new ArgumentException($"SparseMatrix: row offsets must start at 0 and end at the entry count ({columnIndices.Length}).");
        for (int r = 0; r + 1 < rowOffsets.Length; r++)
        {
            if (rowOffsets[r + 1] < rowOffsets[r])
                throw new ArgumentException($"SparseMatrix: row offsets decrease at row {r}.");
            var ids = columnIndices.AsSpan(rowOffsets[r], rowOffsets[r + 1] - rowOffsets[r]);
            SparseVector.Validate(ids, values.AsSpan(rowOffsets[r], ids.Length), $"SparseMatrix row {r}");
            if (ids.Length > 0 && ids[^1] >= columns)
                throw new ArgumentException($"SparseMatrix row {r}: term {ids[^1]} is outside a vocabulary of {columns}.");
        }
        Columns = columns;
        _rowOffsets = rowOffsets;
        _columnIndices = columnIndices;
        _values = values;
    }

    /// <summary>The number of rows (vectors).</summary>
    public int Rows => _rowOffsets.Length - 1;

    /// <summary>The vocabulary size.</summary>
    public int Columns { get; }

    /// <summary>The number of stored entries of all rows (see <see cref="RetrievalMetrics.MeanNonZeros"/> for the non-zero ones per row).</summary>
    public long NonZeros => _columnIndices.Length;

    /// <summary>The CSR row offsets (Rows + 1).</summary>
    public ReadOnlySpan<int> RowOffsets => _rowOffsets;

    /// <summary>The CSR term ids.</summary>
    public ReadOnlySpan<int> ColumnIndices => _columnIndices;

    /// <summary>The CSR weights.</summary>
    public ReadOnlySpan<float> Values => _values;

    /// <summary>Row <paramref name="row"/> as a vector sharing this matrix's arrays.</summary>
    public SparseVector Row(int row)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(row);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(row, Rows);
        int start = _rowOffsets[row], length = _rowOffsets[row + 1] - start;
        return new SparseVector(_columnIndices.AsMemory(start, length), _values.AsMemory(start, length), validated: true);
    }

    /// <summary>A matrix whose rows are <paramref name="rows"/> (copied) over a vocabulary of <paramref name="columns"/>.</summary>
    /// <exception cref="ArgumentException">A row holds a term id not below <paramref name="columns"/>.</exception>
    public static SparseMatrix FromRows(IReadOnlyList<SparseVector> rows, int columns)
    {
        var offsets = new int[rows.Count + 1];
        long total = 0;
        for (int r = 0; r < rows.Count; r++)
        {
            total += rows[r].NonZeros;
            if (total > Array.MaxLength)
                throw new ArgumentException($"SparseMatrix.FromRows: more than {Array.MaxLength} entries.");
            offsets[r + 1] = (int)total;
        }
        var ids = new int[total];
        var values = new float[total];
        for (int r = 0; r < rows.Count; r++)
        {
            rows[r].Indices.CopyTo(ids.AsSpan(offsets[r]));
            rows[r].Values.CopyTo(values.AsSpan(offsets[r]));
        }
        return new SparseMatrix(columns, offsets, ids, values);
    }

    /// <summary>
    /// The sparse form of a dense row-major [<paramref name="rows"/>, <paramref name="columns"/>]
    /// matrix such as a SPLADE encoder's output: per row, the entries whose absolute value is above
    /// <paramref name="threshold"/>, then at most <paramref name="topK"/> of them (largest first, as
    /// <see cref="SparseVector.TopK"/>) when given.
    /// </summary>
    /// <exception cref="ArgumentException">The span's length is not rows * columns, or a value is not finite.</exception>
    public static SparseMatrix FromDense(ReadOnlySpan<float> dense, int rows, int columns, float threshold = 0f, int? topK = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        ArgumentOutOfRangeException.ThrowIfNegative(columns);
        if (dense.Length != (long)rows * columns)
            throw new ArgumentException($"SparseMatrix.FromDense: {dense.Length} values for [{rows}, {columns}].");
        var vectors = new SparseVector[rows];
        for (int r = 0; r < rows; r++)
        {
            var row = SparseVector.FromDense(dense.Slice(r * columns, columns), threshold);
            vectors[r] = topK is { } k ? row.TopK(k) : row;
        }
        return FromRows(vectors, columns);
    }
}
