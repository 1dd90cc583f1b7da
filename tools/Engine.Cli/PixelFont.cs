namespace Engine.Cli;

/// <summary>
/// A 3 x 5 pixel font for chart labels: digits, '.', '-', space and the capitals that axis titles
/// and legends use. Letters are drawn in upper case; other characters are drawn blank.
/// </summary>
internal static class PixelFont
{
    /// <summary>Glyph width in font pixels.</summary>
    public const int GlyphWidth = 3;

    /// <summary>Glyph height in font pixels.</summary>
    public const int GlyphHeight = 5;

    /// <summary>Horizontal distance from one glyph to the next, in font pixels.</summary>
    public const int Advance = GlyphWidth + 1;

    private static readonly string[] s_blank = ["...", "...", "...", "...", "..."];

    // Each glyph as rows of '#' (ink) and '.' (paper), top row first.
    private static readonly Dictionary<char, string[]> s_glyphs = new()
    {
        ['0'] = ["###", "#.#", "#.#", "#.#", "###"],
        ['1'] = [".#.", "##.", ".#.", ".#.", "###"],
        ['2'] = ["###", "..#", "###", "#..", "###"],
        ['3'] = ["###", "..#", ".##", "..#", "###"],
        ['4'] = ["#.#", "#.#", "###", "..#", "..#"],
        ['5'] = ["###", "#..", "###", "..#", "###"],
        ['6'] = ["###", "#..", "###", "#.#", "###"],
        ['7'] = ["###", "..#", "..#", ".#.", ".#."],
        ['8'] = ["###", "#.#", "###", "#.#", "###"],
        ['9'] = ["###", "#.#", "###", "..#", "###"],
        ['.'] = ["...", "...", "...", "...", ".#."],
        ['-'] = ["...", "...", "###", "...", "..."],
        ['A'] = [".#.", "#.#", "###", "#.#", "#.#"],
        ['E'] = ["###", "#..", "##.", "#..", "###"],
        ['I'] = ["###", ".#.", ".#.", ".#.", "###"],
        ['K'] = ["#.#", "#.#", "##.", "#.#", "#.#"],
        ['L'] = ["#..", "#..", "#..", "#..", "###"],
        ['M'] = ["#.#", "###", "###", "#.#", "#.#"],
        ['N'] = ["##.", "#.#", "#.#", "#.#", "#.#"],
        ['O'] = [".#.", "#.#", "#.#", "#.#", ".#."],
        ['P'] = ["##.", "#.#", "##.", "#..", "#.."],
        ['R'] = ["##.", "#.#", "##.", "#.#", "#.#"],
        ['S'] = [".##", "#..", ".#.", "..#", "##."],
        ['T'] = ["###", ".#.", ".#.", ".#.", ".#."],
        ['V'] = ["#.#", "#.#", "#.#", "#.#", ".#."],
    };

    /// <summary>The rows of <paramref name="c"/>'s glyph (blank for a character the font lacks).</summary>
    public static string[] Glyph(char c) => s_glyphs.GetValueOrDefault(char.ToUpperInvariant(c), s_blank);

    /// <summary>The width in pixels of <paramref name="text"/> drawn at <paramref name="scale"/>, without the gap after the last glyph.</summary>
    public static int Width(string text, int scale) => text.Length == 0 ? 0 : (text.Length * Advance - 1) * scale;
}
