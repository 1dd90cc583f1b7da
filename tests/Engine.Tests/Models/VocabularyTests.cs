using System.Text;
using Engine.Models;

namespace Engine.Tests;

// A corrupt vocabulary is a clear InvalidDataException naming the source, never a crash or a
// tokenizer that silently maps words to the wrong ids.
public sealed class VocabularyTests
{
    private static readonly string[] Tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "whale", "##s", "call", "me", "ish", "##mael", "."];

    private static byte[] Vocabulary(IEnumerable<string> tokens, string newline = "\n") => Encoding.UTF8.GetBytes(string.Join(newline, tokens) + newline);

    [Fact]
    public void A_valid_vocabulary_tokenizes()
    {
        var tokenizer = PretrainedBert.LoadVocabulary("vocab.txt", Vocabulary(Tokens, "\r\n"), Tokens.Length);
        Assert.Equal([2, 9, 8, 6, 7, 12, 3], tokenizer.EncodeToIds("Me call whales.").ToArray());
    }

    public static TheoryData<string, byte[], string> Corruptions() => new()
    {
        { "too few tokens", Vocabulary(Tokens[..^1]), "12 tokens" },
        { "too many tokens", Vocabulary([.. Tokens, "extra"]), "14 tokens" },
        { "duplicate token", Vocabulary([.. Tokens[..^1], "whale"]), "'whale' appears twice" },
        { "missing special token", Vocabulary(Tokens.Select(t => t == "[MASK]" ? "mask" : t)), "[MASK]" },
        { "empty line", Vocabulary(Tokens.Select(t => t == "the" ? "" : t)), "line 6" },
        { "whitespace in a token", Vocabulary(Tokens.Select(t => t == "the" ? "t he" : t)), "line 6" },
        { "invalid UTF-8", [.. Vocabulary(Tokens)[..^3], 0xC3, 0x28, (byte)'\n'], "not valid UTF-8" },
        { "empty file", [], "0 tokens" },
    };

    [Theory]
    [MemberData(nameof(Corruptions))]
    public void A_corrupt_vocabulary_is_a_clear_error(string what, byte[] bytes, string fragment)
    {
        var error = Assert.Throws<InvalidDataException>(() => PretrainedBert.LoadVocabulary("vocab.txt", bytes, Tokens.Length));
        Assert.StartsWith("vocab.txt: ", error.Message);
        Assert.True(error.Message.Contains(fragment), $"{what}: {error.Message}");
    }

    [Fact]
    public void Mutated_vocabularies_load_or_fail_cleanly()
    {
        var random = new Random(20261128);
        var valid = Vocabulary(Tokens);
        int loaded = 0;
        for (int i = 0; i < 3000; i++)
        {
            var bytes = (byte[])valid.Clone();
            switch (random.Next(3))
            {
                case 0: bytes[random.Next(bytes.Length)] = (byte)random.Next(256); break;
                case 1: bytes = bytes[..random.Next(bytes.Length)]; break;
                default: bytes = [.. bytes, .. Enumerable.Range(0, random.Next(1, 8)).Select(_ => (byte)random.Next(256))]; break;
            }
            try
            {
                var tokenizer = PretrainedBert.LoadVocabulary("vocab.txt", bytes, Tokens.Length);
                tokenizer.EncodeToIds("call me ishmael, the whales");
                loaded++;
            }
            catch (InvalidDataException)
            {
            }
        }
        Assert.InRange(loaded, 1, 2999);
    }
}
