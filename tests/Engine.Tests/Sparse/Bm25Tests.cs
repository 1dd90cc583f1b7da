using Engine.Sparse;

namespace Engine.Tests.Sparse;

// BM25 as sparse vectors: tokenization, the weights of a three-document collection worked out by
// hand, search through the inverted index, and the model file's round trip and errors.
public sealed class Bm25Tests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("bm25-tests-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void Tokenize_lowercases_splits_on_non_letters_drops_possessives_and_stop_words()
    {
        Assert.Equal(["the", "lord", "s", "house", "is", "in", "caesarea", "2"],
            Bm25.Tokenize("The LORD-s house, is in Cæsarea (2)!", removeStopWords: false));
        Assert.Equal(["lord", "house", "caesarea"], Bm25.Tokenize("The LORD’s house is in Cæsarea", removeStopWords: true));
        Assert.Equal(["abraham", "servant"], Bm25.Tokenize("Abraham's servant", removeStopWords: true));
        Assert.Equal(["don", "t"], Bm25.Tokenize("don't", removeStopWords: true));
        Assert.Empty(Bm25.Tokenize(" -- ", removeStopWords: false));
    }

    // The collection, after stop words ("the", "a") are dropped:
    //   d0 "the cat sat"       -> cat sat          |d| = 2
    //   d1 "the cat's cat ran" -> cat cat ran      |d| = 3   (the possessive 's is dropped)
    //   d2 "a dog ran"         -> dog ran          |d| = 2
    // N = 3, avgdl = 7/3; df: cat 2, sat 1, ran 2, dog 1.
    // idf(df = 2) = ln(1 + 1.5 / 2.5) = ln 1.6     = 0.4700036292
    // idf(df = 1) = ln(1 + 2.5 / 1.5) = ln 2.6667  = 0.9808292530
    // With k1 = 0.9, b = 0.4: K(|d|) = 0.9 (0.6 + 0.4 |d| / avgdl); K(2) = 0.8485714, K(3) = 1.0028571.
    //   w(cat, d0) = 0.4700036 * 1 * 1.9 / (1 + 0.8485714) = 0.4830794644
    //   w(sat, d0) = 0.9808293 * 1.9 / 1.8485714            = 1.0081166202
    //   w(cat, d1) = 0.4700036 * 2 * 1.9 / (2 + 1.0028571)  = 0.5947714813
    //   w(ran, d1) = 0.4700036 * 1.9 / 2.0028571            = 0.4458664956
    //   w(dog, d2) = w(sat, d0); w(ran, d2) = w(cat, d0)
    private static readonly string[] Collection = ["the cat sat", "the cat's cat ran", "a dog ran"];

    [Fact]
    public void Document_vectors_hold_the_hand_computed_weights()
    {
        var (model, documents) = Bm25.Build(Collection);

        Assert.Equal(["cat", "sat", "ran", "dog"], model.Vocabulary);
        Assert.Equal(3, model.DocumentCount);
        Assert.Equal(7.0 / 3, model.AverageLength, 12);
        Assert.Equal(0.4700036292, model.Idf(0), 9);
        Assert.Equal(0.9808292530, model.Idf(1), 9);
        AssertRow(documents.Row(0), (0, 0.4830794644), (1, 1.0081166202));
        AssertRow(documents.Row(1), (0, 0.5947714813), (2, 0.4458664956));
        AssertRow(documents.Row(2), (2, 0.4830794644), (3, 1.0081166202));
        AssertRow(model.EncodeDocument(Collection[1]), (0, 0.5947714813), (2, 0.4458664956));
    }

    // Weights are float32: 5 decimal places is the precision they carry at these magnitudes.
    private static void AssertRow(SparseVector row, params (int Term, double Weight)[] expected)
    {
        Assert.Equal(expected.Select(e => e.Term), row.Indices.ToArray());
        for (int i = 0; i < expected.Length; i++)
            Assert.Equal(expected[i].Weight, row.Values[i], 5);
    }

    [Fact]
    public void Search_scores_are_bm25_sums_over_query_tokens()
    {
        var (model, documents) = Bm25.Build(Collection);
        var index = InvertedIndex.Build(documents);

        // "cat ran": d1 = 0.5947715 + 0.4458665 = 1.0406380; d0 = d2 = 0.4830795 (tie: lower number first).
        var hits = index.Search(model.EncodeQuery("The cat ran? (unicorn)"), 10);
        Assert.Equal([1, 0, 2], hits.Select(h => h.Document));
        Assert.Equal(1.0406379770, hits[0].Score, 5);
        Assert.Equal(0.4830794644, hits[1].Score, 5);

        // A repeated query token counts twice: "cat cat" scores d1 at 2 * 0.5947715.
        var repeated = model.EncodeQuery("cat cat");
        Assert.Equal([2f], repeated.Values.ToArray());
        Assert.Equal(1.1895429627, index.Search(repeated, 1)[0].Score, 5);
        Assert.Equal(0, model.EncodeQuery("unicorn the").NonZeros);
    }

    [Fact]
    public void Lucene_defaults_and_kept_stop_words_change_the_weights_as_the_formula_says()
    {
        var (model, documents) = Bm25.Build(Collection, new Bm25Options(K1: 1.2f, B: 0.75f, RemoveStopWords: false));

        // Now "the" and "a" are terms: |d| = 3, 4, 3, avgdl = 10/3; w(sat, d0) = idf(1) * 2.2 / (1 + 1.2 (0.25 + 0.75 * 0.9)).
        Assert.Equal(["the", "cat", "sat", "ran", "a", "dog"], model.Vocabulary);
        double expected = 0.9808292530 * 2.2 / (1 + 1.2 * (0.25 + 0.75 * 3 / (10.0 / 3)));
        Assert.Equal(expected, documents.Row(0).Values[2], 5);
    }

    [Fact]
    public void The_model_file_round_trips_and_broken_files_name_the_line()
    {
        var (model, _) = Bm25.Build(Collection, new Bm25Options(1.1f, 0.3f, RemoveStopWords: true));
        string path = Path.Combine(_directory, "bm25.tsv");
        model.Save(path);

        var loaded = Bm25.Load(path);
        Assert.Equal(model.Options, loaded.Options);
        Assert.Equal(model.Vocabulary, loaded.Vocabulary);
        Assert.Equal(model.AverageLength, loaded.AverageLength);
        Assert.Equal(model.EncodeDocument("cat sat").Values.ToArray(), loaded.EncodeDocument("cat sat").Values.ToArray());

        var lines = File.ReadAllLines(path);
        string Error(params string[] broken)
        {
            File.WriteAllLines(path, broken);
            return Assert.Throws<InvalidDataException>(() => Bm25.Load(path)).Message;
        }
        Assert.Contains("line 1", Error("not a model"));
        Assert.Contains("line 1", Error([lines[0].Replace("\t0.3\t", "\t1.5\t"), .. lines[1..]]));
        Assert.Contains("line 3", Error([lines[0], lines[1], "sat\t9", .. lines[3..]]));
        Assert.Contains("line 3", Error([lines[0], lines[1], lines[1], .. lines[3..]]));
        Assert.Contains("ends after", Error(lines[..^1]));
        Assert.Contains("more terms", Error([.. lines, "extra\t1"]));
    }
}
