using FsCheck.Xunit;
using TT = TorchSharp.torch;

namespace Engine.Tests;

// Softmax, log-softmax and layer norm against torch. Bound 1e-5 relative; rows may hold -inf
// (masked attention scores), and an all -inf row gives NaN as in torch.
public abstract class NormalizationSuite<TFixture>(TFixture backend) : IClassFixture<TFixture> where TFixture : BackendFixture
{
    private const double Bound = 1e-5;

    [Property(MaxTest = 25, Arbitrary = [typeof(Generators)])]
    public void Softmax_and_log_softmax_match_torch(TensorCase c)
    {
        using var scope = backend.Device.Scope();
        var x = c.Make(backend);
        int dim = (int)(c.Seed % (ulong)x.Rank);
        if (c.Seed % 2 == 0)
        {
            // Mask about a quarter of the entries with -inf.
            var mask = Tensor.Rand(backend.Device, x.Shape, c.Seed + 5);
            var values = x.ToArray();
            var m = mask.ToArray();
            for (int i = 0; i < values.Length; i++)
                if (m[i] < 0.25f) values[i] = float.NegativeInfinity;
            x = Tensor.FromArray(backend.Device, values, x.Shape);
        }
        var tx = Oracle.ToTorch(x);
        Oracle.AssertClose(F.Softmax(x, dim), TT.nn.functional.softmax(tx, dim), Bound, $"Softmax dim {dim} {c}");
        Oracle.AssertClose(F.LogSoftmax(x, dim), TT.nn.functional.log_softmax(tx, dim), Bound, $"LogSoftmax dim {dim} {c}");
    }

    [Fact]
    public void Softmax_of_extreme_rows()
    {
        using var scope = backend.Device.Scope();
        float ninf = float.NegativeInfinity;
        var x = Tensor.FromArray(backend.Device, [ninf, ninf, ninf, 1e30f, -1e30f, 0f, 88f, 89f, 1000f, 5f, ninf, 5f], [4, 3]);
        var tx = Oracle.ToTorch(x);
        Oracle.AssertClose(F.Softmax(x), TT.nn.functional.softmax(tx, 1), Bound, "Softmax of extreme rows");
        Oracle.AssertClose(F.LogSoftmax(x), TT.nn.functional.log_softmax(tx, 1), Bound, "LogSoftmax of extreme rows");
    }

    [Property(MaxTest = 25, Arbitrary = [typeof(Generators)])]
    public void LayerNorm_matches_torch(TensorCase c)
    {
        using var scope = backend.Device.Scope();
        var x = c.Make(backend);
        // A large common offset checks the variance is not computed as E[x^2] - E[x]^2. Its bound
        // is looser: the float32 mean of values ten standard deviations from zero carries an error
        // of ~1e-6 of the offset, which a short row with a small spread amplifies in x - mean.
        bool offset = c.Seed % 3 == 0;
        if (offset) x = F.Add(x, 10f * c.Magnitude);
        double bound = offset ? 5e-5 : Bound;
        int cols = x.Size(-1);
        bool affine = c.Seed % 2 == 0;
        var gamma = affine ? Tensor.Randn(backend.Device, [cols], c.Seed + 1) : null;
        var beta = affine ? Tensor.Randn(backend.Device, [cols], c.Seed + 2) : null;
        using var result = F.LayerNormWithStats(x, gamma, beta, 1e-5f);
        var tx = Oracle.ToTorch(x);
        var expected = TT.nn.functional.layer_norm(tx, [cols], gamma is null ? null : Oracle.ToTorch(gamma), beta is null ? null : Oracle.ToTorch(beta), 1e-5);
        Oracle.AssertClose(result.Output, expected, bound, $"LayerNorm {c}");
        Oracle.AssertClose(F.LayerNorm(x, gamma, beta, 1e-5f), expected, bound, $"LayerNorm without stats {c}");
        var mean = tx.mean([-1L], false);
        var rstd = (tx.var([-1L], false, false) + 1e-5).rsqrt();
        // The mean is a sum: judged against the mean of magnitudes, its condition (a row whose
        // values cancel has a mean far smaller than float32 accumulation error over its values).
        Accuracy.AssertSumClose(result.Mean.ToArray(), Oracle.Values(mean), Oracle.Values(tx.abs().mean([-1L], false)), Bound, $"LayerNorm mean {c}");
        Oracle.AssertClose(result.Rstd, rstd, bound, $"LayerNorm rstd {c}");
    }
}

public sealed class NormalizationOnSimd(SimdFixture backend) : NormalizationSuite<SimdFixture>(backend);

public sealed class NormalizationOnIlgpuCpu(IlgpuCpuFixture backend) : NormalizationSuite<IlgpuCpuFixture>(backend);

public sealed class NormalizationOnIlgpuCpuGpuGroups(IlgpuCpuGpuGroupsFixture backend) : NormalizationSuite<IlgpuCpuGpuGroupsFixture>(backend);
