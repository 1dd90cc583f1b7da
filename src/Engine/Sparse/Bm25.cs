using System.Globalization;
using System.Text;
using Engine.Io;

namespace Engine.Sparse;

/// <summary>BM25's parameters and the tokenizer's one choice.</summary>
/// <param name="K1">Term-frequency saturation; 0.9 as Anserini's default (Lucene's is 1.2).</param>
/// <param name="B">Length normalisation; 0.4 as Anserini's default (Lucene's is 0.75).</param>
/// <param name="RemoveStopWords">Drop <see cref="Bm25.StopWords"/> from documents and queries.</param>
public sealed record Bm25Options(float K1 = 0.9f, float B = 0.4f, bool RemoveStopWords = true);

/// <summary>
/// BM25 as sparse vectors, so it runs on the same <see cref="InvertedIndex"/> as a learned sparse
/// encoder: a document's vector holds, for each of its terms t, the whole BM25 term weight
/// <code>
/// w(t, d) = idf(t) * tf * (k1 + 1) / (tf + k1 * (1 - b + b * |d| / avgdl))
/// idf(t)  = ln(1 + (N - df + 0.5) / (df + 0.5))          (Lucene's, never negative)
/// </code>
/// and a query's vector holds each query term's count, so the dot product is the BM25 score
/// sum over query tokens of w(t, d). |d| is the document's token count after stop-word removal,
/// exact (Lucene stores it lossily in one byte, so scores differ slightly from Anserini's).
/// </summary>
/// <remarks>
/// Tokenization (<see cref="Tokenize"/>): lower-case (invariant culture); 'æ' becomes "ae" (the KJV
/// writes Cæsar); a possessive 's or ’s is dropped; tokens are the maximal runs of letters and
/// digits; stop words are Lucene's 33-word English list when enabled. There is no stemming.
/// </remarks>
public sealed class Bm25
{
    /// <summary>Lucene's default English stop words (EnglishAnalyzer.ENGLISH_STOP_WORDS_SET).</summary>
    public static IReadOnlySet<string> StopWords { get; } = new HashSet<string>(StringComparer.Ordinal)
    {
        "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it", "no", "not", "of",
        "on", "or", "such", "that", "the", "their", "then", "there", "these", "they", "this", "to", "was", "will", "with",
    };

    private const string HeaderTag = "engine-bm25";
    private const int FormatVersion = 1;

    private readonly string[] _terms;
    private readonly int[] _documentFrequencies;
    private readonly Dictionary<string, int> _ids;

    private Bm25(Bm25Options options, string[] terms, int[] documentFrequencies, int documentCount, double averageLength)
    {
        Options = options;
        _terms = terms;
        _documentFrequencies = documentFrequencies;
        DocumentCount = documentCount;
        AverageLength = averageLength;
        _ids = new Dictionary<string, int>(terms.Length, StringComparer.Ordinal);
        for (int i = 0; i < terms.Length; i++)
            _ids.Add(terms[i], i);
    }

    /// <summary>The parameters.</summary>
    public Bm25Options Options { get; }

    /// <summary>The vocabulary: term id i is <c>Vocabulary[i]</c>, in order of first appearance in the documents.</summary>
    public IReadOnlyList<string> Vocabulary => _terms;

    /// <summary>N, the number of documents the statistics come from.</summary>
    public int DocumentCount { get; }

    /// <summary>avgdl, the mean document length in tokens.</summary>
    public double AverageLength { get; }

    /// <summary>The id of <paramref name="term"/> (a token as <see cref="Tokenize"/> makes them), or -1.</summary>
    public int TermId(string term) => _ids.GetValueOrDefault(term, -1);

    /// <summary>The number of documents containing term <paramref name="id"/>.</summary>
    public int DocumentFrequency(int id) => _documentFrequencies[id];

    /// <summary>idf(t) = ln(1 + (N - df + 0.5) / (df + 0.5)).</summary>
    public double Idf(int id) => Math.Log(1 + (DocumentCount - _documentFrequencies[id] + 0.5) / (_documentFrequencies[id] + 0.5));

    /// <summary>The tokens of <paramref name="text"/>, as described on <see cref="Bm25"/>.</summary>
    public static List<string> Tokenize(string text, bool removeStopWords)
    {
        var tokens = new List<string>();
        var token = new StringBuilder();
        void End()
        {
            if (token.Length > 0 && !(removeStopWords && StopWords.Contains(token.ToString())))
                tokens.Add(token.ToString());
            token.Clear();
        }
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            bool possessive = c is '\'' or '’' && token.Length > 0 && i + 1 < text.Length && text[i + 1] is 's' or 'S'
                && (i + 2 == text.Length || !char.IsLetterOrDigit(text[i + 2]));
            if (possessive)
            {
                End();
                i++;
            }
            else if (c is 'æ' or 'Æ')
                token.Append("ae");
            else if (char.IsLetterOrDigit(c))
                token.Append(char.ToLowerInvariant(c));
            else
                End();
        }
        End();
        return tokens;
    }

    /// <summary>
    /// Statistics and vocabulary from <paramref name="documents"/>, and their BM25 vectors (row d
    /// is document d) over that vocabulary, ready for <see cref="InvertedIndex.Build"/>.
    /// </summary>
    public static (Bm25 Model, SparseMatrix Documents) Build(IReadOnlyList<string> documents, Bm25Options? options = null)
    {
        options ??= new Bm25Options();
        Validate(options);
        var ids = new Dictionary<string, int>(StringComparer.Ordinal);
        var terms = new List<string>();
        var frequencies = new List<int>();
        var tokenized = new List<int>[documents.Count];
        long totalLength = 0;
        for (int d = 0; d < documents.Count; d++)
        {
            var tokens = Tokenize(documents[d], options.RemoveStopWords);
            var termIds = new List<int>(tokens.Count);
            foreach (string token in tokens)
            {
                if (!ids.TryGetValue(token, out int id))
                {
                    ids.Add(token, id = terms.Count);
                    terms.Add(token);
                    frequencies.Add(0);
                }
                termIds.Add(id);
            }
            foreach (int id in termIds.Distinct())
                frequencies[id]++;
            tokenized[d] = termIds;
            totalLength += tokens.Count;
        }
        double average = documents.Count == 0 ? 0 : (double)totalLength / documents.Count;
        var model = new Bm25(options, terms.ToArray(), frequencies.ToArray(), documents.Count, average);
        var rows = new SparseVector[documents.Count];
        for (int d = 0; d < documents.Count; d++)
            rows[d] = model.Weigh(tokenized[d]);
        return (model, SparseMatrix.FromRows(rows, terms.Count));
    }

    /// <summary>
    /// The BM25 vector of a document scored with this model's statistics (terms outside the
    /// vocabulary are left out): what <see cref="Build"/> gives for a document of the collection.
    /// </summary>
    public SparseVector EncodeDocument(string text)
    {
        var tokens = Tokenize(text, Options.RemoveStopWords);
        var known = tokens.Select(TermId).Where(id => id >= 0).ToList();
        return Weigh(known, tokens.Count);
    }

    /// <summary>The query vector: each known query token's term with its count in the query; unknown tokens are dropped.</summary>
    public SparseVector EncodeQuery(string text)
    {
        var ids = Tokenize(text, Options.RemoveStopWords).Select(TermId).Where(id => id >= 0).ToArray();
        var ones = new float[ids.Length];
        Array.Fill(ones, 1f);
        return SparseVector.FromPairs(ids, ones);
    }

    private SparseVector Weigh(List<int> termIds, int? length = null)
    {
        double k1 = Options.K1, b = Options.B;
        double norm = k1 * (1 - b + b * (length ?? termIds.Count) / (AverageLength > 0 ? AverageLength : 1));
        var counts = new SortedDictionary<int, int>();
        foreach (int id in termIds)
            counts[id] = counts.GetValueOrDefault(id) + 1;
        var indices = new int[counts.Count];
        var values = new float[counts.Count];
        int i = 0;
        foreach (var (id, tf) in counts)
        {
            indices[i] = id;
            values[i++] = (float)(Idf(id) * tf * (k1 + 1) / (tf + norm));
        }
        return new SparseVector(indices, values);
    }

    private static void Validate(Bm25Options options)
    {
        if (!(options.K1 >= 0) || !float.IsFinite(options.K1) || !(options.B is >= 0 and <= 1))
            throw new ArgumentException($"Bm25: k1 must be a finite number >= 0 and b in [0, 1]; got k1 = {options.K1}, b = {options.B}.");
    }

    /// <summary>Writes the model (parameters, statistics, vocabulary) to <paramref name="path"/> atomically, in the layout <see cref="Load"/> describes.</summary>
    public void Save(string path)
    {
        var invariant = CultureInfo.InvariantCulture;
        AtomicFile.Write(path, stream =>
        {
            using var writer = new StreamWriter(stream, new UTF8Encoding(false), 1 << 16, leaveOpen: true) { NewLine = "\n" };
            writer.WriteLine(string.Create(invariant,
                $"{HeaderTag}\t{FormatVersion}\t{Options.K1:R}\t{Options.B:R}\t{(Options.RemoveStopWords ? 1 : 0)}\t{DocumentCount}\t{AverageLength:R}\t{_terms.Length}"));
            for (int i = 0; i < _terms.Length; i++)
                writer.WriteLine(string.Create(invariant, $"{_terms[i]}\t{_documentFrequencies[i]}"));
        });
    }

    // The layout: UTF-8 text, '\n' line ends. Line 1 is tab-separated
    //   engine-bm25  1  k1  b  stop-words (1 or 0)  N  avgdl  V
    // (numbers in invariant culture); then V lines "term<TAB>df", term id i on line i + 2. Terms
    // are non-empty, unique and hold only letters and digits; 1 <= df <= N.
    /// <summary>Reads a model written by <see cref="Save"/>, checking every field.</summary>
    /// <exception cref="InvalidDataException">The file is malformed; the message names the path and line.</exception>
    public static Bm25 Load(string path)
    {
        var invariant = CultureInfo.InvariantCulture;
        using var reader = new StreamReader(path, Encoding.UTF8);
        InvalidDataException Corrupt(int line, string what) => new($"{path} line {line}: {what}.");
        string[] header = (reader.ReadLine() ?? "").Split('\t');
        if (header.Length != 8 || header[0] != HeaderTag)
            throw Corrupt(1, $"expected the header '{HeaderTag}' and 7 tab-separated fields");
        if (header[1] != FormatVersion.ToString(invariant))
            throw Corrupt(1, $"format version {header[1]} (this reader knows {FormatVersion})");
        if (!float.TryParse(header[2], NumberStyles.Float, invariant, out float k1) || !float.TryParse(header[3], NumberStyles.Float, invariant, out float b)
            || header[4] is not ("0" or "1") || !int.TryParse(header[5], NumberStyles.None, invariant, out int n)
            || !double.TryParse(header[6], NumberStyles.Float, invariant, out double average) || !double.IsFinite(average) || average < 0
            || !int.TryParse(header[7], NumberStyles.None, invariant, out int vocabulary))
            throw Corrupt(1, "a header field is not a valid number");
        var options = new Bm25Options(k1, b, header[4] == "1");
        try
        {
            Validate(options);
        }
        catch (ArgumentException e)
        {
            throw Corrupt(1, e.Message);
        }
        var terms = new List<string>();
        var frequencies = new List<int>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (string? line = reader.ReadLine(); line is not null; line = reader.ReadLine())
        {
            int number = terms.Count + 2;
            if (terms.Count == vocabulary)
                throw Corrupt(number, $"more terms than the {vocabulary} the header announces");
            int tab = line.IndexOf('\t');
            string term = tab < 0 ? line : line[..tab];
            if (term.Length == 0 || !term.All(char.IsLetterOrDigit) || !seen.Add(term))
                throw Corrupt(number, $"'{term}' is empty, repeated or holds a character other than letters and digits");
            if (tab < 0 || !int.TryParse(line.AsSpan(tab + 1), NumberStyles.None, invariant, out int df) || df < 1 || df > n)
                throw Corrupt(number, $"the document frequency must be a number from 1 to N = {n}");
            terms.Add(term);
            frequencies.Add(df);
        }
        if (terms.Count != vocabulary)
            throw Corrupt(terms.Count + 2, $"the file ends after {terms.Count} of {vocabulary} terms");
        return new Bm25(options, terms.ToArray(), frequencies.ToArray(), n, average);
    }
}
