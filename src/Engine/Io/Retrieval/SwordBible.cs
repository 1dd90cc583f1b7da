using System.Globalization;
using System.Text;

namespace Engine.Io.Retrieval;

/// <summary>One verse as plain text.</summary>
/// <param name="Id">The OSIS verse id, <c>Book.Chapter.Verse</c> (<c>Gen.1.1</c>, <c>1John.5.7</c>).</param>
/// <param name="Text">The verse's words without markup, footnotes or Strong's numbers.</param>
public sealed record BibleVerse(string Id, string Text);

/// <summary>
/// Reads the verses of an OSIS Bible module in KJV versification (SWORD's <c>engKJV2006eb</c>, Debian
/// package sword-text-kjv) from its <c>mod2imp</c> dump, as plain text.
/// </summary>
/// <remarks>
/// What is kept and what is dropped:
/// <list type="bullet">
/// <item>The text of <c>w</c> (Strong's numbers and morphology live in its attributes, so they go with
/// the tag), <c>transChange</c> (the KJV's italic supplied words, part of the English text),
/// <c>divineName</c>, <c>q</c>, <c>seg</c> and <c>foreign</c> is kept.</item>
/// <item><c>note</c> elements (translators' footnotes) are dropped whole, and so are titles not
/// marked <c>canonical="true"</c>: book titles, Psalm 119's acrostic letters and the subscriptions
/// after the epistles. The Psalms' canonical superscriptions (<c>A Psalm of David ...</c>) are
/// kept as part of the verse, as the KJV prints them.</item>
/// <item>The paragraph mark ¶ is removed; structural tags (<c>l</c>, <c>lg</c>, <c>lb</c>,
/// <c>div</c>, <c>milestone</c>, ...) become word breaks; white space is collapsed.</item>
/// <item>Chapter and book introductions (verse 0, chapter 0) and module headings are skipped, as
/// are verses left empty.</item>
/// </list>
/// </remarks>
public static class SwordBible
{
    private static readonly HashSet<string> InlineElements = new(StringComparer.Ordinal) { "w", "transChange", "divineName", "q", "seg", "foreign", "hi", "rdg" };

    // Keys are "<SWORD book name> <chapter>:<verse>" (see BibleBook.SwordName), each followed by the
    // verse's OSIS text; "[ ... ]" keys are module and testament headings. The layout of the dump
    // itself is described at SwordImport.Read.
    /// <summary>The non-empty verses of the dump, in the dump's (canonical) order.</summary>
    /// <exception cref="InvalidDataException">A key names an unknown book or is not a verse key, or a verse id repeats.</exception>
    public static IReadOnlyList<BibleVerse> ReadVerses(TextReader reader)
    {
        var verses = new List<BibleVerse>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var entry in SwordImport.Read(reader))
        {
            if (entry.Key.StartsWith('['))
                continue;
            string id = VerseId(entry);
            if (id.Length == 0)
                continue;
            if (!seen.Add(id))
                throw new InvalidDataException($"line {entry.Line}: verse {id} ('{entry.Key}') appears twice.");
            string text = PlainText(entry.Text);
            if (text.Length > 0)
                verses.Add(new BibleVerse(id, text));
        }
        return verses;
    }

    /// <summary>The OSIS id of a verse key, or "" for a chapter or book introduction (verse or chapter 0).</summary>
    private static string VerseId(SwordEntry entry)
    {
        string key = entry.Key;
        int space = key.LastIndexOf(' ');
        int colon = key.LastIndexOf(':');
        if (space <= 0 || colon < space
            || !int.TryParse(key.AsSpan(space + 1, colon - space - 1), NumberStyles.None, CultureInfo.InvariantCulture, out int chapter)
            || !int.TryParse(key.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out int verse))
            throw new InvalidDataException($"line {entry.Line}: '{key}' is not a verse key ('Book Chapter:Verse').");
        var book = BibleBooks.FromSwordName(key[..space])
            ?? throw new InvalidDataException($"line {entry.Line}: unknown book '{key[..space]}' in key '{key}'.");
        return chapter == 0 || verse == 0 ? "" : string.Create(CultureInfo.InvariantCulture, $"{book.OsisId}.{chapter}.{verse}");
    }

    /// <summary>The words of one verse's OSIS markup, as described on <see cref="SwordBible"/>.</summary>
    public static string PlainText(string osis)
    {
        var text = new StringBuilder(osis.Length / 2);
        string? skipping = null;
        int skipDepth = 0;
        foreach (var token in Markup.Scan(osis))
        {
            if (skipping is not null)
            {
                if (token.Name == skipping)
                    skipDepth += token.Kind switch { MarkupKind.Start => 1, MarkupKind.End => -1, _ => 0 };
                if (skipDepth == 0)
                    skipping = null;
                continue;
            }
            switch (token.Kind)
            {
                case MarkupKind.Text:
                    text.Append(token.Text);
                    break;
                case MarkupKind.Start when token.Name == "note" || (token.Name == "title" && token.Attribute("canonical") != "true"):
                    skipping = token.Name;
                    skipDepth = 1;
                    break;
                default:
                    if (!InlineElements.Contains(token.Name))
                        text.Append(' ');
                    break;
            }
        }
        text.Replace('¶', ' ');
        return Markup.CollapseSpaces(text.ToString());
    }
}
