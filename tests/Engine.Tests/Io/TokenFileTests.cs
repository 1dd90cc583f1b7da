using System.Buffers.Binary;
using Engine.Io;

namespace Engine.Tests;

// llm.c token files: exact bytes, round trips, and every way a file can be broken giving an
// InvalidDataException that names the file, never a crash or an out-of-range read.
public sealed class TokenFileTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("token-file-tests-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private string PathOf(string name) => Path.Combine(_directory, name);

    private static byte[] FileBytes(int magic, int version, int count, params ushort[] tokens)
    {
        var bytes = new byte[TokenFile.HeaderBytes + 2 * tokens.Length];
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(0), magic);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(4), version);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(8), count);
        for (int i = 0; i < tokens.Length; i++)
            BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(TokenFile.HeaderBytes + 2 * i), tokens[i]);
        return bytes;
    }

    [Fact]
    public void Written_bytes_are_llm_c_layout_and_read_back_exactly()
    {
        int[] tokens = [Gpt2Tokenizer.EndOfText, 0, 1, 255, 256, 40000, 50255];
        string path = PathOf("train.bin");

        TokenFile.Write(path, tokens);

        var expected = FileBytes(20240520, 1, tokens.Length, [.. tokens.Select(t => (ushort)t)]);
        Assert.Equal(expected, File.ReadAllBytes(path));
        Assert.Equal(tokens, TokenFile.Read(path));
        Assert.Empty(Directory.GetFiles(_directory, "*.tmp"));
    }

    [Fact]
    public void Round_trip_of_an_empty_file_and_of_more_tokens_than_one_chunk()
    {
        string empty = PathOf("empty.bin"), large = PathOf("large.bin");
        var many = Enumerable.Range(0, 1_200_000).Select(i => (int)(i * 7919L % Gpt2Tokenizer.VocabularySize)).ToArray();

        TokenFile.Write(empty, Array.Empty<int>());
        TokenFile.Write(large, many);

        Assert.Empty(TokenFile.Read(empty));
        Assert.Equal(TokenFile.HeaderBytes, new FileInfo(empty).Length);
        Assert.Equal(many, TokenFile.Read(large));
    }

    [Fact]
    public void Write_refuses_tokens_a_uint16_cannot_hold_and_leaves_the_old_file()
    {
        string path = PathOf("keep.bin");
        TokenFile.Write(path, new[] { 1, 2, 3 });

        var error = Assert.Throws<ArgumentOutOfRangeException>(() => TokenFile.Write(path, new[] { 5, 65536 }));
        Assert.Contains("65536 at position 1", error.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => TokenFile.Write(path, new[] { -1 }));
        Assert.Equal([1, 2, 3], TokenFile.Read(path));
    }

    public static TheoryData<string, byte[], string> BrokenFiles()
    {
        var good = FileBytes(20240520, 1, 3, 10, 20, 30);
        byte[] Mutate(Action<byte[]> change)
        {
            var copy = (byte[])good.Clone();
            change(copy);
            return copy;
        }
        return new TheoryData<string, byte[], string>
        {
            { "empty", [], "shorter than the 1024-byte header" },
            { "header cut short", good[..1000], "shorter than the 1024-byte header" },
            { "wrong magic", Mutate(b => b[0] ^= 1), "magic number" },
            { "a safetensors file", Mutate(b => BinaryPrimitives.WriteInt64LittleEndian(b, 2)), "magic number" },
            { "version 2 (uint32 tokens)", Mutate(b => b[4] = 2), "version is 2" },
            { "negative count", Mutate(b => BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(8), -5)), "negative token count" },
            { "huge count", Mutate(b => BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(8), int.MaxValue)), "truncated" },
            { "count one too many", Mutate(b => b[8] = 4), "truncated" },
            { "count one too few", Mutate(b => b[8] = 2), "trailing bytes" },
            { "last token cut in half", good[..^1], "truncated" },
            { "trailing garbage", [.. good, 0, 0], "trailing bytes" },
            { "token beyond the vocabulary", FileBytes(20240520, 1, 2, 7, 50257), "token 1 is 50257" },
        };
    }

    [Theory]
    [MemberData(nameof(BrokenFiles))]
    public void Broken_files_give_InvalidDataException_naming_the_file_and_the_fault(string what, byte[] bytes, string fault)
    {
        string path = PathOf(what.Replace(' ', '-') + ".bin");
        File.WriteAllBytes(path, bytes);

        var error = Assert.Throws<InvalidDataException>(() => TokenFile.Read(path));

        Assert.StartsWith(path, error.Message);
        Assert.Contains(fault, error.Message);
    }

    [Fact]
    public void Byte_flips_and_truncations_read_or_fail_cleanly()
    {
        var good = FileBytes(20240520, 1, 4, 1, 2, 3, 50256);
        string path = PathOf("fuzz.bin");
        // The used header bytes, a stretch of the unused ones, and every token byte.
        int[] positions = [.. Enumerable.Range(0, 16), .. Enumerable.Range(TokenFile.HeaderBytes - 4, 12)];
        int failures = 0;
        var cases = positions.Select(i => { var b = (byte[])good.Clone(); b[i] ^= 0x80; return b; })
            .Concat(positions.Select(n => good[..n]));
        foreach (var bytes in cases)
        {
            File.WriteAllBytes(path, bytes);
            try
            {
                Assert.All(TokenFile.Read(path), t => Assert.InRange(t, 0, Gpt2Tokenizer.VocabularySize - 1));
            }
            catch (InvalidDataException)
            {
                failures++;
            }
        }
        // Every truncation and every flip in the magic, version or count fails (the rest of the
        // header is unused, and most flipped tokens are still in the vocabulary).
        Assert.True(failures >= positions.Length + 12, $"{failures} cases failed");
    }

    [Fact]
    public void A_vocabulary_size_given_to_Read_bounds_the_tokens()
    {
        string path = PathOf("small-vocab.bin");
        TokenFile.Write(path, new[] { 0, 9, 10 });

        Assert.Equal([0, 9, 10], TokenFile.Read(path, vocabularySize: 11));
        Assert.Contains("token 2 is 10", Assert.Throws<InvalidDataException>(() => TokenFile.Read(path, vocabularySize: 10)).Message);
    }

    [Fact]
    public void A_missing_file_is_FileNotFoundException()
    {
        Assert.Throws<FileNotFoundException>(() => TokenFile.Read(PathOf("absent.bin")));
    }
}
