using System.Globalization;
using System.Text;
using Engine.Io.Retrieval;

namespace Engine.Cli;

/// <summary>
/// engine prepare-retrieval: a retrieval dataset from the King James Bible and Nave's Topical Bible.
///   engine prepare-retrieval --kjv FILE --naves FILE --out DIR [--min-relevant N] [--max-relevant N]
/// FILEs are the mod2imp dumps of SWORD's KJV (engKJV2006eb) and Nave modules (./build.sh
/// retrieval makes them). Writes DIR/documents.jsonl (verses), DIR/queries.jsonl (subtopics, split
/// train/dev/test by a hash of their id) and DIR/qrels.tsv; see <see cref="RetrievalDataset"/>.
/// </summary>
internal static class PrepareRetrievalCommand
{
    public const string Usage = "prepare-retrieval  verses and Nave's subtopics to a retrieval dataset: --kjv FILE --naves FILE --out DIR [--min-relevant 3] [--max-relevant 100]";

    /// <summary>Runs the command on the arguments after the verb; returns the process exit code.</summary>
    public static int Run(string[] args)
    {
        var options = Options.Parse(args);
        if (!options.Has("--kjv") || !options.Has("--naves") || !options.Has("--out"))
            throw new ArgumentException("usage: engine " + Usage);
        int minimum = options.GetInt("--min-relevant", RetrievalDataset.DefaultMinimumRelevant);
        int maximum = options.GetInt("--max-relevant", RetrievalDataset.DefaultMaximumRelevant);
        if (maximum < minimum)
            throw new ArgumentException($"--max-relevant ({maximum}) is below --min-relevant ({minimum}).");

        var verses = ReadDump(options.Get("--kjv", ""), SwordBible.ReadVerses);
        var subtopics = ReadDump(options.Get("--naves", ""), NaveTopics.Read);
        if (verses.Count == 0 || subtopics.Count == 0)
            throw new InvalidDataException($"found {verses.Count} verses and {subtopics.Count} subtopics: are --kjv and --naves the right dumps?");

        var dataset = RetrievalDataset.FromBible(verses, subtopics, out var report, minimum, maximum);
        string output = options.Get("--out", "");
        dataset.Save(output);

        var invariant = CultureInfo.InvariantCulture;
        Console.WriteLine(string.Create(invariant, $"documents: {dataset.Documents.Count:N0} verses"));
        Console.WriteLine(string.Create(invariant,
            $"subtopics: {report.Subtopics:N0} read; {report.VerseReferences:N0} verse references, {report.ChapterReferences:N0} whole-chapter and {report.CrossReferences:N0} 'See' cross-references dropped, {report.UnknownVerseReferences:N0} naming verses the KJV lacks dropped"));
        Console.WriteLine(string.Create(invariant,
            $"queries: {dataset.Queries.Count:N0} with {minimum}-{maximum} relevant verses ({report.TooFewVerses:N0} subtopics with fewer, {report.TooManyVerses:N0} with more dropped)"));
        foreach (var split in new[] { QuerySplit.Train, QuerySplit.Dev, QuerySplit.Test })
        {
            var queries = dataset.QueriesOf(split);
            long judgments = queries.Sum(q => (long)dataset.Relevant[q.Id].Length);
            Console.WriteLine(string.Create(invariant, $"  {split.ToString().ToLowerInvariant(),-5} {queries.Count,6:N0} queries, {judgments,7:N0} judgments"));
        }
        Console.WriteLine($"wrote {Path.Combine(output, RetrievalDataset.DocumentsFileName)}, {RetrievalDataset.QueriesFileName}, {RetrievalDataset.QrelsFileName}");
        return 0;
    }

    /// <summary>Parses one dump, naming the file in any format error.</summary>
    private static T ReadDump<T>(string path, Func<TextReader, T> parse)
    {
        using var reader = new StreamReader(path, Encoding.UTF8);
        try
        {
            return parse(reader);
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"{path}: {e.Message}", e);
        }
    }
}
