namespace Engine.Models;

/// <summary>How the next token is chosen from a language model's logits.</summary>
public sealed record SamplingOptions
{
    /// <summary>Greedy decoding: always the most likely token.</summary>
    public static SamplingOptions Greedy => new() { Temperature = 0f };

    /// <summary>Logits are divided by it before sampling; 0 means greedy.</summary>
    public float Temperature { get; init; } = 1f;
    /// <summary>Sample only among the k most likely tokens; 0 keeps all.</summary>
    public int TopK { get; init; }
    /// <summary>Sample only among the most likely tokens whose probabilities add up to at least p (nucleus); 1 keeps all.</summary>
    public float TopP { get; init; } = 1f;
    /// <summary>Seed of the draws: the same seed, prompt and model give the same tokens.</summary>
    public ulong Seed { get; init; }
}

/// <summary>
/// Picks tokens from logits on the host: greedy, or temperature, top-k and top-p sampling. Draw
/// number n uses a uniform number that depends only on (seed, n), so a run is reproducible and
/// does not depend on how the logits were computed (with or without a KV cache).
/// </summary>
public static class TokenSampler
{
    /// <summary>The token chosen from <paramref name="logits"/> for draw number <paramref name="draw"/>.</summary>
    public static int Next(ReadOnlySpan<float> logits, SamplingOptions options, long draw)
    {
        if (logits.IsEmpty) throw new ArgumentException("TokenSampler: no logits.");
        if (!(options.Temperature >= 0) || options.TopK < 0 || !(options.TopP > 0 && options.TopP <= 1))
            throw new ArgumentException($"TokenSampler: temperature {options.Temperature} must be >= 0, top-k {options.TopK} >= 0 and top-p {options.TopP} in (0, 1].");
        if (options.Temperature == 0f)
            return ArgMax(logits);

        // Candidates by decreasing logit (ties: lower id first), cut to top-k.
        var order = Enumerable.Range(0, logits.Length).ToArray();
        var keys = logits.ToArray();
        Array.Sort(order, (a, b) => keys[b] != keys[a] ? keys[b].CompareTo(keys[a]) : a.CompareTo(b));
        int count = options.TopK > 0 ? Math.Min(options.TopK, order.Length) : order.Length;

        double max = keys[order[0]] / options.Temperature;
        var weights = new double[count];
        double total = 0;
        for (int i = 0; i < count; i++)
        {
            weights[i] = Math.Exp(keys[order[i]] / options.Temperature - max);
            total += weights[i];
        }
        if (options.TopP < 1f)
        {
            double cumulative = 0;
            for (int i = 0; i < count; i++)
            {
                cumulative += weights[i] / total;
                if (cumulative >= options.TopP)
                {
                    count = i + 1;
                    break;
                }
            }
            total = weights.AsSpan(0, count).ToArray().Sum();
        }

        double u = CounterRandom.Uniform(options.Seed, draw) * total;
        for (int i = 0; i < count; i++)
        {
            u -= weights[i];
            if (u < 0) return order[i];
        }
        return order[count - 1];
    }

    private static int ArgMax(ReadOnlySpan<float> logits)
    {
        int best = 0;
        for (int i = 1; i < logits.Length; i++)
            if (logits[i] > logits[best]) best = i;
        return best;
    }
}
