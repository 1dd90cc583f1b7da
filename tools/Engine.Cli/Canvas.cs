namespace Engine.Cli;

/// <summary>An 8-bit colour.</summary>
internal readonly record struct Rgb(byte R, byte G, byte B);

/// <summary>
/// An RGB raster to draw charts on: pixels, filled rectangles, thick lines and text in
/// <see cref="PixelFont"/>. Drawing outside the raster is clipped, never an error.
/// </summary>
internal sealed class Canvas
{
    private readonly byte[] _pixels;

    /// <summary>A <paramref name="width"/> x <paramref name="height"/> raster filled with <paramref name="background"/>.</summary>
    public Canvas(int width, int height, Rgb background)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        Width = width;
        Height = height;
        _pixels = new byte[3 * width * height];
        FillRectangle(0, 0, width, height, background);
    }

    /// <summary>The width in pixels.</summary>
    public int Width { get; }

    /// <summary>The height in pixels.</summary>
    public int Height { get; }

    /// <summary>The pixels, row-major RGB, top row first.</summary>
    public ReadOnlySpan<byte> Pixels => _pixels;

    /// <summary>The colour of pixel (<paramref name="x"/>, <paramref name="y"/>), y counting down from the top.</summary>
    public Rgb this[int x, int y]
    {
        get
        {
            int i = 3 * (y * Width + x);
            return new Rgb(_pixels[i], _pixels[i + 1], _pixels[i + 2]);
        }
    }

    /// <summary>Paints pixel (<paramref name="x"/>, <paramref name="y"/>); a pixel outside the raster is skipped.</summary>
    public void SetPixel(int x, int y, Rgb color)
    {
        if ((uint)x >= (uint)Width || (uint)y >= (uint)Height)
            return;
        int i = 3 * (y * Width + x);
        _pixels[i] = color.R;
        _pixels[i + 1] = color.G;
        _pixels[i + 2] = color.B;
    }

    /// <summary>Paints the pixels of the rectangle whose top-left corner is (<paramref name="x"/>, <paramref name="y"/>), clipped to the raster.</summary>
    public void FillRectangle(int x, int y, int width, int height, Rgb color)
    {
        for (int row = y; row < y + height; row++)
            for (int column = x; column < x + width; column++)
                SetPixel(column, row, color);
    }

    /// <summary>
    /// A line from (x0, y0) to (x1, y1) by Bresenham's algorithm, each point stamped as a square of
    /// side <paramref name="thickness"/>.
    /// </summary>
    public void Line(int x0, int y0, int x1, int y1, Rgb color, int thickness = 1)
    {
        int dx = Math.Abs(x1 - x0), dy = -Math.Abs(y1 - y0);
        int stepX = x0 < x1 ? 1 : -1, stepY = y0 < y1 ? 1 : -1;
        int error = dx + dy, offset = thickness / 2;
        while (true)
        {
            FillRectangle(x0 - offset, y0 - offset, thickness, thickness, color);
            if (x0 == x1 && y0 == y1)
                return;
            int twice = 2 * error;
            if (twice >= dy)
            {
                error += dy;
                x0 += stepX;
            }
            if (twice <= dx)
            {
                error += dx;
                y0 += stepY;
            }
        }
    }

    /// <summary>Draws <paramref name="text"/> with its top-left corner at (x, y), each font pixel a <paramref name="scale"/>-sided square.</summary>
    public void Text(int x, int y, string text, Rgb color, int scale = 2)
    {
        foreach (char c in text)
        {
            var rows = PixelFont.Glyph(c);
            for (int row = 0; row < PixelFont.GlyphHeight; row++)
                for (int column = 0; column < PixelFont.GlyphWidth; column++)
                    if (rows[row][column] == '#')
                        FillRectangle(x + column * scale, y + row * scale, scale, scale, color);
            x += PixelFont.Advance * scale;
        }
    }

    /// <summary>The PNG file of the raster.</summary>
    public byte[] EncodePng() => Png.Encode(Width, Height, _pixels);
}
