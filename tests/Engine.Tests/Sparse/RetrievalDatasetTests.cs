using Engine.Io.Retrieval;

namespace Engine.Tests.Sparse;

// Building the dataset from verses and subtopics (range expansion, the relevance-count filter,
// ids, splits), its files (exact bytes, the same every time, atomic), and loading them back
// with clear errors for broken files.
public sealed class RetrievalDatasetTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("retrieval-dataset-tests-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private static readonly BibleVerse[] Verses =
        new[] { "Exod.27.21", "Exod.30.7", "Exod.30.8", "Exod.30.9", "Lev.24.3", "Lev.24.4", "Lev.24.5", "Lev.25.1", "Lev.25.2" }
            .Select(id => new BibleVerse(id, $"Text of {id} with \"quotes\" and ’.")).ToArray();

    private static VerseRange R(string book, int chapter, int verse, int endChapter, int endVerse) => new(book, chapter, verse, endChapter, endVerse);

    private static VerseRange R(string book, int chapter, int verse) => new(book, chapter, verse, chapter, verse);

    private static readonly NaveSubtopic[] Subtopics =
    [
        new("LAMP", 1, "Lit at evening", [R("Exod", 30, 7, 30, 9), R("Lev", 24, 3), R("Exod", 30, 8)], 0, 0),
        new("LAMP", 2, "", [R("Lev", 24, 4, 25, 1)], 2, 1),
        new("LAMP", 3, "Trimmed", [R("Exod", 27, 21)], 0, 0),
        new("OIL, HOLY", 1, "For the lamps", [R("Exod", 30, 8), R("Lev", 24, 3), R("Lev", 99, 1), R("Lev", 24, 5, 24, 3)], 0, 0),
        new("OIL; HOLY", 1, "Other", [R("Exod", 27, 21), R("Lev", 25, 2)], 0, 0),
        new("OIL; HOLY", 2, "Too many", [R("Lev", 24, 3, 25, 2)], 0, 0),
    ];

    private static RetrievalDataset Build(out RetrievalDatasetReport report) =>
        RetrievalDataset.FromBible(Verses, Subtopics, out report, minimumRelevant: 2, maximumRelevant: 4);

    [Fact]
    public void Ranges_expand_through_the_verse_order_and_the_relevance_filter_applies()
    {
        var dataset = Build(out var report);

        Assert.Equal(Verses.Length, dataset.Documents.Count);
        Assert.Equal(["LAMP.1", "LAMP.2", "OIL-HOLY.1", "OIL-HOLY-2.1"], dataset.Queries.Select(q => q.Id));
        Assert.Equal(["LAMP: Lit at evening", "LAMP", "OIL, HOLY: For the lamps", "OIL; HOLY: Other"], dataset.Queries.Select(q => q.Text));
        Assert.Equal([1, 2, 3, 4], dataset.Relevant["LAMP.1"]);
        Assert.Equal([5, 6, 7], dataset.Relevant["LAMP.2"]);
        Assert.Equal([2, 4], dataset.Relevant["OIL-HOLY.1"]);
        Assert.Equal([0, 8], dataset.Relevant["OIL-HOLY-2.1"]);
        Assert.All(dataset.Queries, q => Assert.Equal(RetrievalDataset.SplitOf(q.Id), q.Split));
        Assert.Equal(new RetrievalDatasetReport(Subtopics: 6, VerseReferences: 12, ChapterReferences: 2, CrossReferences: 1,
            UnknownVerseReferences: 2, TooFewVerses: 1, TooManyVerses: 1), report);
    }

    [Fact]
    public void The_split_is_a_stable_hash_of_the_id_near_ten_ten_eighty()
    {
        var splits = Enumerable.Range(0, 20000).Select(i => RetrievalDataset.SplitOf($"TOPIC-{i}.{i % 7}")).ToArray();

        Assert.InRange(splits.Count(s => s == QuerySplit.Test) / 20000.0, 0.09, 0.11);
        Assert.InRange(splits.Count(s => s == QuerySplit.Dev) / 20000.0, 0.09, 0.11);
        // Pinned: FNV-1a 64 of the UTF-8 bytes, modulo 10 (changing the hash would reshuffle every split).
        Assert.Equal(QuerySplit.Train, RetrievalDataset.SplitOf("AARON.1"));
        Assert.Equal(QuerySplit.Test, RetrievalDataset.SplitOf("AARON.4"));
    }

    [Fact]
    public void Files_have_the_documented_layout_and_the_same_bytes_every_time()
    {
        var dataset = Build(out _);
        string first = Path.Combine(_directory, "a"), second = Path.Combine(_directory, "b");

        dataset.Save(first);
        Build(out _).Save(second);

        foreach (string name in new[] { RetrievalDataset.DocumentsFileName, RetrievalDataset.QueriesFileName, RetrievalDataset.QrelsFileName })
            Assert.Equal(File.ReadAllBytes(Path.Combine(first, name)), File.ReadAllBytes(Path.Combine(second, name)));
        string documents = File.ReadAllText(Path.Combine(first, RetrievalDataset.DocumentsFileName));
        Assert.StartsWith("{\"id\":\"Exod.27.21\",\"text\":\"Text of Exod.27.21 with \\\"quotes\\\" and ’.\"}\n{\"id\":\"Exod.30.7\"", documents);
        string queries = File.ReadAllText(Path.Combine(first, RetrievalDataset.QueriesFileName));
        Assert.StartsWith($"{{\"id\":\"LAMP.1\",\"text\":\"LAMP: Lit at evening\",\"split\":\"{RetrievalDataset.SplitOf("LAMP.1").ToString().ToLowerInvariant()}\"}}\n", queries);
        Assert.StartsWith("query-id\tcorpus-id\tscore\nLAMP.1\tExod.30.7\t1\nLAMP.1\tExod.30.8\t1\n", File.ReadAllText(Path.Combine(first, RetrievalDataset.QrelsFileName)));
        Assert.Empty(Directory.GetFiles(first, "*.tmp"));
    }

    [Fact]
    public void Load_gives_back_what_was_saved()
    {
        var dataset = Build(out _);
        dataset.Save(_directory);

        var loaded = RetrievalDataset.Load(_directory);

        Assert.Equal(dataset.Documents, loaded.Documents);
        Assert.Equal(dataset.Queries, loaded.Queries);
        Assert.Equal(dataset.Relevant.Keys.Order(), loaded.Relevant.Keys.Order());
        foreach (var (id, numbers) in dataset.Relevant)
            Assert.Equal(numbers, loaded.Relevant[id]);
        Assert.Equal(4, loaded.DocumentNumber("Lev.24.3"));
        Assert.Equal(-1, loaded.DocumentNumber("Lev.99.1"));
    }

    [Theory]
    [InlineData("documents.jsonl", "{\"id\":\"a\",\"text\":\"x\"}\n{\"id\":\"a\",\"text\":\"y\"}\n", "appears twice")]
    [InlineData("documents.jsonl", "{\"id\":\"a\",\"text\":\"x\"}\nnot json\n", "documents.jsonl line 2")]
    [InlineData("documents.jsonl", "{\"id\":\"a\"}\n", "\"text\"")]
    [InlineData("queries.jsonl", "{\"id\":\"q\",\"text\":\"x\",\"split\":\"validation\"}\n", "split")]
    [InlineData("qrels.tsv", "query-id\tcorpus-id\tscore\nq\tmissing\t1\n", "unknown document 'missing'")]
    [InlineData("qrels.tsv", "query-id\tcorpus-id\tscore\nnobody\ta\t1\n", "unknown query 'nobody'")]
    [InlineData("qrels.tsv", "query-id\tcorpus-id\tscore\nq\ta\tmany\n", "qrels.tsv line 2")]
    [InlineData("qrels.tsv", "q\ta\t1\n", "header")]
    [InlineData("qrels.tsv", "query-id\tcorpus-id\tscore\nq\ta\t1\nq\ta\t1\n", "judged twice")]
    public void Broken_files_are_refused_naming_the_file_and_line(string file, string contents, string message)
    {
        File.WriteAllText(Path.Combine(_directory, "documents.jsonl"), "{\"id\":\"a\",\"text\":\"x\"}\n");
        File.WriteAllText(Path.Combine(_directory, "queries.jsonl"), "{\"id\":\"q\",\"text\":\"x\",\"split\":\"test\"}\n");
        File.WriteAllText(Path.Combine(_directory, "qrels.tsv"), "query-id\tcorpus-id\tscore\nq\ta\t1\n");
        Assert.Equal([0], RetrievalDataset.Load(_directory).Relevant["q"]);

        File.WriteAllText(Path.Combine(_directory, file), contents);

        var error = Assert.Throws<InvalidDataException>(() => RetrievalDataset.Load(_directory));
        Assert.Contains(message, error.Message);
    }
}
