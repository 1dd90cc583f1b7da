using System.Buffers.Binary;
using Engine.Io;
using Engine.Sparse;
using FsCheck;
using FsCheck.Xunit;

namespace Engine.Tests.Sparse;

// The inverted index against brute force: exact top-k (documents and bitwise scores) for float32
// postings, a stated bound for quantised ones, the same answers from the parallel batch and from
// a saved and reloaded index, and a clear error for every way a file can be broken.
public sealed class InvertedIndexTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("inverted-index-tests-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private string PathOf(string name) => Path.Combine(_directory, name);

    [Property(MaxTest = 60)]
    public void Float32_top_k_equals_brute_force_scoring(int seed, PositiveInt documents, PositiveInt vocabulary, PositiveInt k)
    {
        var random = new Random(seed);
        int docs = documents.Get % 80 + 1, terms = vocabulary.Get % 40 + 1, depth = k.Get % 25 + 1;
        var matrix = SparseRandom.Matrix(random, docs, terms, maxTerms: 8, nonNegative: false);
        var index = InvertedIndex.Build(matrix);

        for (int q = 0; q < 5; q++)
        {
            var query = SparseRandom.Vector(random, terms, maxTerms: 6, nonNegative: false);
            Assert.Equal(SparseRandom.BruteForce(matrix, query, depth), index.Search(query, depth));
        }
    }

    [Fact]
    public void Batch_search_on_many_threads_gives_each_query_its_single_search_result()
    {
        var random = new Random(7);
        var matrix = SparseRandom.Matrix(random, 500, 60, maxTerms: 12, nonNegative: true);
        var index = InvertedIndex.Build(matrix);
        var queries = Enumerable.Range(0, 200).Select(_ => SparseRandom.Vector(random, 60, 6, nonNegative: true)).ToArray();

        var batch = index.Search(queries, 10, maxDegreeOfParallelism: 4);
        var fromMatrix = index.Search(SparseMatrix.FromRows(queries, 60), 10);

        for (int i = 0; i < queries.Length; i++)
        {
            var expected = SparseRandom.BruteForce(matrix, queries[i], 10);
            Assert.Equal(expected, batch[i]);
            Assert.Equal(expected, fromMatrix[i]);
            Assert.Equal(expected, index.Search(queries[i], 10));
        }
    }

    [Theory]
    [InlineData(PostingEncoding.UInt16)]
    [InlineData(PostingEncoding.Byte)]
    public void Quantised_scores_are_within_half_a_step_per_unit_of_query_weight(PostingEncoding encoding)
    {
        // Stated bound: each stored weight is within Scale / 2 of the true one, so a score is within
        // Scale / 2 * sum |q_j| of the exact dot product (plus float32 rounding, 1e-4 here).
        var random = new Random(11);
        var matrix = SparseRandom.Matrix(random, 300, 50, maxTerms: 10, nonNegative: true);
        var index = InvertedIndex.Build(matrix, encoding);
        int maxCode = encoding == PostingEncoding.Byte ? 255 : 65535;
        Assert.Equal(matrix.Values.ToArray().Max() / maxCode, index.Scale, 6);
        const int k = 10;

        for (int q = 0; q < 100; q++)
        {
            var query = SparseRandom.Vector(random, 50, 6, nonNegative: true);
            double bound = index.Scale / 2 * query.Values.ToArray().Sum(MathF.Abs) + 1e-4;
            var exact = Enumerable.Range(0, matrix.Rows).Select(d => matrix.Row(d).Dot(query)).ToArray();
            var hits = index.Search(query, k);
            var returned = hits.Select(h => h.Document).ToHashSet();

            foreach (var hit in hits)
                Assert.InRange(hit.Score, exact[hit.Document] - bound, exact[hit.Document] + bound);
            // Whatever was left out could not have beaten the worst hit by more than the error allows.
            double ceiling = hits.Length == k ? hits[^1].Score + bound : bound;
            for (int d = 0; d < matrix.Rows; d++)
                if (!returned.Contains(d))
                    Assert.True(exact[d] <= ceiling, $"document {d} scores {exact[d]} exactly, above {ceiling}");
        }
    }

    [Fact]
    public void Quantising_refuses_negative_weights()
    {
        var matrix = SparseMatrix.FromRows([new SparseVector(new[] { 0, 1 }, new[] { 1f, -0.5f })], 2);

        var error = Assert.Throws<ArgumentException>(() => InvertedIndex.Build(matrix, PostingEncoding.Byte));
        Assert.Contains("non-negative", error.Message);
    }

    [Fact]
    public void Zero_weights_unknown_terms_and_unmatched_documents_are_never_hits()
    {
        var matrix = SparseMatrix.FromRows(
        [
            new SparseVector(new[] { 0, 2 }, new[] { 1f, 0f }),
            new SparseVector(new[] { 1 }, new[] { 2f }),
            SparseVector.Empty,
        ], 3);
        var index = InvertedIndex.Build(matrix);

        Assert.Equal(2, index.Postings);
        Assert.Empty(index.Search(new SparseVector(new[] { 2, 7 }, new[] { 5f, 1f }), 3));
        Assert.Empty(index.Search(SparseVector.Empty, 3));
        Assert.Equal([new SearchHit(1, 6f)], index.Search(new SparseVector(new[] { 0, 1 }, new[] { 0f, 3f }), 3));
        Assert.Throws<ArgumentOutOfRangeException>(() => index.Search(SparseVector.Empty, 0));
    }

    [Theory]
    [InlineData(PostingEncoding.Float32)]
    [InlineData(PostingEncoding.UInt16)]
    [InlineData(PostingEncoding.Byte)]
    public void Save_and_load_give_the_same_index(PostingEncoding encoding)
    {
        var random = new Random(3);
        var matrix = SparseRandom.Matrix(random, 120, 30, maxTerms: 8, nonNegative: true);
        var index = InvertedIndex.Build(matrix, encoding);
        string path = PathOf("index.bin");

        index.Save(path);
        var loaded = InvertedIndex.Load(path);

        Assert.Equal((index.Terms, index.Documents, index.Postings, index.Encoding, index.Scale),
            (loaded.Terms, loaded.Documents, loaded.Postings, loaded.Encoding, loaded.Scale));
        for (int q = 0; q < 30; q++)
        {
            var query = SparseRandom.Vector(random, 30, 5, nonNegative: true);
            Assert.Equal(index.Search(query, 7), loaded.Search(query, 7));
        }
        Assert.Empty(Directory.GetFiles(_directory, "*.tmp"));
    }

    [Fact]
    public void An_empty_index_round_trips()
    {
        var index = InvertedIndex.Build(SparseMatrix.FromRows([], 0));
        index.Save(PathOf("empty.bin"));

        var loaded = InvertedIndex.Load(PathOf("empty.bin"));

        Assert.Equal((0, 0, 0L), (loaded.Terms, loaded.Documents, loaded.Postings));
        Assert.Empty(loaded.Search(new SparseVector(new[] { 3 }, new[] { 1f }), 5));
    }

    // A small valid file: 3 terms, 2 documents, 3 postings (float32).
    private byte[] ValidBytes()
    {
        var matrix = SparseMatrix.FromRows(
        [
            new SparseVector(new[] { 0, 2 }, new[] { 1f, 2f }),
            new SparseVector(new[] { 2 }, new[] { 3f }),
        ], 3);
        InvertedIndex.Build(matrix).Save(PathOf("valid.bin"));
        return File.ReadAllBytes(PathOf("valid.bin"));
    }

    // Header 40 bytes, offsets 4 x 4 bytes (40..55), documents 3 x 4 (56..67), weights 3 x 4 (68..79), checksum (80..87).
    private const int OffsetsAt = 40, DocumentsAt = 56, WeightsAt = 68;

    private static byte[] WithChecksum(byte[] bytes)
    {
        ulong hash = Fnv1a.Add(Fnv1a.Offset, bytes.AsSpan(0, bytes.Length - 8));
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(bytes.Length - 8), hash);
        return bytes;
    }

    private string LoadError(byte[] bytes)
    {
        string path = PathOf("broken.bin");
        File.WriteAllBytes(path, bytes);
        var error = Assert.Throws<InvalidDataException>(() => InvertedIndex.Load(path));
        Assert.Contains(path, error.Message);
        return error.Message;
    }

    [Fact]
    public void The_valid_file_has_the_documented_layout()
    {
        var bytes = ValidBytes();

        Assert.Equal(88, bytes.Length);
        Assert.Equal("ENGSPIDX"u8.ToArray(), bytes[..8]);
        Assert.Equal([0, 1, 1, 3], Enumerable.Range(0, 4).Select(i => BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(OffsetsAt + 4 * i))));
        Assert.Equal([0, 0, 1], Enumerable.Range(0, 3).Select(i => BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(DocumentsAt + 4 * i))));
        Assert.Equal([1f, 2f, 3f], Enumerable.Range(0, 3).Select(i => BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(WeightsAt + 4 * i))));
    }

    [Fact]
    public void Truncated_empty_or_foreign_files_are_refused()
    {
        var bytes = ValidBytes();

        Assert.Contains("shorter", LoadError([]));
        Assert.Contains("header implies", LoadError(bytes[..^1]));
        Assert.Contains("header implies", LoadError([.. bytes, 0]));
        var foreign = (byte[])bytes.Clone();
        foreign[0] = (byte)'X';
        Assert.Contains("ENGSPIDX", LoadError(foreign));
    }

    [Fact]
    public void Bad_header_fields_are_refused_before_anything_is_allocated()
    {
        byte[] Patched(int at, Action<Span<byte>> write)
        {
            var copy = ValidBytes();
            write(copy.AsSpan(at));
            return WithChecksum(copy);
        }

        Assert.Contains("version", LoadError(Patched(8, s => BinaryPrimitives.WriteUInt32LittleEndian(s, 2))));
        Assert.Contains("encoding", LoadError(Patched(12, s => BinaryPrimitives.WriteInt32LittleEndian(s, 7))));
        Assert.Contains("header implies", LoadError(Patched(16, s => BinaryPrimitives.WriteInt32LittleEndian(s, 1_000_000_000))));
        Assert.Contains("impossible counts", LoadError(Patched(24, s => BinaryPrimitives.WriteInt64LittleEndian(s, long.MaxValue))));
        Assert.Contains("impossible counts", LoadError(Patched(20, s => BinaryPrimitives.WriteInt32LittleEndian(s, -1))));
        Assert.Contains("scale", LoadError(Patched(32, s => BinaryPrimitives.WriteSingleLittleEndian(s, 0.5f))));
    }

    [Fact]
    public void A_flipped_byte_fails_the_checksum()
    {
        var bytes = ValidBytes();
        bytes[WeightsAt + 1] ^= 0x40;

        Assert.Contains("checksum", LoadError(bytes));
    }

    [Fact]
    public void Contents_that_break_the_invariants_are_refused_even_with_a_matching_checksum()
    {
        byte[] Patched(int at, int value)
        {
            var copy = ValidBytes();
            BinaryPrimitives.WriteInt32LittleEndian(copy.AsSpan(at), value);
            return WithChecksum(copy);
        }

        Assert.Contains("offsets decrease", LoadError(Patched(OffsetsAt + 8, 0)));
        Assert.Contains("offsets run", LoadError(Patched(OffsetsAt, 1)));
        Assert.Contains("ascending", LoadError(Patched(DocumentsAt + 4, 5)));
        // Term 2's postings are documents [0, 1]; [1, 1] is not strictly ascending.
        Assert.Contains("ascending", LoadError(Patched(DocumentsAt + 4, 1)));
        Assert.Contains("non-finite", LoadError(Patched(WeightsAt, BitConverter.SingleToInt32Bits(float.PositiveInfinity))));
        Assert.Contains("zero", LoadError(Patched(WeightsAt + 4, 0)));
    }

    [Fact]
    public void A_missing_file_is_a_file_not_found_error()
    {
        Assert.Throws<FileNotFoundException>(() => InvertedIndex.Load(PathOf("absent.bin")));
    }
}
