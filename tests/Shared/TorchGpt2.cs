using Engine.Models;
using TT = TorchSharp.torch;

namespace Engine.TorchReference;

/// <summary>
/// GPT-2 written directly in libtorch ops: an independent implementation (explicit causal
/// masked_fill and softmax, not SDPA) over Hugging Face-named parameters. The tests run it in
/// float64 on the engine model's weights as the oracle (as llm.c's test_gpt2 checks its model
/// against PyTorch); the benchmark trains it in float32 as the peer. Shared by both projects.
/// </summary>
internal sealed class TorchGpt2 : IDisposable
{
    private readonly Gpt2Config _c;

    /// <summary>A model over <paramref name="weights"/> (every GPT-2 parameter name), made trainable parameters.</summary>
    public TorchGpt2(Gpt2Config config, IEnumerable<KeyValuePair<string, TT.Tensor>> weights)
    {
        _c = config;
        Parameters = weights.ToDictionary(kv => kv.Key, kv => new TorchSharp.Modules.Parameter(kv.Value));
    }

    /// <summary>Weights initialised as GPT-2 does (N(0, 0.02), residual projections scaled, biases 0, gains 1), in <paramref name="dtype"/>.</summary>
    public static TorchGpt2 Initialized(Gpt2Config config, TT.ScalarType dtype, long seed)
    {
        TT.random.manual_seed(seed);
        double projectionStd = 0.02 / Math.Sqrt(2.0 * config.Layers);
        var weights = Gpt2Names.Parameters(config).Select(p =>
        {
            var shape = p.Shape.Select(d => (long)d).ToArray();
            var t = p.Name.EndsWith(".bias") ? TT.zeros(shape, dtype)
                : p.Name.Contains("ln_") ? TT.ones(shape, dtype)
                : TT.randn(shape, dtype) * (p.Name.EndsWith("c_proj.weight") ? projectionStd : 0.02);
            return KeyValuePair.Create(p.Name, t);
        });
        return new TorchGpt2(config, weights.ToList());
    }

    public Dictionary<string, TorchSharp.Modules.Parameter> Parameters { get; }

    private TT.Tensor P(string name) => Parameters[name];

    public TT.Tensor Logits(int[] ids, int batch, int tokens)
    {
        int ch = _c.Channels, heads = _c.Heads, hs = ch / heads;
        var idx = TT.tensor(ids.Select(i => (long)i).ToArray(), [batch, tokens], TT.ScalarType.Int64);
        var x = P("wte.weight").index_select(0, idx.flatten()).reshape(batch, tokens, ch) + P("wpe.weight").narrow(0, 0, tokens);
        var causal = TT.ones(tokens, tokens, TT.ScalarType.Bool).triu(1);
        for (int l = 0; l < _c.Layers; l++)
        {
            string p = $"h.{l}.";
            var h = TT.nn.functional.layer_norm(x, [ch], P(p + "ln_1.weight"), P(p + "ln_1.bias"), 1e-5);
            var qkv = h.matmul(P(p + "attn.c_attn.weight")) + P(p + "attn.c_attn.bias");
            var parts = qkv.split(ch, -1);
            TT.Tensor Heads(TT.Tensor t) => t.reshape(batch, tokens, heads, hs).transpose(1, 2);
            var q = Heads(parts[0]);
            var k = Heads(parts[1]);
            var v = Heads(parts[2]);
            var scores = q.matmul(k.transpose(-2, -1)) / Math.Sqrt(hs);
            var attention = TT.nn.functional.softmax(scores.masked_fill(causal, double.NegativeInfinity), -1);
            var y = attention.matmul(v).transpose(1, 2).reshape(batch, tokens, ch);
            x = x + y.matmul(P(p + "attn.c_proj.weight")) + P(p + "attn.c_proj.bias");
            h = TT.nn.functional.layer_norm(x, [ch], P(p + "ln_2.weight"), P(p + "ln_2.bias"), 1e-5);
            var fc = h.matmul(P(p + "mlp.c_fc.weight")) + P(p + "mlp.c_fc.bias");
            var gelu = 0.5 * fc * (1 + TT.tanh(Math.Sqrt(2 / Math.PI) * (fc + 0.044715 * fc.pow(3))));
            x = x + gelu.matmul(P(p + "mlp.c_proj.weight")) + P(p + "mlp.c_proj.bias");
        }
        x = TT.nn.functional.layer_norm(x, [ch], P("ln_f.weight"), P("ln_f.bias"), 1e-5);
        return x.matmul(P("wte.weight").t());
    }

    public TT.Tensor Loss(int[] ids, int[] targets, int batch, int tokens)
    {
        var logits = Logits(ids, batch, tokens);
        var t = TT.tensor(targets.Select(i => (long)i).ToArray(), TT.ScalarType.Int64);
        return TT.nn.functional.cross_entropy(logits.reshape(batch * tokens, _c.VocabSize), t);
    }

    public void Dispose()
    {
        foreach (var p in Parameters.Values) p.Dispose();
    }
}
