using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Engine.Io.Retrieval;

/// <summary>Which part of a retrieval dataset a query belongs to.</summary>
public enum QuerySplit
{
    /// <summary>Training queries (80%).</summary>
    Train,
    /// <summary>Development queries for tuning (10%).</summary>
    Dev,
    /// <summary>Held-out test queries (10%).</summary>
    Test,
}

/// <summary>A document: its id and its text.</summary>
/// <param name="Id">A unique id (for the Bible: the OSIS verse id).</param>
/// <param name="Text">The text to index.</param>
public sealed record RetrievalDocument(string Id, string Text);

/// <summary>A query: its id, its text and its split.</summary>
/// <param name="Id">A unique id without white space.</param>
/// <param name="Text">The text to search with.</param>
/// <param name="Split">The part of the dataset the query belongs to.</param>
public sealed record RetrievalQuery(string Id, string Text, QuerySplit Split);

/// <summary>What building a dataset from the Bible kept and dropped, for the record.</summary>
/// <param name="Subtopics">Nave's subtopics read.</param>
/// <param name="VerseReferences">Verse references (single verses and ranges) found in them.</param>
/// <param name="ChapterReferences">Whole-chapter references dropped.</param>
/// <param name="CrossReferences">"See TOPIC" cross-references dropped.</param>
/// <param name="UnknownVerseReferences">References dropped because a verse they name is not in the Bible text.</param>
/// <param name="TooFewVerses">Subtopics dropped for citing fewer verses than the minimum (including none).</param>
/// <param name="TooManyVerses">Subtopics dropped for citing more verses than the maximum.</param>
public sealed record RetrievalDatasetReport(int Subtopics, int VerseReferences, int ChapterReferences, int CrossReferences,
    int UnknownVerseReferences, int TooFewVerses, int TooManyVerses);

/// <summary>
/// Documents, queries in three splits and binary relevance judgments (qrels): the shape of a BEIR
/// dataset. <see cref="FromBible"/> builds one from King James verses and Nave's Topical Bible;
/// <see cref="Save"/> and <see cref="Load"/> keep one in a directory as <see cref="DocumentsFileName"/>,
/// <see cref="QueriesFileName"/> and <see cref="QrelsFileName"/>.
/// </summary>
public sealed class RetrievalDataset
{
    /// <summary>One JSON object per line: <c>{"id": ..., "text": ...}</c>, in document order.</summary>
    public const string DocumentsFileName = "documents.jsonl";

    /// <summary>One JSON object per line: <c>{"id": ..., "text": ..., "split": "train"|"dev"|"test"}</c>.</summary>
    public const string QueriesFileName = "queries.jsonl";

    /// <summary>Tab-separated: a header <c>query-id corpus-id score</c>, then one relevant (query, document) pair per line with score 1.</summary>
    public const string QrelsFileName = "qrels.tsv";

    /// <summary>The smallest number of relevant verses a query keeps by default.</summary>
    public const int DefaultMinimumRelevant = 3;

    /// <summary>The largest number of relevant verses a query keeps by default.</summary>
    public const int DefaultMaximumRelevant = 100;

    private const string QrelsHeader = "query-id\tcorpus-id\tscore";

    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, Indented = false };

    private readonly Dictionary<string, int> _documentIndex;

    /// <summary>The documents, in order; a document's position is its number in an index.</summary>
    public IReadOnlyList<RetrievalDocument> Documents { get; }

    /// <summary>The queries of every split.</summary>
    public IReadOnlyList<RetrievalQuery> Queries { get; }

    /// <summary>For each query id with judgments: the numbers (positions in <see cref="Documents"/>) of its relevant documents, ascending.</summary>
    public IReadOnlyDictionary<string, int[]> Relevant { get; }

    /// <summary>Checks and keeps the parts of a dataset.</summary>
    /// <exception cref="ArgumentException">An id repeats or is empty, a query id holds white space, or a judgment names an unknown query or document number.</exception>
    public RetrievalDataset(IReadOnlyList<RetrievalDocument> documents, IReadOnlyList<RetrievalQuery> queries, IReadOnlyDictionary<string, int[]> relevant)
    {
        _documentIndex = new Dictionary<string, int>(documents.Count, StringComparer.Ordinal);
        for (int i = 0; i < documents.Count; i++)
        {
            if (string.IsNullOrEmpty(documents[i].Id) || documents[i].Id.Any(char.IsWhiteSpace))
                throw new ArgumentException($"RetrievalDataset: document {i} has an empty id or one with white space ('{documents[i].Id}').");
            if (!_documentIndex.TryAdd(documents[i].Id, i))
                throw new ArgumentException($"RetrievalDataset: document id '{documents[i].Id}' appears twice.");
        }
        var queryIds = new HashSet<string>(StringComparer.Ordinal);
        foreach (var query in queries)
        {
            if (string.IsNullOrEmpty(query.Id) || query.Id.Any(char.IsWhiteSpace))
                throw new ArgumentException($"RetrievalDataset: query id '{query.Id}' is empty or holds white space.");
            if (!queryIds.Add(query.Id))
                throw new ArgumentException($"RetrievalDataset: query id '{query.Id}' appears twice.");
        }
        foreach (var (queryId, numbers) in relevant)
        {
            if (!queryIds.Contains(queryId))
                throw new ArgumentException($"RetrievalDataset: judgments for unknown query '{queryId}'.");
            for (int i = 0; i < numbers.Length; i++)
                if (numbers[i] < 0 || numbers[i] >= documents.Count || (i > 0 && numbers[i] <= numbers[i - 1]))
                    throw new ArgumentException($"RetrievalDataset: the relevant documents of '{queryId}' are not distinct ascending document numbers below {documents.Count}.");
        }
        Documents = documents;
        Queries = queries;
        Relevant = relevant;
    }

    /// <summary>The number of the document with id <paramref name="id"/>, or -1.</summary>
    public int DocumentNumber(string id) => _documentIndex.GetValueOrDefault(id, -1);

    /// <summary>The queries of one split, in dataset order.</summary>
    public IReadOnlyList<RetrievalQuery> QueriesOf(QuerySplit split) => Queries.Where(q => q.Split == split).ToArray();

    /// <summary>
    /// The split of a query id: the 64-bit FNV-1a hash of its UTF-8 bytes modulo 10 is 0 for
    /// <see cref="QuerySplit.Test"/>, 1 for <see cref="QuerySplit.Dev"/> and anything else for
    /// <see cref="QuerySplit.Train"/>. It depends on the id alone, so a query keeps its split when
    /// others are added or removed.
    /// </summary>
    public static QuerySplit SplitOf(string queryId)
    {
        ulong hash = Fnv1a.Offset;
        foreach (byte b in Encoding.UTF8.GetBytes(queryId))
            hash = Fnv1a.Add(hash, b);
        return (hash % 10) switch { 0 => QuerySplit.Test, 1 => QuerySplit.Dev, _ => QuerySplit.Train };
    }

    /// <summary>
    /// Verses as documents, Nave's subtopics as queries. A query's id is its topic as a slug
    /// (letters and digits upper-cased, other runs of characters one '-') and its ordinal,
    /// <c>JESUS-THE-CHRIST.12</c>; its text is <c>TOPIC: heading</c> (the topic alone when the
    /// heading is empty); its relevant documents are the verses its references name, ranges
    /// expanded through the verse order. Queries citing fewer than <paramref name="minimumRelevant"/>
    /// or more than <paramref name="maximumRelevant"/> distinct verses are dropped. The same inputs
    /// always give the same dataset.
    /// </summary>
    public static RetrievalDataset FromBible(IReadOnlyList<BibleVerse> verses, IReadOnlyList<NaveSubtopic> subtopics,
        out RetrievalDatasetReport report, int minimumRelevant = DefaultMinimumRelevant, int maximumRelevant = DefaultMaximumRelevant)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(minimumRelevant);
        ArgumentOutOfRangeException.ThrowIfLessThan(maximumRelevant, minimumRelevant);
        var documents = verses.Select(v => new RetrievalDocument(v.Id, v.Text)).ToArray();
        var position = new Dictionary<string, int>(documents.Length, StringComparer.Ordinal);
        for (int i = 0; i < documents.Length; i++)
            position.Add(documents[i].Id, i);

        var queries = new List<RetrievalQuery>();
        var relevant = new Dictionary<string, int[]>(StringComparer.Ordinal);
        var slugs = new Dictionary<string, string>(StringComparer.Ordinal);
        var topicSlugs = new Dictionary<string, string>(StringComparer.Ordinal);
        int references = 0, chapters = 0, crossReferences = 0, unknown = 0, tooFew = 0, tooMany = 0;
        foreach (var subtopic in subtopics)
        {
            references += subtopic.References.Count;
            chapters += subtopic.ChapterReferences;
            crossReferences += subtopic.CrossReferences;
            var cited = new SortedSet<int>();
            foreach (var range in subtopic.References)
            {
                if (!position.TryGetValue(range.StartId, out int first) || !position.TryGetValue(range.EndId, out int last) || last < first)
                {
                    unknown++;
                    continue;
                }
                for (int i = first; i <= last; i++)
                    cited.Add(i);
            }
            if (cited.Count < minimumRelevant)
            {
                tooFew++;
                continue;
            }
            if (cited.Count > maximumRelevant)
            {
                tooMany++;
                continue;
            }
            string id = $"{TopicSlug(subtopic.Topic, slugs, topicSlugs)}.{subtopic.Ordinal.ToString(CultureInfo.InvariantCulture)}";
            string text = subtopic.Heading.Length == 0 ? subtopic.Topic : $"{subtopic.Topic}: {subtopic.Heading}";
            queries.Add(new RetrievalQuery(id, text, SplitOf(id)));
            relevant.Add(id, cited.ToArray());
        }
        report = new RetrievalDatasetReport(subtopics.Count, references, chapters, crossReferences, unknown, tooFew, tooMany);
        return new RetrievalDataset(documents, queries, relevant);
    }

    /// <summary>The topic's slug, made unique with a "-2", "-3" ... suffix when two topics would share one.</summary>
    private static string TopicSlug(string topic, Dictionary<string, string> slugOwners, Dictionary<string, string> topicSlugs)
    {
        if (topicSlugs.TryGetValue(topic, out var known))
            return known;
        var slug = new StringBuilder();
        foreach (char c in topic.ToUpperInvariant())
        {
            if (char.IsAsciiLetterOrDigit(c))
                slug.Append(c);
            else if (slug.Length > 0 && slug[^1] != '-')
                slug.Append('-');
        }
        string baseSlug = slug.ToString().TrimEnd('-');
        if (baseSlug.Length == 0)
            baseSlug = "TOPIC";
        string unique = baseSlug;
        for (int n = 2; slugOwners.ContainsKey(unique); n++)
            unique = $"{baseSlug}-{n.ToString(CultureInfo.InvariantCulture)}";
        slugOwners.Add(unique, topic);
        topicSlugs.Add(topic, unique);
        return unique;
    }

    /// <summary>Writes the three files into <paramref name="directory"/> (created if absent), each atomically, with '\n' line ends and UTF-8 without a byte-order mark.</summary>
    public void Save(string directory)
    {
        Directory.CreateDirectory(directory);
        AtomicFile.Write(Path.Combine(directory, DocumentsFileName), stream => WriteLines(stream, Documents, (json, d) =>
        {
            json.WriteString("id", d.Id);
            json.WriteString("text", d.Text);
        }));
        AtomicFile.Write(Path.Combine(directory, QueriesFileName), stream => WriteLines(stream, Queries, (json, q) =>
        {
            json.WriteString("id", q.Id);
            json.WriteString("text", q.Text);
            json.WriteString("split", SplitName(q.Split));
        }));
        AtomicFile.Write(Path.Combine(directory, QrelsFileName), stream =>
        {
            using var writer = new StreamWriter(stream, new UTF8Encoding(false), 1 << 16, leaveOpen: true) { NewLine = "\n" };
            writer.WriteLine(QrelsHeader);
            foreach (var query in Queries)
                if (Relevant.TryGetValue(query.Id, out var numbers))
                    foreach (int number in numbers)
                        writer.WriteLine($"{query.Id}\t{Documents[number].Id}\t1");
        });
    }

    private static void WriteLines<T>(Stream stream, IEnumerable<T> items, Action<Utf8JsonWriter, T> write)
    {
        using var json = new Utf8JsonWriter(stream, WriterOptions);
        foreach (var item in items)
        {
            json.WriteStartObject();
            write(json, item);
            json.WriteEndObject();
            json.Flush();
            stream.WriteByte((byte)'\n');
            json.Reset();
        }
    }

    private static string SplitName(QuerySplit split) => split switch
    {
        QuerySplit.Train => "train",
        QuerySplit.Dev => "dev",
        _ => "test",
    };

    /// <summary>Parses a split name: train, dev or test.</summary>
    /// <exception cref="ArgumentException">Any other name.</exception>
    public static QuerySplit ParseSplit(string name) =>
        SplitFromName(name) ?? throw new ArgumentException($"unknown split '{name}' (train, dev or test).");

    private static QuerySplit? SplitFromName(string name) => name switch
    {
        "train" => QuerySplit.Train,
        "dev" => QuerySplit.Dev,
        "test" => QuerySplit.Test,
        _ => null,
    };

    // The layout of the three files is given at DocumentsFileName, QueriesFileName and QrelsFileName:
    // JSON lines with string fields "id" and "text" (and "split" for queries; other fields are
    // ignored), and a tab-separated qrels file whose header is "query-id\tcorpus-id\tscore" and
    // whose rows name a known query, a known document and an integer score (> 0 is relevant,
    // 0 is a judged non-relevant pair and is skipped). Blank lines are not allowed.
    /// <summary>Reads a dataset written by <see cref="Save"/> (or any BEIR-shaped dataset in these three files).</summary>
    /// <exception cref="InvalidDataException">A file is malformed, an id repeats, or a judgment names an unknown query or document; the message names the file and line.</exception>
    /// <exception cref="FileNotFoundException">A file is missing.</exception>
    public static RetrievalDataset Load(string directory)
    {
        var documents = ReadLines(Path.Combine(directory, DocumentsFileName), (json, _) =>
            new RetrievalDocument(RequiredString(json, "id"), RequiredString(json, "text")));
        var queries = ReadLines(Path.Combine(directory, QueriesFileName), (json, _) =>
        {
            string split = RequiredString(json, "split");
            return new RetrievalQuery(RequiredString(json, "id"), RequiredString(json, "text"),
                SplitFromName(split) ?? throw new InvalidDataException($"\"split\" must be train, dev or test, not '{split}'."));
        });
        var documentNumbers = new Dictionary<string, int>(documents.Count, StringComparer.Ordinal);
        for (int i = 0; i < documents.Count; i++)
            if (!documentNumbers.TryAdd(documents[i].Id, i))
                throw new InvalidDataException($"{DocumentsFileName} line {i + 1}: document id '{documents[i].Id}' appears twice.");
        var queryIds = new HashSet<string>(queries.Select(q => q.Id), StringComparer.Ordinal);
        var relevant = ReadQrels(Path.Combine(directory, QrelsFileName), queryIds, documentNumbers);
        try
        {
            return new RetrievalDataset(documents, queries, relevant);
        }
        catch (ArgumentException e)
        {
            throw new InvalidDataException($"{directory}: {e.Message}", e);
        }
    }

    private static List<T> ReadLines<T>(string path, Func<JsonElement, int, T> read)
    {
        var items = new List<T>();
        int lineNumber = 0;
        foreach (string line in File.ReadLines(path, Encoding.UTF8))
        {
            lineNumber++;
            try
            {
                using var document = JsonDocument.Parse(line);
                if (document.RootElement.ValueKind != JsonValueKind.Object)
                    throw new InvalidDataException("a line must hold one JSON object.");
                items.Add(read(document.RootElement, lineNumber));
            }
            catch (Exception e) when (e is JsonException or InvalidDataException)
            {
                throw new InvalidDataException($"{path} line {lineNumber}: {e.Message}", e);
            }
        }
        return items;
    }

    private static string RequiredString(JsonElement json, string name) =>
        json.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String
            ? value.GetString()!
            : throw new InvalidDataException($"the object has no string field \"{name}\".");

    private static Dictionary<string, int[]> ReadQrels(string path, HashSet<string> queryIds, Dictionary<string, int> documentNumbers)
    {
        var pairs = new Dictionary<string, SortedSet<int>>(StringComparer.Ordinal);
        int lineNumber = 0;
        foreach (string line in File.ReadLines(path, Encoding.UTF8))
        {
            lineNumber++;
            if (lineNumber == 1)
            {
                if (line != QrelsHeader)
                    throw new InvalidDataException($"{path} line 1: expected the header '{QrelsHeader.Replace('\t', ' ')}' (tab-separated).");
                continue;
            }
            string[] fields = line.Split('\t');
            if (fields.Length != 3)
                throw new InvalidDataException($"{path} line {lineNumber}: expected 3 tab-separated fields, found {fields.Length}.");
            if (!queryIds.Contains(fields[0]))
                throw new InvalidDataException($"{path} line {lineNumber}: unknown query '{fields[0]}'.");
            if (!documentNumbers.TryGetValue(fields[1], out int number))
                throw new InvalidDataException($"{path} line {lineNumber}: unknown document '{fields[1]}'.");
            if (!int.TryParse(fields[2], NumberStyles.None, CultureInfo.InvariantCulture, out int score))
                throw new InvalidDataException($"{path} line {lineNumber}: the score must be a non-negative integer, not '{fields[2]}'.");
            if (score == 0)
                continue;
            if (!pairs.TryGetValue(fields[0], out var set))
                pairs.Add(fields[0], set = []);
            if (!set.Add(number))
                throw new InvalidDataException($"{path} line {lineNumber}: the pair ({fields[0]}, {fields[1]}) is judged twice.");
        }
        if (lineNumber == 0)
            throw new InvalidDataException($"{path}: empty file (expected the header '{QrelsHeader.Replace('\t', ' ')}').");
        return pairs.ToDictionary(p => p.Key, p => p.Value.ToArray(), StringComparer.Ordinal);
    }
}
