namespace Engine.Models;

/// <summary>
/// Parameter names and shapes of the GPT-2 decoder as Hugging Face's GPT2Model names them, so
/// checkpoints interoperate. Its Conv1D layers store weights [in, out] (y = x W + b). The LM head
/// is tied to <c>wte.weight</c> and has no parameter of its own.
/// </summary>
internal static class Gpt2Names
{
    public static IEnumerable<(string Name, int[] Shape)> Parameters(Gpt2Config c)
    {
        int ch = c.Channels;
        yield return ("wte.weight", [c.VocabSize, ch]);
        yield return ("wpe.weight", [c.MaxSequence, ch]);
        for (int i = 0; i < c.Layers; i++)
        {
            string p = $"h.{i}.";
            yield return (p + "ln_1.weight", [ch]);
            yield return (p + "ln_1.bias", [ch]);
            yield return (p + "attn.c_attn.weight", [ch, 3 * ch]);
            yield return (p + "attn.c_attn.bias", [3 * ch]);
            yield return (p + "attn.c_proj.weight", [ch, ch]);
            yield return (p + "attn.c_proj.bias", [ch]);
            yield return (p + "ln_2.weight", [ch]);
            yield return (p + "ln_2.bias", [ch]);
            yield return (p + "mlp.c_fc.weight", [ch, 4 * ch]);
            yield return (p + "mlp.c_fc.bias", [4 * ch]);
            yield return (p + "mlp.c_proj.weight", [4 * ch, ch]);
            yield return (p + "mlp.c_proj.bias", [ch]);
        }
        yield return ("ln_f.weight", [ch]);
        yield return ("ln_f.bias", [ch]);
    }

    /// <summary>Matrices take weight decay; biases, layer norm parameters and nothing else 1-D do not (as GPT-2 trainers do).</summary>
    public static bool Decays(string name) => !name.EndsWith(".bias", StringComparison.Ordinal) && !name.Contains("ln_", StringComparison.Ordinal);
}
