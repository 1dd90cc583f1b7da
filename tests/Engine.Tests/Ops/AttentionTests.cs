using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using TT = TorchSharp.torch;

namespace Engine.Tests;

/// <summary>One generated attention problem.</summary>
public sealed record AttentionCase(int Tokens, int HeadSize, bool Causal, bool Decode, int KvGroups, string Mask, float Magnitude, ulong Seed)
{
    public override string ToString() =>
        $"T {Tokens}, D {HeadSize}, causal {Causal}, decode {Decode}, kv groups {KvGroups}, mask {Mask}, magnitude {Magnitude}, seed {Seed}";

    public static Arbitrary<AttentionCase> Arbitrary() =>
        (from tokens in Gen.Elements(1, 7, 64, 129, 1000)
         from headSize in Gen.Elements(16, 32, 64, 80)
         from causal in Gen.Elements(false, true)
         from decode in Gen.Elements(false, false, true)
         from groups in Gen.Elements(1, 2)
         from mask in Gen.Elements("none", "none", "padding", "random", "additive")
         from magnitude in Gen.Elements(1f, 1f, 30f)
         from seed in Gen.Choose(0, int.MaxValue)
         select new AttentionCase(tokens, headSize, causal, decode, groups, mask, magnitude, (ulong)seed)).ToArbitrary();
}

// The fused scaled dot-product attention against an explicit float64 torch computation (scores,
// masks, softmax, with fully masked rows set to zero as the engine defines them), forward and
// gradients. Bounds: output 1e-5 relative like softmax; dv 1e-4 relative (a product and a
// softmax, reductions over T and D). dq and dk are sums of ds_ij = p_ij (dp_ij - D_i) times keys or
// queries, and with large logits (a saturated softmax) or a single visible key the ds terms cancel
// to a small remainder that float32 cannot resolve relative to itself, whoever computes it (the
// flash formulation takes D_i = dout_i . out_i, torch's materialized one sum_j p_ij dp_ij: both
// round differently). They are judged like sums, against their condition: 1e-4 of
// || scale * (p (|dp| + |D|)) |k| || (for dq; |q| for dk), or of their own norm if larger.
public abstract class AttentionSuite<TFixture>(TFixture backend) : IClassFixture<TFixture> where TFixture : BackendFixture
{
    private Device D => backend.Device;

    private static (Tensor Engine, TT.Tensor Torch) Leaf(Tensor values)
    {
        values.RequiresGrad = true;
        return (values, Oracle.ToTorch(values).requires_grad_(true));
    }

    /// <summary>softmax(scale q k^T + mask) v in float64 torch, rows with every key masked giving 0, heads of k and v repeated for grouped queries.</summary>
    private static TT.Tensor Reference(TT.Tensor q, TT.Tensor k, TT.Tensor v, TT.Tensor? additive, bool causal, double scale)
    {
        var (p, _, vv) = Probabilities(q, k, v, additive, causal, scale);
        return p.matmul(vv);
    }

    /// <summary>The attention probabilities [B, Hq, Tq, Tk] (fully masked rows all 0) and k, v with their heads repeated to Hq.</summary>
    private static (TT.Tensor P, TT.Tensor K, TT.Tensor V) Probabilities(TT.Tensor q, TT.Tensor k, TT.Tensor v, TT.Tensor? additive, bool causal, double scale)
    {
        long hq = q.shape[1], hkv = k.shape[1], tq = q.shape[2], tk = k.shape[2];
        if (hq != hkv)
        {
            k = k.repeat_interleave(hq / hkv, 1);
            v = v.repeat_interleave(hq / hkv, 1);
        }
        var scores = q.matmul(k.transpose(-1, -2)) * scale;
        if (additive is not null) scores = scores + additive;
        if (causal)
        {
            var above = TT.ones(tq, tk, TT.ScalarType.Bool).triu(tk - tq + 1);
            scores = scores.masked_fill(above, double.NegativeInfinity);
        }
        // Rows with every key masked: softmax over zeros instead (finite gradients), then zeroed.
        var allMasked = scores.isneginf().all(-1, keepdim: true);
        var p = TT.nn.functional.softmax(TT.where(allMasked, TT.zeros_like(scores), scores), -1);
        return (TT.where(allMasked, TT.zeros_like(p), p), k, v);
    }

    private Tensor? MakeMask(AttentionCase c, int batch, int heads, int tq, int tk, Random random)
    {
        switch (c.Mask)
        {
            case "padding":
            {
                // Key padding [B, 1, 1, Tk] as int32 booleans: a random number of trailing keys dropped, at least one kept.
                var keep = new int[batch * tk];
                for (int b = 0; b < batch; b++)
                {
                    int valid = random.Next(1, tk + 1);
                    for (int j = 0; j < tk; j++) keep[b * tk + j] = j < valid ? 1 : 0;
                }
                return Tensor.FromArray(D, keep, [batch, 1, 1, tk]);
            }
            case "random":
            {
                // [B, H, Tq, Tk] booleans with some query rows fully masked.
                var keep = new int[batch * heads * tq * tk];
                for (int r = 0; r < batch * heads * tq; r++)
                {
                    bool allMasked = random.Next(6) == 0;
                    for (int j = 0; j < tk; j++) keep[r * tk + j] = !allMasked && random.Next(4) != 0 ? 1 : 0;
                }
                return Tensor.FromArray(D, keep, [batch, heads, tq, tk]);
            }
            case "additive":
                return Tensor.Randn(D, [tq, tk], c.Seed + 7, 0f, 2f);
            default:
                return null;
        }
    }

    private static TT.Tensor? TorchMask(Tensor? mask) => mask is null ? null
        : mask.DType == DType.Int32
            ? TT.where(Oracle.ToTorchIndex(mask) != 0, TT.tensor(0.0, TT.ScalarType.Float64), TT.tensor(double.NegativeInfinity, TT.ScalarType.Float64))
            : Oracle.ToTorch(mask);

    [Property(MaxTest = 10, Arbitrary = [typeof(AttentionCase)])]
    public void Attention_and_its_gradients_match_torch(AttentionCase c)
    {
        using var scope = D.Scope();
        var random = new Random((int)(c.Seed % int.MaxValue));
        int tk = Math.Min(c.Tokens, backend.MaxDim);
        int tq = c.Decode ? 1 : tk;
        int batch = 2, hq = 2 * c.KvGroups, hkv = 2, d = backend is SimdFixture ? c.HeadSize : Math.Min(c.HeadSize, 16);
        var (q, tqT) = Leaf(Tensor.Randn(D, [batch, hq, tq, d], c.Seed, 0f, c.Magnitude));
        var (k, tkT) = Leaf(Tensor.Randn(D, [batch, hkv, tk, d], c.Seed + 1));
        var (v, tvT) = Leaf(Tensor.Randn(D, [batch, hkv, tk, d], c.Seed + 2));
        var mask = MakeMask(c, batch, hq, tq, tk, random);
        float scale = 1f / MathF.Sqrt(d);

        var y = F.ScaledDotProductAttention(q, k, v, c.Causal, mask);
        var ty = Reference(tqT, tkT, tvT, TorchMask(mask), c.Causal, scale);
        Oracle.AssertClose(y, ty, 1e-5, $"attention output {c}");

        var w = Tensor.Randn(D, y.Shape, c.Seed + 3);
        F.Sum(y * w).Backward();
        (ty * Oracle.ToTorch(w)).sum().backward();

        Oracle.AssertClose(v.Grad!, tvT.grad!, 1e-4, $"attention dv {c}");
        var (conditionQ, conditionK) = Conditions(tqT.detach(), tkT.detach(), tvT.detach(), TorchMask(mask), c.Causal, scale, Oracle.ToTorch(w), ty.detach());
        AssertCloseTo(q.Grad!, tqT.grad!, conditionQ, $"attention dq {c}");
        AssertCloseTo(k.Grad!, tkT.grad!, conditionK, $"attention dk {c}");
    }

    private static void AssertCloseTo(Tensor actual, TT.Tensor reference, double condition, string what)
    {
        var expected = Oracle.Values(reference);
        var values = actual.ToArray();
        Assert.All(values, x => Assert.True(float.IsFinite(x), $"{what}: a non-finite value"));
        double diff = Math.Sqrt(values.Select((x, i) => (x - expected[i]) * (x - expected[i])).Sum());
        double norm = Math.Sqrt(expected.Select(x => x * x).Sum());
        Assert.True(diff <= 1e-4 * Math.Max(norm, condition) + 1e-30, $"{what}: error {diff:E3}, norm {norm:E3}, condition {condition:E3}");
    }

    /// <summary>Norms of scale * (p (|dp| + |D|)) |k| and its transpose with |q|: the size of the terms whose sum dq and dk are.</summary>
    private static (double Q, double K) Conditions(TT.Tensor q, TT.Tensor k, TT.Tensor v, TT.Tensor? additive, bool causal, double scale, TT.Tensor dout, TT.Tensor output)
    {
        var (p, kk, vv) = Probabilities(q, k, v, additive, causal, scale);
        var dp = dout.matmul(vv.transpose(-1, -2));
        var d = (dout * output).sum(-1, keepdim: true);
        var terms = p * (dp.abs() + d.abs()) * scale;
        return (terms.matmul(kk.abs()).norm().item<double>(), terms.transpose(-1, -2).matmul(q.abs()).norm().item<double>());
    }

    [Fact]
    public void Attention_matches_torch_sdpa_on_the_causal_case()
    {
        using var scope = D.Scope();
        int t = Math.Min(33, backend.MaxDim);
        var q = Tensor.Randn(D, [2, 3, t, 16], 1);
        var k = Tensor.Randn(D, [2, 3, t, 16], 2);
        var v = Tensor.Randn(D, [2, 3, t, 16], 3);
        var expected = TT.nn.functional.scaled_dot_product_attention(Oracle.ToTorch(q), Oracle.ToTorch(k), Oracle.ToTorch(v), is_casual: true);
        Oracle.AssertClose(F.ScaledDotProductAttention(q, k, v, causal: true), expected, 1e-5, "causal attention vs torch SDPA");
    }

    [Fact]
    public void A_fully_masked_row_gives_zeros_and_no_nan_gradients()
    {
        using var scope = D.Scope();
        var (q, _) = Leaf(Tensor.Randn(D, [1, 1, 3, 8], 1));
        var (k, _) = Leaf(Tensor.Randn(D, [1, 1, 4, 8], 2));
        var (v, _) = Leaf(Tensor.Randn(D, [1, 1, 4, 8], 3));
        var mask = Tensor.FromArray(D, [1, 1, 0, 0, 0, 0, 0, 0, 1, 0, 1, 1], [1, 1, 3, 4]);
        var y = F.ScaledDotProductAttention(q, k, v, mask: mask);
        var values = y.ToArray();
        Assert.All(values, x => Assert.True(float.IsFinite(x)));
        Assert.All(values.Skip(8).Take(8), x => Assert.Equal(0f, x));
        F.Sum(y).Backward();
        foreach (var g in new[] { q.Grad!, k.Grad!, v.Grad! })
            Assert.All(g.ToArray(), x => Assert.True(float.IsFinite(x)));
        Assert.All(q.Grad!.ToArray().Skip(8).Take(8), x => Assert.Equal(0f, x));
    }

    [Fact]
    public void Bad_shapes_are_named()
    {
        using var scope = D.Scope();
        var q = Tensor.Zeros(D, [1, 3, 4, 8]);
        var k = Tensor.Zeros(D, [1, 2, 4, 8]);
        var error = Assert.Throws<ArgumentException>(() => F.ScaledDotProductAttention(q, k, k));
        Assert.Contains("multiple of the key/value heads", error.Message);
        Assert.Throws<ArgumentException>(() => F.ScaledDotProductAttention(q, Tensor.Zeros(D, [1, 3, 4, 5]), Tensor.Zeros(D, [1, 3, 4, 5])));
        Assert.Throws<ArgumentException>(() => F.ScaledDotProductAttention(q, q, q, mask: Tensor.Zeros(D, [2, 1, 4, 4])));
        Assert.Throws<ArgumentException>(() => F.ScaledDotProductAttention(Tensor.Zeros(D, [1, 3, 5, 8]), q, q, causal: true));
    }
}

public sealed class AttentionOnSimd(SimdFixture backend) : AttentionSuite<SimdFixture>(backend)
{
    // The composed alternative would hold the [T, T] scores: 64 MiB at T = 4096. The fused kernel
    // keeps out and the log-sum-exp, so the pool grows by a few T x D tensors (q, k, v, out,
    // dout, dq, dk, dv: 1 MiB each) and no more.
    [Fact]
    public void Attention_memory_is_linear_in_the_sequence_length()
    {
        const int t = 4096, d = 64;
        using var device = Device.Cpu();
        using var scope = device.Scope();
        var q = Tensor.Randn(device, [1, 1, t, d], 1);
        var k = Tensor.Randn(device, [1, 1, t, d], 2);
        var v = Tensor.Randn(device, [1, 1, t, d], 3);
        foreach (var x in new[] { q, k, v }) x.RequiresGrad = true;
        long before = device.Backend.PooledBytes;
        var y = F.ScaledDotProductAttention(q, k, v, causal: true);
        F.Sum(y).Backward();
        long grown = device.Backend.PooledBytes - before;
        Assert.True(grown < 12L * t * d * sizeof(float), $"attention over T = {t} grew the pool by {grown / (1 << 20)} MiB");
    }
}

public sealed class AttentionOnIlgpuCpu(IlgpuCpuFixture backend) : AttentionSuite<IlgpuCpuFixture>(backend);

public sealed class AttentionOnIlgpuCpuGpuGroups(IlgpuCpuGpuGroupsFixture backend) : AttentionSuite<IlgpuCpuGpuGroupsFixture>(backend);
