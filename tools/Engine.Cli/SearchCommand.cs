using System.Globalization;

namespace Engine.Cli;

/// <summary>
/// engine search: the best documents for a query, from a BM25 or SPLADE index.
///   engine search --index DIR --data DIR --query TEXT [--top 10]
/// </summary>
internal static class SearchCommand
{
    public const string Usage = "search    the best documents for a query: --index DIR --data DIR --query TEXT [--top 10] [--device cpu]";

    /// <summary>Runs the command on the arguments after the verb; returns the process exit code.</summary>
    public static int Run(string[] args)
    {
        var options = Options.Parse(args);
        if (!options.Has("--index") || !options.Has("--data") || !options.Has("--query"))
            throw new ArgumentException("usage: engine " + Usage);
        int top = options.GetInt("--top", 10);
        using var directory = IndexDirectory.Open(options.Get("--index", ""), options.Get("--data", ""), () => DeviceOption.Create(options.Get("--device", "cpu")));
        var query = directory.EncodeQuery(options.Get("--query", ""));
        if (query.NonZeros == 0)
        {
            Console.WriteLine("the query has no term in the index's vocabulary.");
            return 0;
        }
        var weights = Enumerable.Range(0, query.NonZeros).OrderByDescending(i => query.Values[i]).Take(12)
            .Select(i => string.Create(CultureInfo.InvariantCulture, $"{directory.Terms[query.Indices[i]]} {query.Values[i]:F2}"));
        Console.WriteLine($"query ({directory.Method}, {query.NonZeros} terms): {string.Join(", ", weights)}{(query.NonZeros > 12 ? ", ..." : "")}");
        var hits = directory.Index.Search(query, top);
        for (int i = 0; i < hits.Length; i++)
        {
            var document = directory.Dataset.Documents[hits[i].Document];
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{i + 1,3}. {hits[i].Score,7:F3}  {document.Id,-14} {document.Text}"));
        }
        return 0;
    }
}
