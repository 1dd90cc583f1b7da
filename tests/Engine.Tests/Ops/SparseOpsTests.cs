using TT = TorchSharp.torch;

namespace Engine.Tests;

// SPLADE pooling and the FLOPs / L1 regularizers, forward and gradients, against torch in float64.
public abstract class SparseOpsSuite<TFixture>(TFixture backend) : IClassFixture<TFixture> where TFixture : BackendFixture
{
    private Device D => backend.Device;

    [Theory]
    [InlineData(1, 1, 1)]
    [InlineData(2, 7, 13)]
    [InlineData(3, 5, 129)]
    public void Splade_pooling_and_regularizers_match_torch(int batch, int tokens, int vocab)
    {
        using var scope = D.Scope();
        var logits = Tensor.Randn(D, [batch, tokens, vocab], (ulong)(batch * 100 + vocab), 0f, 2f, requiresGrad: true);
        var random = new Random(tokens);
        var maskValues = Enumerable.Range(0, batch * tokens).Select(i => i % tokens == 0 || random.Next(3) != 0 ? 1 : 0).ToArray();
        var mask = Tensor.FromArray(D, maskValues, [batch, tokens]);
        var tl = Oracle.ToTorch(logits).requires_grad_(true);
        var tmask = TT.tensor(maskValues.Select(m => (double)m).ToArray(), [batch, tokens], TT.ScalarType.Float64);

        var w = F.SpladePool(logits, mask);
        var tw = (TT.log1p(TT.nn.functional.relu(tl)) * tmask.unsqueeze(-1)).max(1).values;
        Oracle.AssertClose(w, tw, 1e-6, $"SpladePool [{batch}, {tokens}, {vocab}]");

        var loss = F.FlopsRegularizer(w) * 3f + F.L1Regularizer(w);
        var tloss = (tw.abs().mean([0L]).square().sum()) * 3 + tw.abs().sum(1).mean();
        Assert.InRange(Math.Abs(loss.Item() - tloss.item<double>()), 0, 1e-5 * Math.Max(1, Math.Abs(tloss.item<double>())));
        loss.Backward();
        tloss.backward();
        Oracle.AssertClose(logits.Grad!, tl.grad!, 1e-5, $"SpladePool + FLOPs + L1 gradient [{batch}, {tokens}, {vocab}]");
    }

    [Theory]
    [InlineData(new[] { 1 }, 1)]
    [InlineData(new[] { 3, 1, 5 }, 17)]
    [InlineData(new[] { 7, 2 }, 130)]
    public void Packed_splade_pooling_matches_torch(int[] lengths, int vocab)
    {
        using var scope = D.Scope();
        int rows = lengths.Sum();
        var logits = Tensor.Randn(D, [rows, vocab], (ulong)(rows * 31 + vocab), 0f, 2f, requiresGrad: true);
        var tl = Oracle.ToTorch(logits).requires_grad_(true);
        var w = F.SpladePool(logits, lengths);
        var activations = TT.log1p(TT.nn.functional.relu(tl));
        var parts = new List<TT.Tensor>();
        for (int b = 0, start = 0; b < lengths.Length; start += lengths[b], b++)
            parts.Add(activations.narrow(0, start, lengths[b]).max(0).values);
        var tw = TT.stack(parts);
        Oracle.AssertClose(w, tw, 1e-6, $"packed SpladePool [{string.Join(", ", lengths)}] x {vocab}");
        var upstream = Tensor.Randn(D, w.Shape, 5);
        (w * upstream).Sum().Backward();
        (tw * Oracle.ToTorch(upstream)).sum().backward();
        Oracle.AssertClose(logits.Grad!, tl.grad!, 1e-6, $"packed SpladePool gradient [{string.Join(", ", lengths)}] x {vocab}");
    }

    [Fact]
    public void Packed_splade_pooling_rejects_lengths_that_do_not_cover_the_rows()
    {
        using var scope = D.Scope();
        var logits = Tensor.Zeros(D, [5, 3]);
        var e = Assert.Throws<ArgumentException>(() => F.SpladePool(logits, [2, 2]));
        Assert.Contains("SpladePool", e.Message);
        Assert.Throws<ArgumentException>(() => F.SpladePool(logits, [5, 0]));
    }

    [Fact]
    public void Flops_gradient_is_two_mean_sign_over_n()
    {
        using var scope = D.Scope();
        var w = Tensor.FromArray(D, [1f, -2f, 0f, 3f, 0f, -1f], [2, 3]);
        w.RequiresGrad = true;
        F.FlopsRegularizer(w).Backward();
        // mean_j |w| = [2, 1, 0.5]; dL/dw_ij = 2 mean_j sign(w_ij) / N.
        Assert.Equal([2f, -1f, 0f, 2f, 0f, -0.5f], w.Grad!.ToArray());
    }
}

public sealed class SparseOpsOnSimd(SimdFixture backend) : SparseOpsSuite<SimdFixture>(backend);

public sealed class SparseOpsOnIlgpuCpu(IlgpuCpuFixture backend) : SparseOpsSuite<IlgpuCpuFixture>(backend);
