namespace Engine.Models;

/// <summary>Text continuation with a <see cref="Gpt2Model"/>.</summary>
public static class Gpt2Generation
{
    /// <summary>
    /// Continues <paramref name="prompt"/> (token ids) by up to <paramref name="maxNewTokens"/> tokens,
    /// stopping early when the context is full or <paramref name="stopToken"/> is produced. With
    /// <paramref name="useCache"/> each step feeds only the newest token against a KV cache;
    /// without, each step re-runs the whole sequence. Both choose the same tokens. Returns the new tokens.
    /// </summary>
    public static int[] Generate(Gpt2Model model, IReadOnlyList<int> prompt, int maxNewTokens, SamplingOptions options,
        bool useCache = true, int? stopToken = null, Action<int>? onToken = null)
    {
        if (prompt.Count == 0)
            throw new ArgumentException("Gpt2Generation: the prompt is empty; start with at least one token (GPT-2 uses <|endoftext|>, 50256).");
        if (prompt.Count > model.Config.MaxSequence)
            throw new ArgumentException($"Gpt2Generation: the prompt has {prompt.Count} tokens; the context holds {model.Config.MaxSequence}.");
        var sequence = new List<int>(prompt);
        var generated = new List<int>();
        using var noGrad = Autograd.NoGrad();
        using var cache = useCache ? new Gpt2KvCache(model, batch: 1) : null;
        var pending = prompt.ToArray();
        while (generated.Count < maxNewTokens && sequence.Count < model.Config.MaxSequence)
        {
            float[] last;
            using (var scope = model.Device.Scope())
            {
                var input = useCache ? pending : sequence.ToArray();
                var ids = Tensor.FromArray(model.Device, input, [1, input.Length]);
                var logits = model.Forward(ids, cache);
                last = logits.Narrow(1, input.Length - 1, 1).ToArray();
            }
            int token = TokenSampler.Next(last, options, generated.Count);
            generated.Add(token);
            sequence.Add(token);
            pending = [token];
            onToken?.Invoke(token);
            if (token == stopToken) break;
        }
        return generated.ToArray();
    }
}
