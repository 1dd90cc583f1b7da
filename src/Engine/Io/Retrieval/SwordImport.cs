using System.Net;
using System.Text;

namespace Engine.Io.Retrieval;

/// <summary>One entry of a SWORD module dump: its key and its raw (marked-up) text.</summary>
/// <param name="Key">The entry's key: a verse key such as <c>Genesis 1:1</c>, or a dictionary headword.</param>
/// <param name="Text">The entry's text with the module's markup (OSIS, TEI, ThML or GBF).</param>
/// <param name="Line">The 1-based line of the key in the dump, for error messages.</param>
public sealed record SwordEntry(string Key, string Text, int Line);

/// <summary>Reads the text dumps that SWORD's <c>mod2imp</c> writes.</summary>
public static class SwordImport
{
    private const string KeyPrefix = "$$$";

    // The "imp" layout mod2imp writes: a line "$$$KEY" starts each entry and the lines after it, up
    // to the next "$$$" line, are the entry's text (one line in practice; several are joined with
    // '\n'). Keys such as "[ Module Heading ]" are entries too. Anything before the first key line
    // other than blank lines means the file is not such a dump.
    /// <summary>The entries of a mod2imp dump in file order.</summary>
    /// <exception cref="InvalidDataException">Text comes before the first <c>$$$</c> key line.</exception>
    public static IEnumerable<SwordEntry> Read(TextReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        string? key = null;
        int keyLine = 0, lineNumber = 0;
        var text = new StringBuilder();
        for (string? line = reader.ReadLine(); line is not null; line = reader.ReadLine())
        {
            lineNumber++;
            if (line.StartsWith(KeyPrefix, StringComparison.Ordinal))
            {
                if (key is not null)
                    yield return new SwordEntry(key, text.ToString(), keyLine);
                key = line[KeyPrefix.Length..];
                keyLine = lineNumber;
                text.Clear();
            }
            else if (key is null)
            {
                if (line.Length > 0)
                    throw new InvalidDataException($"line {lineNumber}: a mod2imp dump starts with a '$$$' key line, not '{Clip(line)}'.");
            }
            else
            {
                if (text.Length > 0)
                    text.Append('\n');
                text.Append(line);
            }
        }
        if (key is not null)
            yield return new SwordEntry(key, text.ToString(), keyLine);
    }

    private static string Clip(string line) => line.Length <= 40 ? line : line[..40] + "...";
}

/// <summary>The kind of a piece of marked-up text.</summary>
internal enum MarkupKind
{
    /// <summary>Character data between tags, entities already decoded.</summary>
    Text,
    /// <summary>An opening tag, <c>&lt;name ...&gt;</c>.</summary>
    Start,
    /// <summary>A closing tag, <c>&lt;/name&gt;</c>.</summary>
    End,
    /// <summary>A self-closing tag, <c>&lt;name .../&gt;</c>.</summary>
    Empty,
}

/// <summary>A piece of marked-up text: a tag (with its name and raw attributes) or decoded text.</summary>
internal readonly record struct MarkupToken(MarkupKind Kind, string Name, string Attributes, string Text)
{
    /// <summary>The value of attribute <paramref name="name"/> (written name="value"), entities decoded, or null.</summary>
    public string? Attribute(string name)
    {
        int at = 0;
        while ((at = Attributes.IndexOf(name + "=\"", at, StringComparison.Ordinal)) >= 0)
        {
            bool wordStart = at == 0 || char.IsWhiteSpace(Attributes[at - 1]);
            int valueStart = at + name.Length + 2;
            int valueEnd = Attributes.IndexOf('"', valueStart);
            if (valueEnd < 0)
                return null;
            if (wordStart)
                return WebUtility.HtmlDecode(Attributes[valueStart..valueEnd]);
            at = valueEnd;
        }
        return null;
    }
}

/// <summary>
/// Splits the XML-like markup of SWORD entries (OSIS verses, TEI dictionary entries) into tags and
/// text. Entries are fragments, not documents (milestone tags open in one verse and close in
/// another), so nothing checks that tags nest; callers track the elements they care about.
/// </summary>
internal static class Markup
{
    /// <exception cref="InvalidDataException">A '&lt;' has no matching '&gt;'.</exception>
    public static IEnumerable<MarkupToken> Scan(string text)
    {
        int i = 0;
        while (i < text.Length)
        {
            int open = text.IndexOf('<', i);
            if (open < 0)
                open = text.Length;
            if (open > i)
                yield return new MarkupToken(MarkupKind.Text, "", "", WebUtility.HtmlDecode(text[i..open]));
            if (open == text.Length)
                yield break;
            int close = text.IndexOf('>', open);
            if (close < 0)
                throw new InvalidDataException($"unterminated tag at character {open}: '{text[open..Math.Min(text.Length, open + 40)]}'.");
            string inner = text[(open + 1)..close];
            i = close + 1;
            if (inner.StartsWith('/'))
            {
                yield return new MarkupToken(MarkupKind.End, inner[1..].Trim(), "", "");
                continue;
            }
            bool empty = inner.EndsWith('/');
            if (empty)
                inner = inner[..^1];
            int nameEnd = 0;
            while (nameEnd < inner.Length && !char.IsWhiteSpace(inner[nameEnd]))
                nameEnd++;
            yield return new MarkupToken(empty ? MarkupKind.Empty : MarkupKind.Start, inner[..nameEnd], inner[nameEnd..].Trim(), "");
        }
    }

    /// <summary>Collapses every run of white space to one space and trims the ends.</summary>
    public static string CollapseSpaces(string text)
    {
        var result = new StringBuilder(text.Length);
        bool pendingSpace = false;
        foreach (char c in text)
        {
            if (char.IsWhiteSpace(c))
            {
                pendingSpace = result.Length > 0;
                continue;
            }
            if (pendingSpace)
                result.Append(' ');
            pendingSpace = false;
            result.Append(c);
        }
        return result.ToString();
    }
}
