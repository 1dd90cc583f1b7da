using System.Text;
using System.Text.RegularExpressions;

namespace Engine.Io.Retrieval;

/// <summary>One subtopic of Nave's Topical Bible: a line under a topic, with the verses it cites.</summary>
/// <param name="Topic">The topic (the entry's headword): <c>FAITH</c>, <c>JESUS, THE CHRIST</c>.</param>
/// <param name="Ordinal">The subtopic's 1-based position among its topic's subtopics.</param>
/// <param name="Heading">The subtopic's own words, without references or "See ..." pointers; may be empty.</param>
/// <param name="References">The verse references of the line and of the items listed under it, in order.</param>
/// <param name="ChapterReferences">Whole-chapter references found and dropped.</param>
/// <param name="CrossReferences">Pointers to other topics ("See COMPLICITY") found and dropped: they name no verses.</param>
public sealed record NaveSubtopic(string Topic, int Ordinal, string Heading, IReadOnlyList<VerseRange> References,
    int ChapterReferences, int CrossReferences);

/// <summary>
/// Reads the subtopics of Nave's Topical Bible from the <c>mod2imp</c> dump of SWORD's <c>Nave</c>
/// module (Debian package sword-dict-naves).
/// </summary>
/// <remarks>
/// Each entry is a topic whose TEI text holds lines started by <c>&lt;lb/&gt;</c> ("→ Marriage of
/// Ex 6:23", "2. A city north of Jerusalem"), some followed by a <c>&lt;list&gt;</c> of
/// <c>&lt;item&gt;</c>s that refine the line ("Daily, in the morning Ps 5:3; 88:13"). A subtopic is
/// one such line together with its items: its heading is the line's text before its first
/// reference, its references those of the line and of every item (each item parsed on its own,
/// so a book never carries over from one item to the next). A line that says nothing but "See
/// X" continues the subtopic before it (the converter breaks lines there). Verse references are
/// read from the printed text by <see cref="NaveReferenceParser"/>; topic cross-references
/// (<c>&lt;ref target="Nave:X"&gt;</c>) are counted and dropped.
/// </remarks>
public static class NaveTopics
{
    // Marks a topic cross-reference's text inside the plain text so "See X" pointers can be found.
    private const char CrossOpen = '\u0001', CrossClose = '\u0002';

    private static readonly Regex SeePointer = new(@"(?<![A-Za-z])[Ss]ee(\s+also)?\s*" + CrossOpen + "[^;]*", RegexOptions.CultureInvariant);

    private static readonly char[] TrimmedFromHeadings = [' ', ',', ';', ':', '.', '-', '→'];

    // The dump's layout: "$$$TOPIC" key lines (see SwordImport.Read), each followed by one line of
    // TEI: <entryFree n="TOPIC"> <def> ... </def> </entryFree>, where the definition is the
    // sequence of <lb/> lines, <list>/<item> runs and <ref> elements described on NaveTopics.
    /// <summary>Every subtopic of the dump, topics in file order and subtopics in entry order.</summary>
    /// <exception cref="InvalidDataException">The dump is not a mod2imp dump or holds a broken tag.</exception>
    public static IReadOnlyList<NaveSubtopic> Read(TextReader reader)
    {
        var subtopics = new List<NaveSubtopic>();
        var ordinals = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var entry in SwordImport.Read(reader))
        {
            string topic = entry.Key.Trim();
            try
            {
                // A topic can have two entries (REVERENCE and SIN do); the second continues the first's numbering.
                ordinals[topic] = ReadEntry(topic, entry.Text, ordinals.GetValueOrDefault(topic), subtopics);
            }
            catch (InvalidDataException e)
            {
                throw new InvalidDataException($"line {entry.Line + 1} (topic '{entry.Key}'): {e.Message}", e);
            }
        }
        return subtopics;
    }

    private sealed class Builder
    {
        public readonly StringBuilder Line = new();
        public readonly List<VerseRange> References = [];
        public int ChapterReferences, CrossReferences;
        public string Heading = "";
        public bool HasContent;
    }

    /// <summary>Adds the subtopics of one entry, numbered from <paramref name="ordinal"/> + 1; returns the last ordinal used.</summary>
    private static int ReadEntry(string topic, string text, int ordinal, List<NaveSubtopic> subtopics)
    {
        var current = new Builder();
        Builder? previous = null;
        var items = new Stack<StringBuilder>();

        void Add(Builder builder) => subtopics.Add(new NaveSubtopic(topic, ++ordinal, builder.Heading, builder.References,
            builder.ChapterReferences, builder.CrossReferences));

        // Ends the current line: parses it, then either keeps it as a subtopic of its own or, when
        // it is only a "See X" pointer, hands its items to the subtopic before it.
        void EndLine()
        {
            string line = current.Line.ToString();
            var found = NaveReferenceParser.Parse(line);
            current.References.InsertRange(0, found.Ranges);
            current.ChapterReferences += found.ChapterReferences;
            string description = line[..found.DescriptionLength];
            current.Heading = Heading(description, out bool pointer);
            if (pointer && current.Heading.Length == 0 && found.Ranges.Count == 0 && previous is not null)
            {
                previous.References.AddRange(current.References);
                previous.ChapterReferences += current.ChapterReferences;
                previous.CrossReferences += current.CrossReferences;
            }
            else if (current.HasContent || Markup.CollapseSpaces(line).Length > 0)
            {
                if (previous is not null)
                    Add(previous);
                previous = current;
            }
            current = new Builder();
        }

        // An item's references belong to the current line's subtopic; its words do not.
        void EndItem(StringBuilder item)
        {
            var found = NaveReferenceParser.Parse(item.ToString());
            current.References.AddRange(found.Ranges);
            current.ChapterReferences += found.ChapterReferences;
            current.HasContent = true;
        }

        bool inCrossReference = false;
        foreach (var token in Markup.Scan(text))
        {
            var target = items.Count > 0 ? items.Peek() : current.Line;
            switch (token.Kind)
            {
                case MarkupKind.Text:
                    target.Append(token.Text);
                    break;
                case MarkupKind.Empty when token.Name == "lb":
                    EndLine();
                    break;
                case MarkupKind.Start when token.Name == "item":
                    items.Push(new StringBuilder());
                    break;
                case MarkupKind.End when token.Name == "item" && items.Count > 0:
                    EndItem(items.Pop());
                    break;
                case MarkupKind.Start when token.Name == "ref" && token.Attribute("target") is not null:
                    current.CrossReferences++;
                    inCrossReference = true;
                    target.Append(CrossOpen);
                    break;
                case MarkupKind.End when token.Name == "ref" && inCrossReference:
                    inCrossReference = false;
                    target.Append(CrossClose);
                    break;
                case MarkupKind.Start or MarkupKind.End when token.Name == "ref":
                    // References are inline: "<ref>Titus 2</ref><ref>Co 8:16</ref>" must read "Titus 2Co 8:16".
                    break;
                default:
                    target.Append(' ');
                    break;
            }
        }
        while (items.Count > 0)
            EndItem(items.Pop());
        EndLine();
        if (previous is not null)
            Add(previous);
        return ordinal;
    }

    /// <summary>
    /// A line's description as a heading: "See X" pointers removed (up to the next semicolon),
    /// cross-reference marks dropped, spaces collapsed, leading arrows and trailing punctuation
    /// trimmed. <paramref name="pointer"/> says whether a pointer was removed.
    /// </summary>
    private static string Heading(string description, out bool pointer)
    {
        string withoutPointers = SeePointer.Replace(description, " ");
        pointer = withoutPointers != description;
        string plain = withoutPointers.Replace(CrossOpen, ' ').Replace(CrossClose, ' ');
        return Markup.CollapseSpaces(plain).Trim(TrimmedFromHeadings);
    }
}
