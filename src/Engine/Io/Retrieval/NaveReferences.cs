using System.Globalization;

namespace Engine.Io.Retrieval;

/// <summary>The verses from (<paramref name="Chapter"/>:<paramref name="Verse"/>) to (<paramref name="EndChapter"/>:<paramref name="EndVerse"/>) of one book, both ends included.</summary>
/// <param name="Book">The OSIS book id.</param>
/// <param name="Chapter">The first verse's chapter.</param>
/// <param name="Verse">The first verse's number.</param>
/// <param name="EndChapter">The last verse's chapter.</param>
/// <param name="EndVerse">The last verse's number.</param>
public readonly record struct VerseRange(string Book, int Chapter, int Verse, int EndChapter, int EndVerse)
{
    /// <summary>The OSIS id of the first verse.</summary>
    public string StartId => string.Create(CultureInfo.InvariantCulture, $"{Book}.{Chapter}.{Verse}");

    /// <summary>The OSIS id of the last verse.</summary>
    public string EndId => string.Create(CultureInfo.InvariantCulture, $"{Book}.{EndChapter}.{EndVerse}");

    /// <inheritdoc/>
    public override string ToString() => Chapter == EndChapter
        ? (Verse == EndVerse ? StartId : string.Create(CultureInfo.InvariantCulture, $"{StartId}-{EndVerse}"))
        : $"{StartId}-{EndId}";
}

/// <summary>The verse references found in one piece of Nave's text.</summary>
/// <param name="Ranges">The verse references in the order written, ranges unexpanded.</param>
/// <param name="ChapterReferences">References to whole chapters (<c>Ex 28</c>, <c>Eze 29; 30</c>), which are dropped.</param>
/// <param name="DescriptionLength">The length of the text before the first reference: the description it gives.</param>
public sealed record NaveReferences(IReadOnlyList<VerseRange> Ranges, int ChapterReferences, int DescriptionLength);

/// <summary>
/// Reads the verse references in the plain text of Nave's Topical Bible, the way Nave's writes
/// them: <c>Jos 21:4,10; 1Ch 6:2,3; 23:13</c>.
/// </summary>
/// <remarks>
/// The grammar, with the book and chapter carried from one reference to the next:
/// <list type="bullet">
/// <item><c>Abbr C:V</c>, <c>Abbr C:V-W</c>, <c>Abbr C:V-D:W</c> start a book (abbreviations from
/// <see cref="BibleBooks"/>, case-sensitive, whole words; "2 Ch" with a space is read as "2Ch").</item>
/// <item>After a semicolon or a connecting word (<c>with</c>, <c>and</c>, <c>also</c>, <c>see</c>,
/// <c>compare</c>), <c>C:V...</c> is another chapter of the same book.</item>
/// <item>After a comma, a bare <c>V</c> or <c>V-W</c> is another verse of the same chapter.</item>
/// <item>A number with no colon that is not a verse after a comma is a whole chapter
/// (<c>Ex 28</c>, <c>Le 8; 9</c>, <c>Jud 1</c>, <c>Eze 29-32</c>); whole chapters are counted and
/// dropped, as is a bare number after a comma that follows one (<c>Ex 28, 29</c>). Single-chapter
/// books are written <c>Jude 1:21</c>, so <c>Jude 1</c> is the whole book and is dropped too.</item>
/// <item>Any other word or character ends the chain: a number after it needs a book again.</item>
/// </list>
/// The module's own <c>osisRef</c> attributes are not used: its converter misreads references
/// after people's names (<c>Titus 2Co 8:16</c> became <c>Titus 2</c> and <c>Col 8:16</c>;
/// <c>Son of Ezra 1Ch 4:17</c> became <c>Ezra 1</c>) and single-chapter books (<c>2Jo 1:6</c> became
/// <c>2John.1.1</c>), while the printed text is right.
/// </remarks>
public static class NaveReferenceParser
{
    private static readonly HashSet<string> Connectors = new(StringComparer.Ordinal) { "with", "and", "also", "see", "See", "compare" };

    private enum Kind { Book, Number, Colon, Comma, Semicolon, Dash, Connector, Break }

    private readonly record struct Token(Kind Kind, int Start, int Value, BibleBook? Book);

    /// <summary>Finds the references in <paramref name="text"/> (plain text, markup removed).</summary>
    public static NaveReferences Parse(string text)
    {
        var tokens = Tokenize(text);
        var ranges = new List<VerseRange>();
        int chapterReferences = 0, descriptionLength = text.Length;
        BibleBook? book = null;
        int chapter = 0;
        bool afterWholeChapter = false;
        Kind separator = Kind.Break;

        int i = 0;
        while (i < tokens.Count)
        {
            var token = tokens[i];
            switch (token.Kind)
            {
                case Kind.Book when At(tokens, i + 1, Kind.Number):
                    book = token.Book;
                    descriptionLength = Math.Min(descriptionLength, token.Start);
                    separator = Kind.Book;
                    i++;
                    continue;
                case Kind.Number when book is not null:
                    i = Reference(tokens, i, book, separator, ref chapter, ref afterWholeChapter, ranges, ref chapterReferences);
                    separator = Kind.Break;
                    continue;
                case Kind.Comma or Kind.Semicolon or Kind.Connector:
                    separator = token.Kind;
                    break;
                default:
                    book = null;
                    separator = Kind.Break;
                    break;
            }
            i++;
        }
        return new NaveReferences(ranges, chapterReferences, descriptionLength);
    }

    /// <summary>Reads the reference starting at number token <paramref name="i"/>; returns the index after it.</summary>
    private static int Reference(List<Token> tokens, int i, BibleBook book, Kind separator, ref int chapter, ref bool afterWholeChapter,
        List<VerseRange> ranges, ref int chapterReferences)
    {
        int first = tokens[i].Value;
        if (At(tokens, i + 1, Kind.Colon) && At(tokens, i + 2, Kind.Number))
        {
            chapter = first;
            afterWholeChapter = false;
            return Range(tokens, i + 2, book, ref chapter, ranges);
        }
        if (separator == Kind.Comma && chapter > 0 && !afterWholeChapter)
            return Range(tokens, i, book, ref chapter, ranges);

        chapterReferences++;
        chapter = first;
        afterWholeChapter = true;
        bool chapterSpan = At(tokens, i + 1, Kind.Dash) && At(tokens, i + 2, Kind.Number);
        return chapterSpan ? i + 3 : i + 1;
    }

    /// <summary>Reads "V", "V-W" or "V-D:W" at number token <paramref name="i"/> in <paramref name="chapter"/>.</summary>
    private static int Range(List<Token> tokens, int i, BibleBook book, ref int chapter, List<VerseRange> ranges)
    {
        int verse = tokens[i].Value;
        if (At(tokens, i + 1, Kind.Dash) && At(tokens, i + 2, Kind.Number))
        {
            if (At(tokens, i + 3, Kind.Colon) && At(tokens, i + 4, Kind.Number))
            {
                int endChapter = tokens[i + 2].Value;
                ranges.Add(new VerseRange(book.OsisId, chapter, verse, endChapter, tokens[i + 4].Value));
                chapter = endChapter;
                return i + 5;
            }
            ranges.Add(new VerseRange(book.OsisId, chapter, verse, chapter, tokens[i + 2].Value));
            return i + 3;
        }
        ranges.Add(new VerseRange(book.OsisId, chapter, verse, chapter, verse));
        return i + 1;
    }

    private static bool At(List<Token> tokens, int i, Kind kind) => i < tokens.Count && tokens[i].Kind == kind;

    private static List<Token> Tokenize(string text)
    {
        var tokens = new List<Token>();
        int i = 0;
        while (i < text.Length)
        {
            char c = text[i];
            if (char.IsWhiteSpace(c))
            {
                i++;
                continue;
            }
            int start = i;
            if (IsAsciiLetterOrDigit(c) && TryBook(text, i, out var book, out int bookEnd))
            {
                tokens.Add(new Token(Kind.Book, start, 0, book));
                i = bookEnd;
            }
            else if (char.IsAsciiDigit(c))
            {
                while (i < text.Length && char.IsAsciiDigit(text[i]))
                    i++;
                bool parsed = int.TryParse(text.AsSpan(start, i - start), NumberStyles.None, CultureInfo.InvariantCulture, out int value);
                tokens.Add(new Token(parsed ? Kind.Number : Kind.Break, start, value, null));
            }
            else if (char.IsLetter(c))
            {
                while (i < text.Length && char.IsLetter(text[i]))
                    i++;
                tokens.Add(new Token(Connectors.Contains(text[start..i]) ? Kind.Connector : Kind.Break, start, 0, null));
            }
            else
            {
                i++;
                var kind = c switch { ':' => Kind.Colon, ',' => Kind.Comma, ';' => Kind.Semicolon, '-' or '–' => Kind.Dash, _ => Kind.Break };
                tokens.Add(new Token(kind, start, 0, null));
            }
        }
        return tokens;
    }

    /// <summary>
    /// Whether a book abbreviation starts at <paramref name="start"/>: a whole word (optionally a
    /// digit, a space and letters) in the table, followed by white space and a digit.
    /// </summary>
    private static bool TryBook(string text, int start, out BibleBook? book, out int end)
    {
        book = null;
        end = start;
        if (start > 0 && IsAsciiLetterOrDigit(text[start - 1]))
            return false;
        int i = start;
        string prefix = "";
        if (char.IsAsciiDigit(text[i]))
        {
            prefix = text[i].ToString();
            i++;
            if (i < text.Length && text[i] == ' ')
                i++;
        }
        int letters = i;
        while (i < text.Length && char.IsAsciiLetter(text[i]))
            i++;
        if (i == letters || (i < text.Length && char.IsAsciiDigit(text[i])))
            return false;
        int after = i;
        while (after < text.Length && char.IsWhiteSpace(text[after]))
            after++;
        if (after == i || after >= text.Length || !char.IsAsciiDigit(text[after]))
            return false;
        book = BibleBooks.FromNaveAbbreviation(prefix + text[letters..i]);
        end = i;
        return book is not null;
    }

    private static bool IsAsciiLetterOrDigit(char c) => char.IsAsciiLetter(c) || char.IsAsciiDigit(c);
}
