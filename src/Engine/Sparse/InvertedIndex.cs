using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Numerics;
using System.Runtime.InteropServices;
using Engine.Io;

namespace Engine.Sparse;

/// <summary>How an <see cref="InvertedIndex"/> stores posting weights.</summary>
public enum PostingEncoding
{
    /// <summary>float32 weights, exact: scores equal <see cref="SparseVector.Dot"/> bit for bit.</summary>
    Float32 = 0,
    /// <summary>
    /// 16-bit codes: weight ≈ code * scale with scale = (largest weight) / 65535 and code =
    /// round(weight / scale). Weights must be non-negative (as SPLADE's and BM25's are).
    /// </summary>
    UInt16 = 1,
    /// <summary>8-bit codes: weight ≈ code * scale with scale = (largest weight) / 255, as <see cref="UInt16"/> otherwise.</summary>
    Byte = 2,
}

/// <summary>A search result: a document number (its row in the indexed matrix) and its score.</summary>
/// <param name="Document">The document's row in the matrix the index was built from.</param>
/// <param name="Score">The document's score: the dot product of query and document vectors.</param>
public readonly record struct SearchHit(int Document, float Score);

/// <summary>
/// An inverted index over sparse document vectors: for each term, the documents with a non-zero
/// weight on it (ascending) and those weights. A query is scored against every document that
/// shares a term with it by accumulating query weight * posting weight term by term (exhaustive
/// term-at-a-time, so top-k results are exact, not approximate). It serves SPLADE vectors and
/// BM25 (<see cref="Bm25"/>) alike: whatever makes the vectors, search is the same code.
/// </summary>
/// <remarks>
/// <para>Results: the k documents of highest score among those sharing at least one term with the
/// query (a term where both weights are non-zero; documents sharing none are never returned, so
/// fewer than k may come back), best first, ties broken by the lower document number.</para>
/// <para>Quantised encodings (<see cref="PostingEncoding.UInt16"/>, <see cref="PostingEncoding.Byte"/>)
/// round each weight to the nearest multiple of <see cref="Scale"/> (a weight that rounds to 0 is
/// not stored), so a stored weight is off by at most Scale / 2 and a score by at most
/// Scale / 2 * (sum of the query's absolute weights), plus float32 rounding.</para>
/// <para>Thread safety: an index is immutable; any number of threads may search it at once.
/// Scratch space (one float and one int per document) is pooled and reused.</para>
/// </remarks>
public sealed class InvertedIndex
{
    private static readonly byte[] Magic = "ENGSPIDX"u8.ToArray();
    private const uint FormatVersion = 1;
    private const int HeaderBytes = 40;

    private readonly int[] _offsets;
    private readonly int[] _documents;
    private readonly float[]? _floatWeights;
    private readonly ushort[]? _shortWeights;
    private readonly byte[]? _byteWeights;
    private readonly ConcurrentBag<Scratch> _scratch = [];

    private InvertedIndex(int documentCount, PostingEncoding encoding, float scale, int[] offsets, int[] documents,
        float[]? floatWeights, ushort[]? shortWeights, byte[]? byteWeights)
    {
        Documents = documentCount;
        Encoding = encoding;
        Scale = scale;
        _offsets = offsets;
        _documents = documents;
        _floatWeights = floatWeights;
        _shortWeights = shortWeights;
        _byteWeights = byteWeights;
    }

    /// <summary>The vocabulary size: terms 0 .. Terms - 1 have posting lists.</summary>
    public int Terms => _offsets.Length - 1;

    /// <summary>The number of documents indexed.</summary>
    public int Documents { get; }

    /// <summary>The number of stored postings (non-zero document weights).</summary>
    public long Postings => _documents.Length;

    /// <summary>How weights are stored.</summary>
    public PostingEncoding Encoding { get; }

    /// <summary>A stored code times Scale is the weight it stands for; 1 for <see cref="PostingEncoding.Float32"/>.</summary>
    public float Scale { get; }

    /// <summary>The number of documents with a stored weight on <paramref name="term"/>.</summary>
    public int PostingCount(int term)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(term);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(term, Terms);
        return _offsets[term + 1] - _offsets[term];
    }

    /// <summary>Indexes the rows of <paramref name="documents"/>: row r is document r.</summary>
    /// <exception cref="ArgumentException">A quantised encoding is asked for and a weight is negative.</exception>
    public static InvertedIndex Build(SparseMatrix documents, PostingEncoding encoding = PostingEncoding.Float32)
    {
        ArgumentNullException.ThrowIfNull(documents);
        var ids = documents.ColumnIndices;
        var values = documents.Values;
        float largest = 0f;
        for (int i = 0; i < values.Length; i++)
        {
            if (encoding != PostingEncoding.Float32 && values[i] < 0)
                throw new ArgumentException($"InvertedIndex.Build: {encoding} postings need non-negative weights; term {ids[i]} has {values[i]}.");
            largest = MathF.Max(largest, MathF.Abs(values[i]));
        }
        int maxCode = encoding switch { PostingEncoding.UInt16 => ushort.MaxValue, PostingEncoding.Byte => byte.MaxValue, _ => 0 };
        float scale = encoding == PostingEncoding.Float32 || largest == 0 ? 1f : largest / maxCode;

        // Which entries are stored: non-zero weights, and for codes, weights that do not round to 0.
        bool Stored(float value) => encoding == PostingEncoding.Float32 ? value != 0 : Code(value, scale, maxCode) != 0;

        var offsets = new int[documents.Columns + 1];
        for (int i = 0; i < ids.Length; i++)
            if (Stored(values[i]))
                offsets[ids[i] + 1]++;
        for (int t = 0; t < documents.Columns; t++)
            offsets[t + 1] += offsets[t];
        int postings = offsets[^1];
        var next = offsets[..^1].ToArray();
        var postingDocuments = new int[postings];
        var floats = encoding == PostingEncoding.Float32 ? new float[postings] : null;
        var shorts = encoding == PostingEncoding.UInt16 ? new ushort[postings] : null;
        var bytes = encoding == PostingEncoding.Byte ? new byte[postings] : null;
        var rowOffsets = documents.RowOffsets;
        for (int d = 0; d < documents.Rows; d++)
        {
            for (int i = rowOffsets[d]; i < rowOffsets[d + 1]; i++)
            {
                if (!Stored(values[i]))
                    continue;
                int slot = next[ids[i]]++;
                postingDocuments[slot] = d;
                if (floats is not null)
                    floats[slot] = values[i];
                else if (shorts is not null)
                    shorts[slot] = (ushort)Code(values[i], scale, maxCode);
                else
                    bytes![slot] = (byte)Code(values[i], scale, maxCode);
            }
        }
        return new InvertedIndex(documents.Rows, encoding, scale, offsets, postingDocuments, floats, shorts, bytes);
    }

    /// <summary>
    /// The stored postings back as document vectors (row d = document d, columns = terms), weights
    /// decoded (code times <see cref="Scale"/>): what to export to another search engine.
    /// </summary>
    public SparseMatrix ToDocuments()
    {
        var rowOffsets = new int[Documents + 1];
        foreach (int d in _documents) rowOffsets[d + 1]++;
        for (int d = 0; d < Documents; d++) rowOffsets[d + 1] += rowOffsets[d];
        var next = rowOffsets[..^1].ToArray();
        var terms = new int[_documents.Length];
        var weights = new float[_documents.Length];
        for (int t = 0; t < Terms; t++)
            for (int i = _offsets[t]; i < _offsets[t + 1]; i++)
            {
                int slot = next[_documents[i]]++;
                terms[slot] = t;
                weights[slot] = _floatWeights?[i] ?? (_shortWeights is not null ? _shortWeights[i] : _byteWeights![i]) * Scale;
            }
        return new SparseMatrix(Terms, rowOffsets, terms, weights);
    }

    private static int Code(float value, float scale, int maxCode) => (int)Math.Min(maxCode, MathF.Round(value / scale, MidpointRounding.AwayFromZero));

    /// <summary>The <paramref name="k"/> best documents for <paramref name="query"/>, on the calling thread.</summary>
    public SearchHit[] Search(SparseVector query, int k)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(k);
        var scratch = Rent();
        try
        {
            return Search(scratch, query, k);
        }
        finally
        {
            _scratch.Add(scratch);
        }
    }

    /// <summary>
    /// The <paramref name="k"/> best documents for each query, queries spread over
    /// <paramref name="maxDegreeOfParallelism"/> threads (-1: every core). Each query's result is
    /// the one <see cref="Search(SparseVector, int)"/> gives.
    /// </summary>
    public SearchHit[][] Search(IReadOnlyList<SparseVector> queries, int k, int maxDegreeOfParallelism = -1)
    {
        ArgumentNullException.ThrowIfNull(queries);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(k);
        var results = new SearchHit[queries.Count][];
        var options = new ParallelOptions { MaxDegreeOfParallelism = maxDegreeOfParallelism };
        Parallel.For(0, queries.Count, options, Rent, (i, _, scratch) =>
        {
            results[i] = Search(scratch, queries[i], k);
            return scratch;
        }, _scratch.Add);
        return results;
    }

    /// <summary>The <paramref name="k"/> best documents for each row of <paramref name="queries"/>, as the list overload.</summary>
    public SearchHit[][] Search(SparseMatrix queries, int k, int maxDegreeOfParallelism = -1) =>
        Search(Enumerable.Range(0, queries.Rows).Select(queries.Row).ToArray(), k, maxDegreeOfParallelism);

    private Scratch Rent() => _scratch.TryTake(out var scratch) ? scratch : new Scratch(Documents);

    /// <summary>Per-thread accumulators: a score per document, valid where its stamp equals the current generation.</summary>
    private sealed class Scratch(int documents)
    {
        public readonly float[] Scores = new float[documents];
        public readonly int[] Stamps = new int[documents];
        public readonly int[] Touched = new int[documents];
        public int Generation;
    }

    private SearchHit[] Search(Scratch scratch, SparseVector query, int k)
    {
        if (++scratch.Generation == int.MaxValue)
        {
            Array.Clear(scratch.Stamps);
            scratch.Generation = 1;
        }
        int touched = 0;
        var terms = query.Indices;
        var weights = query.Values;
        for (int q = 0; q < terms.Length; q++)
        {
            int term = terms[q];
            if (term >= Terms || weights[q] == 0)
                continue;
            int start = _offsets[term], end = _offsets[term + 1];
            // float32 postings multiply by the query weight itself, so scores match SparseVector.Dot exactly.
            float factor = Encoding == PostingEncoding.Float32 ? weights[q] : weights[q] * Scale;
            touched = Encoding switch
            {
                PostingEncoding.Float32 => Accumulate<float>(_floatWeights!, start, end, factor, scratch, touched),
                PostingEncoding.UInt16 => Accumulate<ushort>(_shortWeights!, start, end, factor, scratch, touched),
                _ => Accumulate<byte>(_byteWeights!, start, end, factor, scratch, touched),
            };
        }
        return TopK(scratch, touched, k);
    }

    private int Accumulate<T>(T[] weights, int start, int end, float factor, Scratch scratch, int touched) where T : unmanaged, INumberBase<T>
    {
        var scores = scratch.Scores;
        var stamps = scratch.Stamps;
        int generation = scratch.Generation;
        for (int p = start; p < end; p++)
        {
            int d = _documents[p];
            float contribution = factor * float.CreateTruncating(weights[p]);
            if (stamps[d] != generation)
            {
                stamps[d] = generation;
                scores[d] = contribution;
                scratch.Touched[touched++] = d;
            }
            else
            {
                scores[d] += contribution;
            }
        }
        return touched;
    }

    /// <summary>The best k of the touched documents.</summary>
    private static SearchHit[] TopK(Scratch scratch, int touched, int k)
    {
        var best = new TopHits(Math.Min(k, touched));
        for (int i = 0; i < touched; i++)
        {
            int d = scratch.Touched[i];
            best.Offer(d, scratch.Scores[d]);
        }
        return best.ToSortedArray();
    }

    /// <summary>Writes the index to <paramref name="path"/> atomically, in the layout <see cref="Load"/> describes.</summary>
    public void Save(string path)
    {
        RequireLittleEndian();
        AtomicFile.Write(path, stream =>
        {
            var writer = new HashingWriter(stream);
            Span<byte> header = stackalloc byte[HeaderBytes];
            header.Clear();
            Magic.CopyTo(header);
            BinaryPrimitives.WriteUInt32LittleEndian(header[8..], FormatVersion);
            BinaryPrimitives.WriteInt32LittleEndian(header[12..], (int)Encoding);
            BinaryPrimitives.WriteInt32LittleEndian(header[16..], Terms);
            BinaryPrimitives.WriteInt32LittleEndian(header[20..], Documents);
            BinaryPrimitives.WriteInt64LittleEndian(header[24..], Postings);
            BinaryPrimitives.WriteSingleLittleEndian(header[32..], Scale);
            writer.Write(header);
            writer.Write(MemoryMarshal.AsBytes(_offsets.AsSpan()));
            writer.Write(MemoryMarshal.AsBytes(_documents.AsSpan()));
            writer.Write(Encoding switch
            {
                PostingEncoding.Float32 => MemoryMarshal.AsBytes(_floatWeights.AsSpan()),
                PostingEncoding.UInt16 => MemoryMarshal.AsBytes(_shortWeights.AsSpan()),
                _ => _byteWeights.AsSpan(),
            });
            Span<byte> checksum = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(checksum, writer.Hash);
            stream.Write(checksum);
        });
    }

    // The file layout (all numbers little-endian):
    //   bytes 0-7    magic "ENGSPIDX"
    //   8-11         uint32 format version, 1
    //   12-15        int32 encoding: 0 float32, 1 uint16, 2 byte (PostingEncoding)
    //   16-19        int32 T, the number of terms
    //   20-23        int32 D, the number of documents
    //   24-31        int64 P, the number of postings (at most Array.MaxLength)
    //   32-35        float32 scale (1 for float32; finite and > 0 for codes)
    //   36-39        zero (reserved)
    //   40-          int32 offsets[T + 1]: term t's postings are [offsets[t], offsets[t + 1]);
    //                offsets[0] = 0, non-decreasing, offsets[T] = P
    //                int32 documents[P]: in [0, D), strictly ascending within each term
    //                weights[P]: float32 (finite, non-zero), uint16 or byte (non-zero codes)
    //   last 8 bytes uint64 FNV-1a 64 hash of every byte before it
    // The file's length must be exactly what the header implies; it is checked before anything
    // is allocated, so a corrupt or hostile header cannot make the reader allocate or read
    // past the file.
    /// <summary>Reads an index written by <see cref="Save"/>, checking its header, its size, every offset, document number and weight, and its checksum.</summary>
    /// <exception cref="InvalidDataException">The file is not an index or is corrupt; the message names the path and what is wrong.</exception>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    public static InvertedIndex Load(string path)
    {
        RequireLittleEndian();
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
        InvalidDataException Corrupt(string what) => new($"{path}: not a valid inverted index: {what}.");

        if (stream.Length < HeaderBytes + 4 + 8)
            throw Corrupt($"{stream.Length} bytes is shorter than the smallest index");
        var reader = new HashingReader(stream);
        Span<byte> header = stackalloc byte[HeaderBytes];
        reader.Read(header);
        if (!header[..8].SequenceEqual(Magic))
            throw Corrupt("the file does not start with \"ENGSPIDX\"");
        uint version = BinaryPrimitives.ReadUInt32LittleEndian(header[8..]);
        if (version != FormatVersion)
            throw Corrupt($"format version {version} (this reader knows {FormatVersion})");
        int encodingCode = BinaryPrimitives.ReadInt32LittleEndian(header[12..]);
        if (encodingCode is < 0 or > 2)
            throw Corrupt($"unknown encoding {encodingCode}");
        var encoding = (PostingEncoding)encodingCode;
        int terms = BinaryPrimitives.ReadInt32LittleEndian(header[16..]);
        int documents = BinaryPrimitives.ReadInt32LittleEndian(header[20..]);
        long postings = BinaryPrimitives.ReadInt64LittleEndian(header[24..]);
        float scale = BinaryPrimitives.ReadSingleLittleEndian(header[32..]);
        if (terms < 0 || terms >= Array.MaxLength || documents < 0 || postings < 0 || postings > Array.MaxLength)
            throw Corrupt($"impossible counts: {terms} terms, {documents} documents, {postings} postings");
        if (!float.IsFinite(scale) || scale <= 0 || (encoding == PostingEncoding.Float32 && scale != 1))
            throw Corrupt($"scale {scale} for {encoding} postings");
        int weightBytes = encoding switch { PostingEncoding.Float32 => 4, PostingEncoding.UInt16 => 2, _ => 1 };
        long expected = HeaderBytes + 4L * (terms + 1) + (4L + weightBytes) * postings + 8;
        if (stream.Length != expected)
            throw Corrupt($"{stream.Length} bytes, but the header implies {expected}");

        var offsets = new int[terms + 1];
        reader.Read(MemoryMarshal.AsBytes(offsets.AsSpan()));
        var postingDocuments = new int[postings];
        reader.Read(MemoryMarshal.AsBytes(postingDocuments.AsSpan()));
        var floats = encoding == PostingEncoding.Float32 ? new float[postings] : null;
        var shorts = encoding == PostingEncoding.UInt16 ? new ushort[postings] : null;
        var bytes = encoding == PostingEncoding.Byte ? new byte[postings] : null;
        reader.Read(encoding switch
        {
            PostingEncoding.Float32 => MemoryMarshal.AsBytes(floats.AsSpan()),
            PostingEncoding.UInt16 => MemoryMarshal.AsBytes(shorts.AsSpan()),
            _ => bytes.AsSpan(),
        });
        ulong computed = reader.Hash;
        Span<byte> stored = stackalloc byte[8];
        stream.ReadExactly(stored);
        if (BinaryPrimitives.ReadUInt64LittleEndian(stored) != computed)
            throw Corrupt("the checksum does not match the contents");

        if (offsets[0] != 0 || offsets[terms] != postings)
            throw Corrupt($"offsets run from {offsets[0]} to {offsets[terms]}, not from 0 to {postings}");
        for (int t = 0; t < terms; t++)
        {
            if (offsets[t + 1] < offsets[t])
                throw Corrupt($"the offsets decrease at term {t}");
            for (int p = offsets[t]; p < offsets[t + 1]; p++)
            {
                int d = postingDocuments[p];
                if (d < 0 || d >= documents || (p > offsets[t] && d <= postingDocuments[p - 1]))
                    throw Corrupt($"term {t}'s documents are not ascending numbers below {documents} (posting {p} is {d})");
                bool valid = encoding switch
                {
                    PostingEncoding.Float32 => float.IsFinite(floats![p]) && floats[p] != 0,
                    PostingEncoding.UInt16 => shorts![p] != 0,
                    _ => bytes![p] != 0,
                };
                if (!valid)
                    throw Corrupt($"posting {p} of term {t} has a zero or non-finite weight");
            }
        }
        return new InvertedIndex(documents, encoding, scale, offsets, postingDocuments, floats, shorts, bytes);
    }

    private static void RequireLittleEndian()
    {
        if (!BitConverter.IsLittleEndian)
            throw new PlatformNotSupportedException("InvertedIndex files are little-endian and are read and written on little-endian machines only.");
    }

    /// <summary>Writes bytes to a stream while hashing them.</summary>
    private sealed class HashingWriter(Stream stream)
    {
        public ulong Hash { get; private set; } = Fnv1a.Offset;

        public void Write(ReadOnlySpan<byte> bytes)
        {
            Hash = Fnv1a.Add(Hash, bytes);
            stream.Write(bytes);
        }
    }

    /// <summary>Reads exact byte counts from a stream while hashing them.</summary>
    private sealed class HashingReader(Stream stream)
    {
        public ulong Hash { get; private set; } = Fnv1a.Offset;

        public void Read(Span<byte> bytes)
        {
            stream.ReadExactly(bytes);
            Hash = Fnv1a.Add(Hash, bytes);
        }
    }

    /// <inheritdoc/>
    public override string ToString() => Encoding == PostingEncoding.Float32
        ? $"InvertedIndex({Documents} documents, {Terms} terms, {Postings} postings, {Encoding})"
        : $"InvertedIndex({Documents} documents, {Terms} terms, {Postings} postings, {Encoding}, scale {Scale:G6})";
}
