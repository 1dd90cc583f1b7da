using TT = TorchSharp.torch;

namespace Engine.Tests;

/// <summary>
/// GPT-2 written directly in libtorch ops (an independent implementation: explicit causal
/// masked_fill and softmax, not SDPA), over float64 copies of the engine model's weights, as
/// llm.c's test_gpt2 checks its model against PyTorch's.
/// </summary>
internal sealed class Gpt2Reference : IDisposable
{
    private readonly Gpt2ConfigView _c;

    public Gpt2Reference(Engine.Models.Gpt2Model model)
    {
        var c = model.Config;
        _c = new Gpt2ConfigView(c.Layers, c.Heads, c.Channels, c.VocabSize);
        Parameters = model.Parameters.ToDictionary(kv => kv.Key, kv => new TorchSharp.Modules.Parameter(Oracle.ToTorch(kv.Value)));
    }

    private sealed record Gpt2ConfigView(int Layers, int Heads, int Channels, int Vocab);

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
        return TT.nn.functional.cross_entropy(logits.reshape(batch * tokens, _c.Vocab), t);
    }

    public void Dispose()
    {
        foreach (var p in Parameters.Values) p.Dispose();
    }
}
