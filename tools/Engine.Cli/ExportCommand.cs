using System.Globalization;
using System.Text;
using System.Text.Json;
using Engine.Io.Retrieval;
using Engine.Sparse;

namespace Engine.Cli;

/// <summary>
/// engine export: an index's document vectors as a bulk-indexing body (JSON lines) for OpenSearch
/// (neural sparse search on a <c>rank_features</c> field) or Elasticsearch (a <c>sparse_vector</c>
/// field), whose documents carry a term -> weight object:
/// <code>
///   {"index":{"_index":"bible","_id":"Gen.1.1"}}
///   {"text":"In the beginning God created ...","embedding":{"beginning":1.31,"god":0.92,...}}
/// </code>
/// With --queries, also the split's query vectors, one JSON object per line ({"id", "text",
/// "tokens"}), ready for OpenSearch's neural_sparse query_tokens or Elasticsearch's sparse_vector
/// query_vector. Both engines refuse feature names containing a dot (they read them as object
/// paths) and non-positive weights, so such entries are left out and counted.
/// </summary>
internal static class ExportCommand
{
    public const string Usage = "export    vectors for OpenSearch/Elasticsearch bulk indexing: --index DIR --data DIR --out FILE [--index-name bible] [--field embedding] [--queries FILE --split test]";

    public static int Run(string[] args)
    {
        var o = Options.Parse(args);
        if (!o.Has("--index") || !o.Has("--data") || !o.Has("--out"))
            throw new ArgumentException("usage: engine " + Usage);
        string indexName = o.Get("--index-name", "bible"), field = o.Get("--field", "embedding");
        using var directory = IndexDirectory.Open(o.Get("--index", ""), o.Get("--data", ""), () => DeviceOption.Create(o.Get("--device", "cpu")));
        var terms = directory.Terms;
        var documents = directory.Index.ToDocuments();
        long dropped = 0;
        Io.AtomicFile.Write(o.Get("--out", ""), stream =>
        {
            using var writer = new StreamWriter(stream, new UTF8Encoding(false), leaveOpen: true);
            for (int d = 0; d < documents.Rows; d++)
            {
                var document = directory.Dataset.Documents[d];
                writer.Write("{\"index\":{\"_index\":");
                writer.Write(JsonSerializer.Serialize(indexName));
                writer.Write(",\"_id\":");
                writer.Write(JsonSerializer.Serialize(document.Id));
                writer.Write("}}\n{\"text\":");
                writer.Write(JsonSerializer.Serialize(document.Text));
                writer.Write(',');
                writer.Write(JsonSerializer.Serialize(field));
                writer.Write(':');
                dropped += WriteWeights(writer, documents.Row(d), terms);
                writer.Write("}\n");
            }
        });
        Console.WriteLine($"{documents.Rows:N0} documents ({directory.Method}, {documents.NonZeros:N0} weights) -> {o.Get("--out", "")}; {dropped:N0} entries left out (a dot in the term, or a weight not above 0)");

        if (o.Has("--queries"))
        {
            var split = RetrievalDataset.ParseSplit(o.Get("--split", "test"));
            var queries = directory.Dataset.QueriesOf(split);
            var vectors = directory.EncodeQueries(queries.Select(q => q.Text).ToArray());
            long queryDropped = 0;
            Io.AtomicFile.Write(o.Get("--queries", ""), stream =>
            {
                using var writer = new StreamWriter(stream, new UTF8Encoding(false), leaveOpen: true);
                for (int q = 0; q < queries.Count; q++)
                {
                    writer.Write("{\"id\":");
                    writer.Write(JsonSerializer.Serialize(queries[q].Id));
                    writer.Write(",\"text\":");
                    writer.Write(JsonSerializer.Serialize(queries[q].Text));
                    writer.Write(",\"tokens\":");
                    queryDropped += WriteWeights(writer, vectors.Row(q), terms);
                    writer.Write("}\n");
                }
            });
            Console.WriteLine($"{queries.Count:N0} {split.ToString().ToLowerInvariant()} queries -> {o.Get("--queries", "")}; {queryDropped:N0} entries left out");
        }
        return 0;
    }

    /// <summary>Writes {"term":weight,...} for the vector's entries the engines accept; returns how many were left out.</summary>
    internal static int WriteWeights(TextWriter writer, SparseVector vector, IReadOnlyList<string> terms)
    {
        int dropped = 0;
        bool first = true;
        writer.Write('{');
        for (int i = 0; i < vector.NonZeros; i++)
        {
            string term = terms[vector.Indices[i]];
            float weight = vector.Values[i];
            if (term.Contains('.') || !(weight > 0))
            {
                dropped++;
                continue;
            }
            if (!first) writer.Write(',');
            first = false;
            writer.Write(JsonSerializer.Serialize(term));
            writer.Write(':');
            writer.Write(weight.ToString("R", CultureInfo.InvariantCulture));
        }
        writer.Write('}');
        return dropped;
    }
}
