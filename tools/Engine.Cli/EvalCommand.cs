using Engine.Io.Retrieval;

namespace Engine.Cli;

/// <summary>
/// engine eval: the effectiveness and cost of an index (BM25 or SPLADE) on one split of its dataset.
///   engine eval --index DIR --data DIR [--split test|dev|train] [--json FILE]
/// Prints what <see cref="SparseEvaluation"/> measures.
/// </summary>
internal static class EvalCommand
{
    public const string Usage = "eval      metrics and latency of an index on a split: --index DIR --data DIR [--split test|dev|train] [--json FILE] [--device cpu]";

    /// <summary>Runs the command on the arguments after the verb; returns the process exit code.</summary>
    public static int Run(string[] args)
    {
        var options = Options.Parse(args);
        if (!options.Has("--index") || !options.Has("--data"))
            throw new ArgumentException("usage: engine " + Usage);
        var split = RetrievalDataset.ParseSplit(options.Get("--split", "test"));
        using var directory = IndexDirectory.Open(options.Get("--index", ""), options.Get("--data", ""), () => DeviceOption.Create(options.Get("--device", "cpu")));
        var result = SparseEvaluation.Run(directory.Method, directory.Index, directory.Dataset, split, directory.EncodeQueries, directory.EncodeQuery);
        result.Print(Console.Out);
        if (options.Has("--json"))
            File.WriteAllText(options.Get("--json", ""), result.ToJson());
        return 0;
    }
}
