using Engine.Io;

namespace Engine.Tests;

// The GPT-2 tokenizer adapter: ids known from GPT-2's vocabulary, exact round trips of any text,
// and bad ids refused rather than decoded to nothing.
public sealed class Gpt2TokenizerTests
{
    private readonly Gpt2Tokenizer _tokenizer = Gpt2Tokenizer.Shared;

    [Fact]
    public void Known_texts_encode_to_gpt2_ids()
    {
        Assert.Equal([15496, 995], _tokenizer.Encode("Hello world"));
        Assert.Equal([14134, 502, 1148, 21720, 417, 13], _tokenizer.Encode("Call me Ishmael."));
        Assert.Equal([Gpt2Tokenizer.EndOfText], _tokenizer.Encode("<|endoftext|>"));
        Assert.Empty(_tokenizer.Encode(""));
    }

    [Theory]
    [InlineData("Call me Ishmael. Some years ago—never mind how long precisely—")]
    [InlineData("naïve café, ½ cup, 日本語, Ελληνικά, 🐋 and \t tabs\r\n")]
    [InlineData("  leading and trailing spaces  ")]
    [InlineData("a<|endoftext|>b")]
    public void Decode_of_Encode_is_the_text(string text)
    {
        int[] ids = _tokenizer.Encode(text);

        Assert.All(ids, id => Assert.InRange(id, 0, Gpt2Tokenizer.VocabularySize - 1));
        Assert.Equal(text, _tokenizer.Decode(ids));
    }

    [Fact]
    public void Decode_refuses_ids_outside_the_vocabulary()
    {
        Assert.Contains("id 50257 at position 1", Assert.Throws<ArgumentOutOfRangeException>(() => _tokenizer.Decode([1, Gpt2Tokenizer.VocabularySize])).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => _tokenizer.Decode([-1]));
        Assert.Equal("<|endoftext|>", _tokenizer.Decode([Gpt2Tokenizer.EndOfText]));
    }
}
