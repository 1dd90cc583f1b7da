using Microsoft.ML.Tokenizers;

namespace Engine.Models;

/// <summary>How token vectors become one sentence vector.</summary>
public enum Pooling
{
    /// <summary>Mean over the non-padding tokens (sentence-transformers' default, all-MiniLM-L6-v2).</summary>
    Mean,
    /// <summary>The first token's vector ([CLS]; Snowflake Arctic embed).</summary>
    Cls,
}

/// <summary>
/// Sentence embeddings from a BERT encoder: WordPiece tokenization, batches padded to their
/// longest member (texts are grouped by length to waste little on padding), the encoder, pooling
/// and L2 normalisation, as sentence-transformers computes them.
/// Truncation: a text longer than <see cref="MaxTokens"/> tokens (special tokens included) keeps
/// its first MaxTokens - 2 word pieces between [CLS] and [SEP]. MaxTokens defaults to the model's
/// position count (512); sentence-transformers uses 256 for all-MiniLM-L6-v2, so pass 256 to
/// reproduce its vectors for long texts exactly.
/// Thread-safe: one encoder may embed from many threads at once.
/// </summary>
public sealed class SentenceEncoder : IDisposable
{
    private readonly BertTokenizer _tokenizer;

    /// <summary>Wraps an encoder and its tokenizer.</summary>
    public SentenceEncoder(BertEncoder encoder, BertTokenizer tokenizer, Pooling pooling, bool normalize = true, int? maxTokens = null)
    {
        Encoder = encoder;
        _tokenizer = tokenizer;
        Pooling = pooling;
        Normalize = normalize;
        MaxTokens = maxTokens ?? encoder.Config.MaxPositions;
        if (MaxTokens < 2 || MaxTokens > encoder.Config.MaxPositions)
            throw new ArgumentException($"SentenceEncoder: maxTokens {MaxTokens} must be in [2, {encoder.Config.MaxPositions}].");
    }

    /// <summary>The BERT encoder.</summary>
    public BertEncoder Encoder { get; }
    /// <summary>The pooling applied to the encoder's output.</summary>
    public Pooling Pooling { get; }
    /// <summary>Whether vectors are scaled to unit length.</summary>
    public bool Normalize { get; }
    /// <summary>Most tokens per text, [CLS] and [SEP] included.</summary>
    public int MaxTokens { get; }

    /// <summary>Token ids of one text: [CLS], its word pieces (truncated), [SEP].</summary>
    public int[] Tokenize(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var pieces = _tokenizer.EncodeToIds(text, addSpecialTokens: false);
        var kept = pieces.Count > MaxTokens - 2 ? pieces.Take(MaxTokens - 2) : pieces;
        return _tokenizer.BuildInputsWithSpecialTokens(kept).ToArray();
    }

    /// <summary>One vector per text, in the order given.</summary>
    public float[][] Embed(IReadOnlyList<string> texts, int batchSize = 32)
    {
        if (batchSize < 1) throw new ArgumentException($"SentenceEncoder.Embed: batch size {batchSize} must be positive.");
        var tokenized = texts.Select(Tokenize).ToArray();
        var order = Enumerable.Range(0, texts.Count).OrderBy(i => tokenized[i].Length).ToArray();
        var result = new float[texts.Count][];
        for (int start = 0; start < order.Length; start += batchSize)
        {
            var members = order.AsSpan(start, Math.Min(batchSize, order.Length - start)).ToArray();
            var vectors = EmbedBatch(members.Select(i => tokenized[i]).ToArray());
            for (int j = 0; j < members.Length; j++) result[members[j]] = vectors[j];
        }
        return result;
    }

    /// <summary>The encoder's last_hidden_state [B, T, hidden] for token id sequences padded to the longest.</summary>
    public Tensor LastHiddenState(IReadOnlyList<int[]> sequences)
    {
        using var scope = Encoder.Device.Scope();
        var (ids, mask) = BertEncoder.Pad(Encoder.Device, sequences);
        return scope.Keep(Encoder.Forward(ids, mask));
    }

    private float[][] EmbedBatch(int[][] sequences)
    {
        using var scope = Encoder.Device.Scope();
        var (ids, mask) = BertEncoder.Pad(Encoder.Device, sequences);
        var hidden = Encoder.Forward(ids, mask).ToArray();
        int tokens = ids.Size(1), width = Encoder.Config.Hidden;
        var vectors = new float[sequences.Length][];
        for (int b = 0; b < sequences.Length; b++)
        {
            var vector = new float[width];
            int count = Pooling == Pooling.Cls ? 1 : sequences[b].Length;
            for (int t = 0; t < count; t++)
            {
                var row = hidden.AsSpan((b * tokens + t) * width, width);
                for (int c = 0; c < width; c++) vector[c] += row[c];
            }
            double norm = 0;
            for (int c = 0; c < width; c++)
            {
                vector[c] /= count;
                norm += (double)vector[c] * vector[c];
            }
            if (Normalize)
            {
                // sentence-transformers divides by max(norm, 1e-12).
                float scale = (float)(1 / Math.Max(Math.Sqrt(norm), 1e-12));
                for (int c = 0; c < width; c++) vector[c] *= scale;
            }
            vectors[b] = vector;
        }
        return vectors;
    }

    /// <summary>Frees the encoder's weights.</summary>
    public void Dispose() => Encoder.Dispose();
}
