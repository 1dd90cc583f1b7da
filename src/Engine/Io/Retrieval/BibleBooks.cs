namespace Engine.Io.Retrieval;

/// <summary>One book of the 66-book Protestant canon in the King James order.</summary>
/// <param name="OsisId">The OSIS book id, the first part of a verse id such as <c>Gen.1.1</c>.</param>
/// <param name="SwordName">The book's name in the keys of SWORD's KJV module (<c>I Samuel</c>, <c>Revelation of John</c>).</param>
/// <param name="NaveAbbreviations">The abbreviations Nave's Topical Bible writes for the book, most used first.</param>
public sealed record BibleBook(string OsisId, string SwordName, IReadOnlyList<string> NaveAbbreviations);

/// <summary>
/// The 66 books with the names the two SWORD modules use for them. The abbreviations are the ones
/// the SWORD edition of Nave's (module <c>Nave</c>, version 3.0) really writes in its reference
/// text, counted from the module: most books have one; a few have a rare second spelling (<c>Num</c>,
/// <c>Neh</c>, <c>Hos</c>, <c>1Joh</c>). Full book names are deliberately absent: Nave's writes them
/// only as people's names (<c>Son of Ezra 1Ch 4:17</c>), never as references.
/// </summary>
public static class BibleBooks
{
    /// <summary>The books in canonical order (Genesis first, Revelation last).</summary>
    public static IReadOnlyList<BibleBook> All { get; } =
    [
        new("Gen", "Genesis", ["Ge"]),
        new("Exod", "Exodus", ["Ex"]),
        new("Lev", "Leviticus", ["Le"]),
        new("Num", "Numbers", ["Nu", "Num"]),
        new("Deut", "Deuteronomy", ["De"]),
        new("Josh", "Joshua", ["Jos"]),
        new("Judg", "Judges", ["Jud"]),
        new("Ruth", "Ruth", ["Ru"]),
        new("1Sam", "I Samuel", ["1Sa"]),
        new("2Sam", "II Samuel", ["2Sa"]),
        new("1Kgs", "I Kings", ["1Ki"]),
        new("2Kgs", "II Kings", ["2Ki"]),
        new("1Chr", "I Chronicles", ["1Ch"]),
        new("2Chr", "II Chronicles", ["2Ch"]),
        new("Ezra", "Ezra", ["Ezr"]),
        new("Neh", "Nehemiah", ["Ne", "Neh"]),
        new("Esth", "Esther", ["Es"]),
        new("Job", "Job", ["Job"]),
        new("Ps", "Psalms", ["Ps"]),
        new("Prov", "Proverbs", ["Pr"]),
        new("Eccl", "Ecclesiastes", ["Ec"]),
        new("Song", "Song of Solomon", ["So"]),
        new("Isa", "Isaiah", ["Isa"]),
        new("Jer", "Jeremiah", ["Jer"]),
        new("Lam", "Lamentations", ["La"]),
        new("Ezek", "Ezekiel", ["Eze"]),
        new("Dan", "Daniel", ["Da"]),
        new("Hos", "Hosea", ["Ho", "Hos"]),
        new("Joel", "Joel", ["Joe"]),
        new("Amos", "Amos", ["Am"]),
        new("Obad", "Obadiah", ["Ob"]),
        new("Jonah", "Jonah", ["Jon"]),
        new("Mic", "Micah", ["Mic"]),
        new("Nah", "Nahum", ["Na"]),
        new("Hab", "Habakkuk", ["Hab"]),
        new("Zeph", "Zephaniah", ["Zep"]),
        new("Hag", "Haggai", ["Hag"]),
        new("Zech", "Zechariah", ["Zec"]),
        new("Mal", "Malachi", ["Mal"]),
        new("Matt", "Matthew", ["Mt"]),
        new("Mark", "Mark", ["Mr"]),
        new("Luke", "Luke", ["Lu"]),
        new("John", "John", ["Joh"]),
        new("Acts", "Acts", ["Ac"]),
        new("Rom", "Romans", ["Ro"]),
        new("1Cor", "I Corinthians", ["1Co"]),
        new("2Cor", "II Corinthians", ["2Co"]),
        new("Gal", "Galatians", ["Ga"]),
        new("Eph", "Ephesians", ["Eph"]),
        new("Phil", "Philippians", ["Php"]),
        new("Col", "Colossians", ["Col"]),
        new("1Thess", "I Thessalonians", ["1Th"]),
        new("2Thess", "II Thessalonians", ["2Th"]),
        new("1Tim", "I Timothy", ["1Ti"]),
        new("2Tim", "II Timothy", ["2Ti"]),
        new("Titus", "Titus", ["Tit"]),
        new("Phlm", "Philemon", ["Phm"]),
        new("Heb", "Hebrews", ["Heb"]),
        new("Jas", "James", ["Jas"]),
        new("1Pet", "I Peter", ["1Pe"]),
        new("2Pet", "II Peter", ["2Pe"]),
        new("1John", "I John", ["1Jo", "1Joh"]),
        new("2John", "II John", ["2Jo"]),
        new("3John", "III John", ["3Jo"]),
        new("Jude", "Jude", ["Jude"]),
        new("Rev", "Revelation of John", ["Re"]),
    ];

    private static readonly Dictionary<string, BibleBook> BySwordName = All.ToDictionary(b => b.SwordName, StringComparer.Ordinal);

    private static readonly Dictionary<string, BibleBook> ByNaveAbbreviation =
        All.SelectMany(b => b.NaveAbbreviations.Select(a => (a, b))).ToDictionary(p => p.a, p => p.b, StringComparer.Ordinal);

    /// <summary>The book whose SWORD KJV key name is <paramref name="name"/> (case-sensitive), or null.</summary>
    public static BibleBook? FromSwordName(string name) => BySwordName.GetValueOrDefault(name);

    /// <summary>The book Nave's abbreviates as <paramref name="abbreviation"/> (case-sensitive, no period), or null.</summary>
    public static BibleBook? FromNaveAbbreviation(string abbreviation) => ByNaveAbbreviation.GetValueOrDefault(abbreviation);
}
