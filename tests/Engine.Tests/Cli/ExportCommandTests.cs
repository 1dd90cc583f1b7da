using System.Text.Json;
using Engine.Cli;
using Engine.Io.Retrieval;
using Engine.Sparse;

namespace Engine.Tests;

// engine export on a BM25 index of a small dataset: the bulk body alternates action and source
// lines, every document is there with its id and text, its term -> weight object equals the index's
// postings (terms with a dot and non-positive weights left out), and the query file holds the
// split's query vectors.
public sealed class ExportCommandTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("export-tests-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private string PathOf(string name) => Path.Combine(_directory, name);

    [Fact]
    public void Writes_a_bulk_body_with_every_document_and_the_query_vectors()
    {
        var documents = new[]
        {
            new RetrievalDocument("Gen.1.1", "In the beginning God created the heaven and the earth."),
            new RetrievalDocument("Gen.1.2", "And the earth was without form, and void; and darkness was upon the face of the deep."),
            new RetrievalDocument("John.11.35", "Jesus wept."),
        };
        var queries = new[] { new RetrievalQuery("q1", "the earth and heaven", QuerySplit.Test), new RetrievalQuery("q2", "weeping", QuerySplit.Dev) };
        var relevant = new Dictionary<string, int[]> { ["q1"] = [0, 1], ["q2"] = [2] };
        new RetrievalDataset(documents, queries, relevant).Save(PathOf("data"));
        Assert.Equal(0, IndexCommand.Run(["--data", PathOf("data"), "--out", PathOf("index")]));

        Assert.Equal(0, ExportCommand.Run(["--index", PathOf("index"), "--data", PathOf("data"), "--out", PathOf("bulk.jsonl"),
            "--index-name", "kjv", "--field", "terms", "--queries", PathOf("queries.jsonl"), "--split", "test"]));

        var lines = File.ReadAllLines(PathOf("bulk.jsonl"));
        Assert.Equal(2 * documents.Length, lines.Length);
        var bm25 = Bm25.Load(Path.Combine(PathOf("index"), "bm25.tsv"));
        var index = InvertedIndex.Load(Path.Combine(PathOf("index"), "index.bin")).ToDocuments();
        for (int d = 0; d < documents.Length; d++)
        {
            var action = JsonDocument.Parse(lines[2 * d]).RootElement.GetProperty("index");
            Assert.Equal("kjv", action.GetProperty("_index").GetString());
            Assert.Equal(documents[d].Id, action.GetProperty("_id").GetString());
            var source = JsonDocument.Parse(lines[2 * d + 1]).RootElement;
            Assert.Equal(documents[d].Text, source.GetProperty("text").GetString());
            var weights = source.GetProperty("terms").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetSingle());
            var row = index.Row(d);
            var expected = Enumerable.Range(0, row.NonZeros).ToDictionary(i => bm25.Vocabulary[row.Indices[i]], i => row.Values[i]);
            Assert.Equal(expected, weights);
        }

        var queryLines = File.ReadAllLines(PathOf("queries.jsonl"));
        var query = Assert.Single(queryLines.Select(l => JsonDocument.Parse(l).RootElement));
        Assert.Equal("q1", query.GetProperty("id").GetString());
        Assert.Equal(["earth", "heaven"], query.GetProperty("tokens").EnumerateObject().Select(p => p.Name).Order());
    }

    [Fact]
    public void Terms_with_a_dot_and_weights_not_above_zero_are_left_out()
    {
        var writer = new StringWriter();
        int dropped = ExportCommand.WriteWeights(writer, new SparseVector(new[] { 0, 1, 2, 3 }, new[] { 1.5f, 2f, -1f, 0.25f }), ["god", ".", "earth", "\"quote\""]);
        Assert.Equal(2, dropped);
        var parsed = JsonDocument.Parse(writer.ToString()).RootElement.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetSingle());
        Assert.Equal(new Dictionary<string, float> { ["god"] = 1.5f, ["\"quote\""] = 0.25f }, parsed);
    }
}
