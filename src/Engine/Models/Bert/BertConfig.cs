namespace Engine.Models;

/// <summary>The sizes of a BERT encoder, as Hugging Face's BertConfig names them.</summary>
/// <param name="VocabSize">Rows of the word embedding table.</param>
/// <param name="Hidden">Width of every hidden state (hidden_size).</param>
/// <param name="Layers">Number of encoder layers (num_hidden_layers).</param>
/// <param name="Heads">Attention heads per layer (num_attention_heads); <see cref="Hidden"/> is a multiple of it.</param>
/// <param name="Intermediate">Width of the feed-forward layer (intermediate_size).</param>
/// <param name="MaxPositions">Rows of the position embedding table (max_position_embeddings).</param>
/// <param name="TypeVocabSize">Rows of the token type embedding table (type_vocab_size).</param>
/// <param name="LayerNormEps">The epsilon every LayerNorm adds to the variance (layer_norm_eps).</param>
public sealed record BertConfig(int VocabSize, int Hidden, int Layers, int Heads, int Intermediate, int MaxPositions, int TypeVocabSize, float LayerNormEps)
{
    /// <summary>Width of one attention head: <see cref="Hidden"/> / <see cref="Heads"/>.</summary>
    public int HeadSize => Hidden / Heads;
}
