using System.Text;
using Engine.Io;
using Engine.Sparse;

namespace Engine.Tests.Sparse;

// The dense index against a naive double-precision search (sizes 1, primes, dimensions that are
// not multiples of any vector width), its documented float32 summation order bit for bit, ties
// to the lower document, k beyond the collection, the batch search equal to the single one,
// and .npy files: a round trip, NumPy's other header forms, and a clear error for broken files.
public sealed class DenseIndexTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("dense-index-tests-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private string PathOf(string name) => Path.Combine(_directory, name);

    private static float[] RandomVector(Random random, int dimension)
    {
        var v = new float[dimension];
        for (int i = 0; i < dimension; i++)
            v[i] = (float)(random.NextDouble() * 2 - 1);
        return v;
    }

    private static float[][] RandomRows(Random random, int rows, int dimension) =>
        Enumerable.Range(0, rows).Select(_ => RandomVector(random, dimension)).ToArray();

    // The order DenseDot documents: 16 lanes with one fused multiply-add per element, the lanes
    // reduced as (0-7 + 8-15), (0-3 + 4-7), (0 + 2) + (1 + 3), then the tail's FMA chain added.
    private static float DocumentedDot(float[] q, float[] d)
    {
        var lanes = new float[16];
        int chunks = q.Length / 16;
        for (int c = 0; c < chunks; c++)
            for (int l = 0; l < 16; l++)
                lanes[l] = MathF.FusedMultiplyAdd(q[c * 16 + l], d[c * 16 + l], lanes[l]);
        var eight = new float[8];
        for (int l = 0; l < 8; l++)
            eight[l] = lanes[l] + lanes[l + 8];
        var four = new float[4];
        for (int l = 0; l < 4; l++)
            four[l] = eight[l] + eight[l + 4];
        float tail = 0;
        for (int i = chunks * 16; i < q.Length; i++)
            tail = MathF.FusedMultiplyAdd(q[i], d[i], tail);
        return (four[0] + four[2]) + (four[1] + four[3]) + tail;
    }

    [Theory]
    [InlineData(1, 1, 1)]
    [InlineData(1, 17, 5)]
    [InlineData(2, 16, 1)]
    [InlineData(3, 15, 3)]
    [InlineData(7, 31, 4)]
    [InlineData(31, 33, 10)]
    [InlineData(257, 384, 100)]
    [InlineData(997, 7, 13)]
    [InlineData(1031, 385, 50)]
    public void Top_k_matches_a_naive_double_precision_search(int documents, int dimension, int k)
    {
        var random = new Random(documents * 1000 + dimension);
        var rows = RandomRows(random, documents, dimension);
        var index = DenseIndex.Build(rows, dimension);

        for (int q = 0; q < 3; q++)
        {
            var query = RandomVector(random, dimension);
            var hits = index.Search(query, k);

            var exact = rows.Select(d => query.Zip(d, (a, b) => (double)a * b).Sum()).ToArray();
            // float32 rounding: each score is within a few ulps of sum |q_i d_i| of the exact one.
            var bound = rows.Select(d => 1e-5 * query.Zip(d, (a, b) => Math.Abs((double)a * b)).Sum() + 1e-12).ToArray();
            Assert.Equal(Math.Min(k, documents), hits.Length);
            Assert.Equal(hits.Length, hits.Select(h => h.Document).Distinct().Count());
            foreach (var hit in hits)
                Assert.InRange(hit.Score, exact[hit.Document] - bound[hit.Document], exact[hit.Document] + bound[hit.Document]);
            // Nothing left out beats the worst kept hit by more than rounding.
            double worstKept = hits.Min(h => exact[h.Document] + bound[h.Document]);
            var kept = hits.Select(h => h.Document).ToHashSet();
            for (int d = 0; d < documents; d++)
                if (!kept.Contains(d))
                    Assert.True(exact[d] - bound[d] <= worstKept, $"document {d} (score {exact[d]}) was left out");
            // And the exact result for the float32 scores of the documented summation order.
            var expected = Enumerable.Range(0, documents).Select(d => new SearchHit(d, DocumentedDot(query, rows[d])))
                .OrderByDescending(h => h.Score).ThenBy(h => h.Document).Take(k).ToArray();
            Assert.Equal(expected, hits);
        }
    }

    [Fact]
    public void Equal_scores_go_to_the_lower_document_number()
    {
        var a = new float[] { 1, 0, 0 };
        var b = new float[] { 0, 1, 0 };
        var index = DenseIndex.Build([b, a, b, a, a, b], 3);

        var hits = index.Search([1f, 0.5f, 0], 4);

        Assert.Equal([1, 3, 4, 0], hits.Select(h => h.Document));
        Assert.Equal([1f, 1f, 1f, 0.5f], hits.Select(h => h.Score));
        Assert.Equal([0, 1, 2, 3, 4, 5], index.Search([0, 0, 1f], 6).Select(h => h.Document));
    }

    [Fact]
    public void K_beyond_the_collection_returns_every_document_in_order()
    {
        var random = new Random(3);
        var rows = RandomRows(random, 5, 19);
        var index = DenseIndex.Build(rows, 19);
        var query = RandomVector(random, 19);

        var hits = index.Search(query, 1000);

        Assert.Equal(5, hits.Length);
        Assert.Equal(Enumerable.Range(0, 5), hits.Select(h => h.Document).Order());
        Assert.True(hits.Zip(hits.Skip(1), (x, y) => x.Score >= y.Score).All(ordered => ordered));
        Assert.Empty(DenseIndex.Build(Array.Empty<float>(), 0, 4).Search([1f, 0, 0, 0], 10));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(-1)]
    public void Batch_search_gives_each_query_its_single_search_result_bit_for_bit(int threads)
    {
        var random = new Random(11);
        // 17 dimensions: 481 documents per tile, so 1201 documents make three tiles, the last partial;
        // 75 queries make three groups, the last partial.
        var index = DenseIndex.Build(RandomRows(random, 1201, 17), 17);
        var queries = RandomRows(random, 75, 17);

        var batch = index.Search(queries, 37, threads);

        Assert.Equal(queries.Length, batch.Length);
        for (int i = 0; i < queries.Length; i++)
            Assert.Equal(index.Search(queries[i], 37), batch[i]);
        Assert.Empty(index.Search(Array.Empty<float[]>(), 5));
    }

    [Fact]
    public void Bad_arguments_are_refused_with_what_is_wrong()
    {
        var index = DenseIndex.Build([[1f, 2f, 3f]], 3);

        Assert.Contains("2 values", Assert.Throws<ArgumentException>(() => index.Search([1f, 2f], 1)).Message);
        Assert.Contains("query 1", Assert.Throws<ArgumentException>(() => index.Search([[1f, 2f, 3f], [1f, float.NaN, 3f]], 1)).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => index.Search([1f, 2f, 3f], 0));
        Assert.Contains("row 0", Assert.Throws<ArgumentException>(() => DenseIndex.Build([[1f, 2f]], 3)).Message);
        Assert.Contains("non-finite", Assert.Throws<ArgumentException>(() => DenseIndex.Build([[1f, float.PositiveInfinity]], 2)).Message);
    }

    [Fact]
    public void Save_writes_a_numpy_float32_matrix_and_load_gives_the_same_index()
    {
        var random = new Random(5);
        var rows = RandomRows(random, 13, 21);
        var index = DenseIndex.Build(rows, 21);
        string path = PathOf("docs.npy");

        index.Save(path);
        var loaded = DenseIndex.Load(path);

        byte[] bytes = File.ReadAllBytes(path);
        Assert.Equal([0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0], bytes[..8]);
        int headerLength = bytes[8] | bytes[9] << 8;
        string header = Encoding.ASCII.GetString(bytes, 10, headerLength);
        Assert.Equal("{'descr': '<f4', 'fortran_order': False, 'shape': (13, 21), }", header.TrimEnd());
        Assert.EndsWith("\n", header);
        Assert.Equal(0, (10 + headerLength) % 64);
        Assert.Equal(10 + headerLength + 13 * 21 * 4, bytes.Length);
        Assert.Equal(13, loaded.Documents);
        Assert.Equal(21, loaded.Dimension);
        for (int d = 0; d < 13; d++)
            Assert.Equal(rows[d], loaded.Vector(d).ToArray());
        Assert.Empty(Directory.GetFiles(_directory, "*.tmp"));
    }

    [Fact]
    public void Load_reads_version_2_headers_with_other_spacing_and_key_order()
    {
        string header = "{'shape':(2,3),'fortran_order':False,'descr':'<f4'}";
        var values = new float[] { 1, 2, 3, 4, 5, 6 };
        var file = new List<byte>([0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 2, 0]);
        file.AddRange(BitConverter.GetBytes((uint)(header.Length + 1)));
        file.AddRange(Encoding.ASCII.GetBytes(header + "\n"));
        file.AddRange(values.SelectMany(BitConverter.GetBytes));
        File.WriteAllBytes(PathOf("v2.npy"), file.ToArray());

        var index = DenseIndex.Load(PathOf("v2.npy"));

        Assert.Equal((2, 3), (index.Documents, index.Dimension));
        Assert.Equal([4f, 5f, 6f], index.Vector(1).ToArray());
    }

    public static TheoryData<string, string> Corruptions => new()
    {
        { "empty", "shorter than the smallest header" },
        { "truncated", "bytes, but a (4, 5) float32 matrix" },
        { "one byte too many", "bytes, but a (4, 5) float32 matrix" },
        { "wrong magic", "does not start with" },
        { "unknown version", "format version 9" },
        { "header longer than the file", "does not fit" },
        { "float64", "dtype '<f8'" },
        { "big-endian", "dtype '>f4'" },
        { "fortran order", "Fortran" },
        { "three dimensions", "not two-dimensional" },
        { "negative size", "non-negative int32 sizes" },
        { "no shape", "no 'shape'" },
        { "not a dict", "not a dict literal" },
        { "not ascii", "not ASCII" },
        { "NaN value", "non-finite" },
        { "no columns", "no vector components" },
    };

    [Theory]
    [MemberData(nameof(Corruptions))]
    public void Broken_npy_files_give_an_InvalidDataException_naming_the_file(string corruption, string message)
    {
        var index = DenseIndex.Build(RandomRows(new Random(1), 4, 5), 5);
        string good = PathOf("good.npy"), bad = PathOf($"{corruption.Replace(' ', '-')}.npy");
        index.Save(good);
        var bytes = File.ReadAllBytes(good);
        int headerLength = bytes[8] | bytes[9] << 8;
        string header = Encoding.ASCII.GetString(bytes, 10, headerLength);
        byte[] WithHeader(string replacement) =>
            [.. bytes[..10], .. Encoding.ASCII.GetBytes(replacement.PadRight(headerLength - 1) + "\n"), .. bytes[(10 + headerLength)..]];

        byte[] broken = corruption switch
        {
            "empty" => [],
            "truncated" => bytes[..^1],
            "one byte too many" => [.. bytes, 0],
            "wrong magic" => [(byte)'X', .. bytes[1..]],
            "unknown version" => [.. bytes[..6], 9, .. bytes[7..]],
            "header longer than the file" => [.. bytes[..8], 0xFF, 0xFF, .. bytes[10..]],
            "float64" => WithHeader(header.Replace("<f4", "<f8").TrimEnd()),
            "big-endian" => WithHeader(header.Replace("<f4", ">f4").TrimEnd()),
            "fortran order" => WithHeader(header.Replace("False", "True").TrimEnd()),
            "three dimensions" => WithHeader(header.Replace("(4, 5)", "(4, 5, 1)").TrimEnd()),
            "negative size" => WithHeader(header.Replace("(4, 5)", "(-4, 5)").TrimEnd()),
            "no shape" => WithHeader(header.Replace("'shape'", "'shapes'").TrimEnd()),
            "not a dict" => WithHeader(header.TrimEnd().TrimStart('{')),
            "not ascii" => [.. bytes[..20], 0xE9, .. bytes[21..]],
            "NaN value" => [.. bytes[..^4], .. BitConverter.GetBytes(float.NaN)],
            "no columns" => WithHeader(header.Replace("(4, 5)", "(4, 0)").TrimEnd())[..(10 + headerLength)],
            _ => throw new ArgumentException(corruption),
        };
        File.WriteAllBytes(bad, broken);

        var error = Assert.Throws<InvalidDataException>(() => DenseIndex.Load(bad));
        Assert.Contains(bad, error.Message);
        Assert.Contains(message, error.Message);
        Assert.Throws<FileNotFoundException>(() => DenseIndex.Load(PathOf("missing.npy")));
    }
}
