using System.Globalization;
using Engine.Sparse;

namespace Engine.Cli;

/// <summary>
/// engine search: the best documents for a query, from a BM25 index.
///   engine search --index DIR --data DIR --query TEXT [--top 10]
/// </summary>
internal static class SearchCommand
{
    public const string Usage = "search    the best documents for a query: --index DIR --data DIR --query TEXT [--top 10]";

    /// <summary>Runs the command on the arguments after the verb; returns the process exit code.</summary>
    public static int Run(string[] args)
    {
        var options = Options.Parse(args);
        if (!options.Has("--index") || !options.Has("--data") || !options.Has("--query"))
            throw new ArgumentException("usage: engine " + Usage);
        int top = options.GetInt("--top", 10);
        var loaded = Bm25Index.Load(options.Get("--index", ""), options.Get("--data", ""));
        var query = loaded.Model.EncodeQuery(options.Get("--query", ""));
        if (query.NonZeros == 0)
        {
            Console.WriteLine("no query term is in the index's vocabulary.");
            return 0;
        }
        var hits = loaded.Index.Search(query, top);
        for (int i = 0; i < hits.Length; i++)
        {
            var document = loaded.Dataset.Documents[hits[i].Document];
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{i + 1,3}. {hits[i].Score,7:F3}  {document.Id,-14} {document.Text}"));
        }
        return 0;
    }
}
