using System.Text.Json;
using Engine.Cli;
using Engine.Io;
using Engine.Io.Retrieval;

namespace Engine.Tests;

// engine dense-eval end to end on a six-document dataset with MiniLM: the figures and the JSON
// report, the document cache written, reused, and refused when it is unreadable or holds
// vectors another model (here: random numbers) made.
public sealed class DenseEvalCommandTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("dense-eval-tests-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private string PathOf(string name) => Path.Combine(_directory, name);

    private static readonly string[] Texts =
    [
        "The lion roared and hunted gazelles across the savanna.",
        "Fresh bread is baked in a hot oven every morning.",
        "The ship sailed across the stormy sea to a distant harbour.",
        "Gold and silver coins were counted in the royal treasury.",
        "The shepherd led his flock of sheep to green pastures.",
        "Heavy rain flooded the valley and the rivers overflowed.",
    ];

    private (string Output, JsonElement Report) Run(string data, string cache, string json)
    {
        var output = new StringWriter();
        int code = DenseEvalCommand.Run(["--data", data, "--cache", cache, "--json", json, "--batch", "4"], output);
        Assert.Equal(0, code);
        return (output.ToString(), JsonDocument.Parse(File.ReadAllText(json)).RootElement.Clone());
    }

    [Fact]
    public void Evaluates_a_split_and_writes_reuses_and_refuses_the_document_cache()
    {
        var documents = Texts.Select((text, i) => new RetrievalDocument($"d{i}", text)).ToArray();
        var queries = new[]
        {
            new RetrievalQuery("bread", "baking bread", QuerySplit.Test),
            new RetrievalQuery("sheep", "a shepherd and his sheep", QuerySplit.Test),
            new RetrievalQuery("flood", "flood waters", QuerySplit.Test),
            new RetrievalQuery("money", "treasure of gold", QuerySplit.Dev),
        };
        var relevant = new Dictionary<string, int[]> { ["bread"] = [1], ["sheep"] = [4], ["flood"] = [5], ["money"] = [3] };
        string data = PathOf("data"), cache = PathOf("cache/docs.npy"), json = PathOf("test.json");
        new RetrievalDataset(documents, queries, relevant).Save(data);
        Directory.CreateDirectory(PathOf("cache"));
        File.WriteAllText(cache, "not a matrix");

        var (first, report) = Run(data, cache, json);

        Assert.Contains("not reusing", first);
        Assert.Contains("MRR@10      1.0000", first);
        Assert.Contains("Recall@100  1.0000", first);
        Assert.Contains("µs with query encoding", first);
        Assert.Equal("dense-minilm", report.GetProperty("method").GetString());
        Assert.Equal("test", report.GetProperty("split").GetString());
        Assert.Equal(3, report.GetProperty("queries").GetInt32());
        Assert.Equal(1.0, report.GetProperty("mrr10").GetDouble());
        Assert.Equal(1.0, report.GetProperty("ndcg10").GetDouble());
        Assert.Equal(1.0, report.GetProperty("recall100").GetDouble());
        Assert.True(report.GetProperty("latencyUs").GetDouble() > 0);
        Assert.True(report.GetProperty("latencyWithEncodingUs").GetDouble() > report.GetProperty("latencyUs").GetDouble());
        Assert.True(report.GetProperty("documentsPerSecond").GetDouble() > 0);
        var (values, rows, columns) = NpyMatrix.Read(cache);
        Assert.Equal((6, 384), (rows, columns));

        var (second, reused) = Run(data, cache, json);

        Assert.Contains("reusing", second);
        Assert.DoesNotContain("not reusing", second);
        Assert.Equal(JsonValueKind.Null, reused.GetProperty("documentsPerSecond").ValueKind);
        Assert.Equal(1.0, reused.GetProperty("mrr10").GetDouble());

        var random = new Random(2);
        NpyMatrix.Write(cache, values.Select(_ => (float)random.NextDouble()).ToArray(), rows, columns);

        var (third, _) = Run(data, cache, json);

        Assert.Contains("not reusing", third);
        Assert.Contains("differs from a fresh embedding", third);
        Assert.Equal(values, NpyMatrix.Read(cache).Values);
    }
}
