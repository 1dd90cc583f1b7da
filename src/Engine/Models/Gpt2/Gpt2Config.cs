namespace Engine.Models;

/// <summary>The shape of a GPT-2-style decoder. GPT-2 small (124M) is 12 layers, 12 heads, 768 channels, vocabulary 50257, context 1024.</summary>
/// <param name="Layers">Transformer blocks.</param>
/// <param name="Heads">Attention heads per block; must divide <paramref name="Channels"/>.</param>
/// <param name="Channels">Width of the residual stream.</param>
/// <param name="VocabSize">Token vocabulary (GPT-2 BPE: 50257).</param>
/// <param name="MaxSequence">Context length: the number of learned positions.</param>
public sealed record Gpt2Config(int Layers, int Heads, int Channels, int VocabSize, int MaxSequence)
{
    /// <summary>Layer norm epsilon (GPT-2: 1e-5).</summary>
    public float LayerNormEps { get; init; } = 1e-5f;

    /// <summary>Channels per head.</summary>
    public int HeadSize => Channels / Heads;

    /// <summary>GPT-2 small: 12 layers, 12 heads, 768 channels, vocabulary 50257, context 1024 (124M parameters).</summary>
    public static Gpt2Config Small => new(12, 12, 768, 50257, 1024);

    /// <summary>Throws when the shape is impossible.</summary>
    public void Validate()
    {
        if (Layers < 1 || Heads < 1 || Channels < 1 || VocabSize < 1 || MaxSequence < 1 || Channels % Heads != 0)
            throw new ArgumentException($"Gpt2Config: {this} is not a valid model (all sizes positive, channels divisible by heads).");
    }
}
