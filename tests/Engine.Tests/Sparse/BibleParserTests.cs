using Engine.Io.Retrieval;

namespace Engine.Tests.Sparse;

// The SWORD dump readers on small invented samples written in the shape of the real mod2imp
// dumps (OSIS verses of sword-text-kjv, TEI entries of sword-dict-naves), and the reference
// grammar of Nave's on the forms the real text uses.
public sealed class BibleParserTests
{
    private const string KjvSample = """
        $$$[ Module Heading ]

        $$$[ Testament 1 Heading ]
        <milestone type="x-importer" subType="x-osis2mod" n="$Rev: 1 $"/>
        $$$Genesis 0:0
        <div canonical="true" osisID="Gen" sID="gen1" type="book"/> <title level="1" type="main">The First Book of Lamps</title> <div sID="gen2" type="x-p"/>
        $$$Genesis 1:0
        <chapter n="1" osisID="Gen.1" sID="Gen.1"/>
        $$$Genesis 1:1
        <div type="x-milestone" subType="x-preverse" sID="pv1"/>¶ A <w lemma="strong:H1234">lamp</w> <transChange type="added">was</transChange> <w lemma="strong:H0001 strong:H0002" morph="x">lit</w> &amp; set.<note placement="foot"><reference type="annotateRef">1.1 </reference>lit: Heb. kindled</note>
        $$$Psalms 3:1
        <title canonical="true" type="psalm">A <w lemma="strong:H7">song</w> of the hills.</title> <lg sID="g1"/><l level="1" sID="g2"/>The <divineName><w lemma="strong:H3068">LORD</w></divineName> keepeth me.<l eID="g2" level="1"/><l level="1" sID="g3"/>Walls stand.<l eID="g3" level="1"/>
        $$$Psalms 119:9
        <div type="x-milestone" subType="x-preverse" sID="pv9"/><title><foreign>ב BETH.</foreign></title> <l sID="g4"/>How shall a lad keep his road?<l eID="g4"/>
        $$$Romans 16:27
        To the wise <transChange type="added">be</transChange> thanks. Amen.  <chapter eID="Rom.16"/> <title>Written to the Romans from a ship.</title>
        $$$I John 5:7
        <q marker="" who="Jesus">Three are one.</q>
        $$$I John 5:8
        <note placement="foot">only a note</note>
        """;

    [Fact]
    public void Kjv_verses_are_keyed_by_osis_id_and_stripped_to_plain_text()
    {
        var verses = SwordBible.ReadVerses(new StringReader(KjvSample));

        Assert.Equal(
        [
            new BibleVerse("Gen.1.1", "A lamp was lit & set."),
            new BibleVerse("Ps.3.1", "A song of the hills. The LORD keepeth me. Walls stand."),
            new BibleVerse("Ps.119.9", "How shall a lad keep his road?"),
            new BibleVerse("Rom.16.27", "To the wise be thanks. Amen."),
            new BibleVerse("1John.5.7", "Three are one."),
        ], verses);
    }

    [Theory]
    [InlineData("$$$Hezekiah 1:1\ntext\n", "unknown book 'Hezekiah'")]
    [InlineData("$$$Genesis one\ntext\n", "not a verse key")]
    [InlineData("$$$Genesis 1:1\na\n$$$Genesis 1:1\nb\n", "appears twice")]
    [InlineData("stray text\n$$$Genesis 1:1\na\n", "line 1")]
    [InlineData("$$$Genesis 1:1\n<w lemma=\"x\"broken\n", "unterminated tag")]
    public void Malformed_kjv_dumps_are_refused_with_the_line(string dump, string message)
    {
        var error = Assert.Throws<InvalidDataException>(() => SwordBible.ReadVerses(new StringReader(dump)));
        Assert.Contains(message, error.Message);
    }

    private static IReadOnlyList<VerseRange> Ranges(string text) => NaveReferenceParser.Parse(text).Ranges;

    private static VerseRange R(string book, int chapter, int verse, int endChapter, int endVerse) => new(book, chapter, verse, endChapter, endVerse);

    private static VerseRange R(string book, int chapter, int verse) => new(book, chapter, verse, chapter, verse);

    [Fact]
    public void References_carry_book_and_chapter_and_expand_nothing_yet()
    {
        string text = "Lineage of Ex 6:16-20; Jos 21:4,10; 1Ch 6:2,3; 23:13";
        var found = NaveReferenceParser.Parse(text);

        Assert.Equal([R("Exod", 6, 16, 6, 20), R("Josh", 21, 4), R("Josh", 21, 10), R("1Chr", 6, 2), R("1Chr", 6, 3), R("1Chr", 23, 13)], found.Ranges);
        Assert.Equal("Lineage of ", text[..found.DescriptionLength]);
        Assert.Equal(0, found.ChapterReferences);
    }

    [Fact]
    public void Ranges_may_cross_chapters_and_verses_after_a_comma_may_be_ranges()
    {
        Assert.Equal([R("Matt", 5, 1, 7, 29), R("Matt", 8, 1)], Ranges("Mt 5:1-7:29; 8:1"));
        Assert.Equal([R("Ps", 34, 1, 34, 8), R("Ps", 34, 22), R("Ps", 78, 5, 78, 7)], Ranges("Ps 34:1-8,22; 78:5-7"));
        Assert.Equal([R("Isa", 10, 20)], Ranges("Isa  10:20"));
    }

    [Fact]
    public void Whole_chapter_references_are_counted_and_dropped()
    {
        var found = NaveReferenceParser.Parse("Ex 28; 29; Le 8, 9; Eze 29-32; Jude 1; Ro 4; 5:1");

        Assert.Equal([R("Rom", 5, 1)], found.Ranges);
        Assert.Equal(7, found.ChapterReferences);
    }

    [Fact]
    public void Connecting_words_keep_the_book_other_words_end_it()
    {
        Assert.Equal([R("Dan", 3, 12), R("Dan", 3, 1, 3, 28)], Ranges("Three captives Da 3:12; with 3:1-28"));
        Assert.Equal([R("Gen", 2, 3), R("Matt", 12, 8)], Ranges("Lord of the sabbath Ge 2:3; with Mt 12:8"));
        Assert.Equal([R("Gen", 1, 1)], Ranges("Ge 1:1 the 12:5 tribes"));
    }

    [Fact]
    public void Names_that_look_like_books_are_not_references_but_the_abbreviation_after_them_is()
    {
        var ezra = NaveReferenceParser.Parse("2. Son of Ezra 1Ch 4:17");
        Assert.Equal([R("1Chr", 4, 17)], ezra.Ranges);
        Assert.Equal("2. Son of Ezra ", "2. Son of Ezra 1Ch 4:17"[..ezra.DescriptionLength]);

        Assert.Equal([R("2Cor", 8, 16), R("2Cor", 8, 17)], Ranges("By Titus 2Co 8:16,17"));
        Assert.Equal([R("Job", 30, 20), R("Job", 42, 12)], Ranges("Of Job Job 30:20; with 42:12"));
        Assert.Equal([R("2Chr", 36, 12)], Ranges("By Jeremiah 2 Ch 36:12"));
    }

    [Fact]
    public void Single_chapter_books_are_written_with_chapter_one()
    {
        Assert.Equal([R("2John", 1, 6), R("Jude", 1, 21), R("Phlm", 1, 24), R("Obad", 1, 3), R("Obad", 1, 4)],
            Ranges("2Jo 1:6; Jude 1:21; Phm 1:24; Ob 1:3,4"));
    }

    // An invented topic in the shape of the Nave dump: arrow lines, a numbered line, a list whose
    // items carry their own references, a "See" line that continues the line before it, a bare
    // "See" line, and the converter's broken tags (a name swallowed into a reference, a
    // single-chapter reference split in two), whose printed text is what counts.
    private const string NaveSample = """
        $$$LAMP
        <entryFree n="LAMP"> <def> <lb/>→ Lit at evening <ref osisRef="Exod.30.8">Ex 30:8</ref>; <ref osisRef="Lev.24.3">Le 24:3</ref>,<ref osisRef="Lev.24.4">4</ref> <lb/>→ FIGURATIVE <list> <item>Of the word <ref osisRef="Ps.119.105">Ps 119:105</ref></item> <item>Of the righteous <ref osisRef="Prov.13.9">Pr 13:9</ref>; <ref osisRef="Prov.20">20</ref></item> <item>See <ref target="Nave:LIGHT">LIGHT</ref></item> </list> <lb/>See <ref target="Nave:CANDLESTICK">CANDLESTICK</ref> <list> <item>Trimmed <ref osisRef="Exod.27.21">Ex 27:21</ref></item> </list> <lb/>2. Of the temple, &#8220;golden&#8221;, <ref osisRef="1Kgs.7.49">1Ki 7:49</ref> <lb/>→ See <ref target="Nave:OIL">OIL</ref>, HOLY</def> </entryFree>
        $$$LANTERN
        <entryFree n="LANTERN"> <def> <lb/>→ Carried by <ref osisRef="Titus.2">Titus 2</ref><ref osisRef="Col.8.16">Co 8:16</ref>; <ref osisRef="2John.1.1">2Jo 1</ref>:6 <lb/>→ See <ref target="Nave:LAMP">LAMP</ref></def> </entryFree>
        $$$LAMP
        <entryFree n="LAMP"> <def> <lb/>→ Kept burning <ref osisRef="Lev.6.13">Le 6:13</ref></def> </entryFree>
        """;

    [Fact]
    public void Nave_subtopics_gather_line_and_item_references_and_drop_pointers()
    {
        var subtopics = NaveTopics.Read(new StringReader(NaveSample));

        Assert.Equal(5, subtopics.Count);
        Assert.Equal(("LAMP", 1, "Lit at evening"), (subtopics[0].Topic, subtopics[0].Ordinal, subtopics[0].Heading));
        Assert.Equal([R("Exod", 30, 8), R("Lev", 24, 3), R("Lev", 24, 4)], subtopics[0].References);

        // The "See CANDLESTICK" line and its item belong to FIGURATIVE; "; 20" is a whole chapter.
        Assert.Equal(("FIGURATIVE", 1, 2), (subtopics[1].Heading, subtopics[1].ChapterReferences, subtopics[1].CrossReferences));
        Assert.Equal([R("Ps", 119, 105), R("Prov", 13, 9), R("Exod", 27, 21)], subtopics[1].References);

        // Entities decoded, trailing punctuation trimmed; the bare "See OIL, HOLY" line adds only a pointer.
        Assert.Equal("2. Of the temple, \u201Cgolden\u201D", subtopics[2].Heading);
        Assert.Equal([R("1Kgs", 7, 49)], subtopics[2].References);
        Assert.Equal(1, subtopics[2].CrossReferences);

        // The printed text decides: "Titus 2Co 8:16" is 2 Corinthians, "2Jo 1:6" is verse 6. The
        // "See LAMP" line after it is a pointer only, so it is not a subtopic of its own.
        Assert.Equal(("LANTERN", 1, "Carried by Titus"), (subtopics[3].Topic, subtopics[3].Ordinal, subtopics[3].Heading));
        Assert.Equal([R("2Cor", 8, 16), R("2John", 1, 6)], subtopics[3].References);
        Assert.Equal(1, subtopics[3].CrossReferences);

        // A topic's second entry continues its numbering.
        Assert.Equal(("LAMP", 4, "Kept burning"), (subtopics[4].Topic, subtopics[4].Ordinal, subtopics[4].Heading));
        Assert.Equal([R("Lev", 6, 13)], subtopics[4].References);
    }

    [Fact]
    public void Books_cover_the_canon_with_unique_ids_names_and_abbreviations()
    {
        Assert.Equal(66, BibleBooks.All.Count);
        Assert.Equal(66, BibleBooks.All.Select(b => b.OsisId).Distinct().Count());
        Assert.Equal(66, BibleBooks.All.Select(b => b.SwordName).Distinct().Count());
        var abbreviations = BibleBooks.All.SelectMany(b => b.NaveAbbreviations).ToArray();
        Assert.Equal(abbreviations.Length, abbreviations.Distinct().Count());
        Assert.Equal("Song", BibleBooks.FromSwordName("Song of Solomon")!.OsisId);
        Assert.Equal("Phlm", BibleBooks.FromNaveAbbreviation("Phm")!.OsisId);
        Assert.Null(BibleBooks.FromNaveAbbreviation("Titus"));
    }
}
