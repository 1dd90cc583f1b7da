using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using Engine.Cli;

namespace Engine.Tests;

// The loss chart and its PNG encoder, checked by decoding the file as a PNG reader would: the
// signature, each chunk's CRC (by a bitwise CRC-32 written here, not the encoder's table), the
// header, and the zlib-compressed rows decompressing to the image's exact size and pixels.
public sealed class LossChartPngTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("loss-chart-tests-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private static uint BitwiseCrc32(ReadOnlySpan<byte> data)
    {
        uint crc = 0xFFFFFFFF;
        foreach (byte b in data)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++)
                crc = (crc >> 1) ^ (0xEDB88320u & (uint)-(int)(crc & 1));
        }
        return ~crc;
    }

    private sealed record Chunk(string Type, byte[] Data);

    private static List<Chunk> Chunks(byte[] png)
    {
        Assert.Equal(Png.Signature.ToArray(), png[..8]);
        var chunks = new List<Chunk>();
        int position = 8;
        while (position < png.Length)
        {
            int length = BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(position));
            var typeAndData = png.AsSpan(position + 4, 4 + length);
            uint crc = BinaryPrimitives.ReadUInt32BigEndian(png.AsSpan(position + 8 + length));
            Assert.Equal(BitwiseCrc32(typeAndData), crc);
            chunks.Add(new Chunk(Encoding.ASCII.GetString(typeAndData[..4]), typeAndData[4..].ToArray()));
            position += 12 + length;
        }
        Assert.Equal(png.Length, position);
        return chunks;
    }

    private static (int Width, int Height, byte[] Rows) Decode(byte[] png)
    {
        var chunks = Chunks(png);
        Assert.Equal(["IHDR", "IDAT", "IEND"], chunks.Select(c => c.Type));
        var header = chunks[0].Data;
        Assert.Equal(13, header.Length);
        Assert.Equal([8, 2, 0, 0, 0], header[8..]);
        Assert.Empty(chunks[2].Data);
        using var zlib = new ZLibStream(new MemoryStream(chunks[1].Data), CompressionMode.Decompress);
        var rows = new MemoryStream();
        zlib.CopyTo(rows);
        return (BinaryPrimitives.ReadInt32BigEndian(header), BinaryPrimitives.ReadInt32BigEndian(header.AsSpan(4)), rows.ToArray());
    }

    [Fact]
    public void Crc32_matches_the_standard_check_value()
    {
        Assert.Equal(0xCBF43926u, Png.Crc32("123456789"u8));
        Assert.Equal(0xAE426082u, Png.Crc32("IEND"u8));
    }

    [Fact]
    public void A_small_image_encodes_to_a_valid_png_whose_rows_are_its_pixels()
    {
        byte[] rgb = [255, 0, 0, 0, 255, 0, 0, 0, 255, 9, 8, 7, 1, 2, 3, 250, 251, 252];

        var (width, height, rows) = Decode(Png.Encode(3, 2, rgb));

        Assert.Equal((3, 2), (width, height));
        Assert.Equal([0, .. rgb[..9], 0, .. rgb[9..]], rows);
        Assert.Throws<ArgumentException>(() => Png.Encode(3, 2, rgb[..17]));
    }

    [Fact]
    public void The_loss_chart_is_a_640x400_png_with_both_curves_drawn()
    {
        var train = Enumerable.Range(0, 200).Select(s => ((long)s, 10f * MathF.Exp(-s / 40f) + 3f)).ToList();
        var validation = Enumerable.Range(0, 11).Select(i => ((long)(20 * i), 10f * MathF.Exp(-20 * i / 40f) + 3.3f)).ToList();
        train[57] = (57, float.NaN);
        string path = Path.Combine(_directory, "loss.png");

        LossChart.Write(path, train, validation);

        var (width, height, rows) = Decode(File.ReadAllBytes(path));
        Assert.Equal((640, 400), (width, height));
        Assert.Equal(height * (1 + 3 * width), rows.Length);
        var canvas = LossChart.Render(train, validation);
        Assert.Equal(canvas.Pixels.ToArray(), Enumerable.Range(0, height).SelectMany(y => rows.Skip(y * (1 + 3 * width) + 1).Take(3 * width)).ToArray());
        var colors = Enumerable.Range(0, width * height).Select(i => canvas[i % width, i / width]).ToHashSet();
        Assert.Contains(new Rgb(31, 119, 180), colors);
        Assert.Contains(new Rgb(230, 110, 0), colors);
    }

    [Fact]
    public void Empty_flat_and_non_finite_series_still_draw()
    {
        Assert.Equal(640, LossChart.Render([], []).Width);
        Assert.Equal(400, LossChart.Render([(5, 2.5f)], [(5, 2.5f)]).Height);
        Assert.Equal(400, LossChart.Render([(0, float.NaN), (1, float.PositiveInfinity)], []).Height);
        Assert.Throws<ArgumentOutOfRangeException>(() => LossChart.Render([], [], width: 100, height: 100));
    }
}
