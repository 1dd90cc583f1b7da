using System.Diagnostics;
using System.Globalization;
using Engine.Io.Retrieval;
using Engine.Models;

namespace Engine.Cli;

/// <summary>
/// engine splade-cache: computes once the encoder states below the tuned layers for every document
/// and query of a retrieval dataset and saves them (<see cref="SpladeStateCache.Save"/>), so every
/// training run and evaluation of a sweep starts from them. Saves every few thousand texts and
/// continues from an existing file.
/// </summary>
internal static class SpladeCacheCommand
{
    public const string Usage = "splade-cache  precompute frozen encoder states: --data DIR --out FILE [--tuned-layers 0] [--max-tokens 256]";

    private const int SaveEvery = 4096;

    public static int Run(string[] args)
    {
        var o = Options.Parse(args);
        if (!o.Has("--data") || !o.Has("--out"))
            throw new ArgumentException("usage: engine " + Usage);
        string path = o.Get("--out", "");
        var dataset = RetrievalDataset.Load(o.Get("--data", ""));
        using var device = DeviceOption.Create(o.Get("--device", "cpu"));
        using var model = SpladeEncoder.FromPretrained(device, SpladeTrainCommand.MiniLmAssembly(), o.GetInt("--max-tokens", 256));
        int first = model.Encoder.Config.Layers - o.GetInt("--tuned-layers", 0);
        var cache = File.Exists(path) ? SpladeStateCache.Load(path) : new SpladeStateCache(first);
        if (cache.FirstTunedLayer != first)
            throw new InvalidDataException($"{path} holds the states entering layer {cache.FirstTunedLayer}, not {first}.");
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);

        var texts = dataset.Documents.Select(d => d.Text).Concat(dataset.Queries.Select(q => q.Text)).ToArray();
        var sequences = texts.Select(model.Tokenize).ToArray();
        int already = cache.Count;
        var progress = new CountProgress("states ", sequences.Length);
        var clock = Stopwatch.StartNew();
        for (int start = 0; start < sequences.Length; start += SaveEvery)
        {
            int before = cache.Count;
            cache.Get(model, sequences.AsSpan(start, Math.Min(SaveEvery, sequences.Length - start)).ToArray());
            progress.Update(start + Math.Min(SaveEvery, sequences.Length - start));
            if (cache.Count > before) cache.Save(path);
        }
        progress.Finish();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{cache.Count:N0} texts ({cache.Count - already:N0} new, {sequences.Sum(s => (long)s.Length):N0} tokens) entering layer {first}: {cache.Bytes / 1e9:F2} GB in {path}, {clock.Elapsed.TotalSeconds:F0} s"));
        return 0;
    }
}
