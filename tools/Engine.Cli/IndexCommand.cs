using System.Diagnostics;
using System.Globalization;
using Engine.Io.Retrieval;
using Engine.Sparse;

namespace Engine.Cli;

/// <summary>
/// engine index: a BM25 inverted index over the documents of a retrieval dataset.
///   engine index --data DIR --out DIR [--encoding float32|uint16|byte] [--k1 0.9] [--b 0.4] [--keep-stop-words]
/// Writes DIR/bm25.tsv (the vocabulary and statistics, <see cref="Bm25.Save"/>) and DIR/index.bin
/// (<see cref="InvertedIndex.Save"/>).
/// </summary>
internal static class IndexCommand
{
    public const string Usage = "index     a BM25 index of a dataset's documents: --data DIR --out DIR [--encoding float32|uint16|byte] [--k1 0.9] [--b 0.4] [--keep-stop-words]";

    /// <summary>Runs the command on the arguments after the verb; returns the process exit code.</summary>
    public static int Run(string[] args)
    {
        var options = Options.Parse(args, "--keep-stop-words");
        if (!options.Has("--data") || !options.Has("--out"))
            throw new ArgumentException("usage: engine " + Usage);
        var encoding = options.Get("--encoding", "float32") switch
        {
            "float32" => PostingEncoding.Float32,
            "uint16" => PostingEncoding.UInt16,
            "byte" => PostingEncoding.Byte,
            var other => throw new ArgumentException($"--encoding must be float32, uint16 or byte, not '{other}'."),
        };
        var bm25Options = new Bm25Options(options.GetFloat("--k1", 0.9f), options.GetFloat("--b", 0.4f), !options.Flag("--keep-stop-words"));

        var clock = Stopwatch.StartNew();
        var dataset = RetrievalDataset.Load(options.Get("--data", ""));
        var (model, documents) = Bm25.Build(dataset.Documents.Select(d => d.Text).ToArray(), bm25Options);
        var index = InvertedIndex.Build(documents, encoding);
        string output = options.Get("--out", "");
        Directory.CreateDirectory(output);
        model.Save(Path.Combine(output, Bm25Index.ModelFileName));
        index.Save(Path.Combine(output, Bm25Index.IndexFileName));

        var invariant = CultureInfo.InvariantCulture;
        Console.WriteLine(string.Create(invariant,
            $"BM25 (k1 {bm25Options.K1}, b {bm25Options.B}, stop words {(bm25Options.RemoveStopWords ? "removed" : "kept")}): {index.Documents:N0} documents, {index.Terms:N0} terms, {index.Postings:N0} postings ({index.Encoding}), {RetrievalMetrics.MeanNonZeros(documents):F1} terms per document, {clock.Elapsed.TotalSeconds:F1} s"));
        Console.WriteLine($"wrote {Path.Combine(output, Bm25Index.ModelFileName)} and {Path.Combine(output, Bm25Index.IndexFileName)}");
        return 0;
    }
}

/// <summary>A BM25 index directory as <see cref="IndexCommand"/> writes it, loaded with the dataset it indexes.</summary>
internal sealed record Bm25Index(Bm25 Model, InvertedIndex Index, RetrievalDataset Dataset)
{
    public const string ModelFileName = "bm25.tsv";
    public const string IndexFileName = "index.bin";

    /// <summary>Loads the model and index of <paramref name="indexDirectory"/> and the dataset of <paramref name="dataDirectory"/>, checking that they belong together.</summary>
    public static Bm25Index Load(string indexDirectory, string dataDirectory)
    {
        var model = Bm25.Load(Path.Combine(indexDirectory, ModelFileName));
        var index = InvertedIndex.Load(Path.Combine(indexDirectory, IndexFileName));
        var dataset = RetrievalDataset.Load(dataDirectory);
        if (index.Documents != dataset.Documents.Count || model.DocumentCount != index.Documents || index.Terms != model.Vocabulary.Count)
            throw new InvalidDataException(
                $"{indexDirectory} does not belong to {dataDirectory}: the index has {index.Documents} documents and {index.Terms} terms, the model {model.DocumentCount} and {model.Vocabulary.Count}, the dataset {dataset.Documents.Count} documents.");
        return new Bm25Index(model, index, dataset);
    }
}
