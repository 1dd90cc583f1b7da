using System.Diagnostics;
using System.Globalization;
using Engine.Io.Retrieval;
using Engine.Models;
using Engine.Sparse;

namespace Engine.Cli;

/// <summary>
/// engine index: an inverted index over the documents of a retrieval dataset, of BM25 weights or
/// of a trained SPLADE encoder's vectors.
///   engine index --data DIR --out DIR [--encoding float32|uint16|byte] [--k1 0.9] [--b 0.4] [--keep-stop-words]
///   engine index --data DIR --out DIR --model SPLADE.safetensors [--cache STATES] [--encoding ...]
/// Writes DIR/index.bin and DIR/bm25.tsv or DIR/splade.safetensors (a copy of the model), which
/// <see cref="IndexDirectory"/> reads back.
/// </summary>
internal static class IndexCommand
{
    public const string Usage = "index     an inverted index of a dataset's documents: --data DIR --out DIR [--model SPLADE.safetensors [--cache STATES]] [--encoding float32|uint16|byte] [--k1 0.9] [--b 0.4] [--keep-stop-words]";

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
        var dataset = RetrievalDataset.Load(options.Get("--data", ""));
        var texts = dataset.Documents.Select(d => d.Text).ToArray();
        string output = options.Get("--out", "");
        Directory.CreateDirectory(output);
        var invariant = CultureInfo.InvariantCulture;
        var clock = Stopwatch.StartNew();
        SparseMatrix documents;
        string description;
        if (options.Has("--model"))
        {
            string modelPath = options.Get("--model", "");
            using var device = DeviceOption.Create(options.Get("--device", "cpu"));
            using var model = SpladeEncoder.Load(device, modelPath);
            var progress = new CountProgress("encode ", texts.Length);
            documents = options.Has("--cache")
                ? model.Encode(texts, SpladeStateCache.Load(options.Get("--cache", "")), batchSize: 64, progress: new CountReport(progress))
                : model.Encode(texts, batchSize: 64, progress: new CountReport(progress));
            progress.Finish();
            File.Copy(modelPath, Path.Combine(output, IndexDirectory.SpladeFileName), overwrite: true);
            description = string.Create(invariant, $"SPLADE ({Path.GetFileName(modelPath)}), encoded at {texts.Length / clock.Elapsed.TotalSeconds:F0} documents/s");
        }
        else
        {
            var bm25Options = new Bm25Options(options.GetFloat("--k1", 0.9f), options.GetFloat("--b", 0.4f), !options.Flag("--keep-stop-words"));
            (var model, documents) = Bm25.Build(texts, bm25Options);
            model.Save(Path.Combine(output, IndexDirectory.Bm25FileName));
            description = string.Create(invariant, $"BM25 (k1 {bm25Options.K1}, b {bm25Options.B}, stop words {(bm25Options.RemoveStopWords ? "removed" : "kept")})");
        }
        var indexClock = Stopwatch.StartNew();
        var index = InvertedIndex.Build(documents, encoding);
        double buildSeconds = indexClock.Elapsed.TotalSeconds;
        index.Save(Path.Combine(output, IndexDirectory.IndexFileName));
        Console.WriteLine(string.Create(invariant,
            $"{description}: {index.Documents:N0} documents, {index.Terms:N0} terms, {index.Postings:N0} postings ({index.Encoding}), {RetrievalMetrics.MeanNonZeros(documents):F1} terms per document; index built in {buildSeconds:F2} s ({index.Documents / buildSeconds:F0} documents/s); {clock.Elapsed.TotalSeconds:F1} s in all"));
        Console.WriteLine($"wrote {output}");
        return 0;
    }
}

/// <summary>Forwards a count of finished items to a progress line, on the reporting thread (unlike <see cref="Progress{T}"/>).</summary>
internal sealed class CountReport(CountProgress line) : IProgress<int>
{
    public void Report(int value) => line.Update(value);
}
