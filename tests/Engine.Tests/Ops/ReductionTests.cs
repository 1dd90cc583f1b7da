using FsCheck.Xunit;
using TT = TorchSharp.torch;

namespace Engine.Tests;

// Sum, mean, max and argmax along one dimension against torch. Sums and means: error at most
// 1e-5 of the sum of magnitudes (their condition; see Accuracy.AssertSumClose), exact for max and argmax.
public abstract class ReductionSuite<TFixture>(TFixture backend) : IClassFixture<TFixture> where TFixture : BackendFixture
{
    [Property(MaxTest = 30, Arbitrary = [typeof(Generators)])]
    public void Reductions_match_torch(TensorCase c)
    {
        using var scope = backend.Device.Scope();
        var x = c.Make(backend);
        var tx = Oracle.ToTorch(x);
        int dim = (int)(c.Seed % (ulong)x.Rank);
        bool keep = c.Seed % 3 == 0;
        string what = $"dim {dim}, keepDim {keep}, {c}";
        AssertSum(F.Sum(x, dim, keep), tx.sum(dim, keep), tx.abs().sum(dim, keep), "Sum " + what);
        AssertSum(F.Mean(x, dim, keep), tx.mean([dim], keep), tx.abs().mean([dim], keep), "Mean " + what);
        Oracle.AssertClose(F.Max(x, dim, keep), tx.max(dim, keep).values, 0, "Max " + what);
        var argmax = F.ArgMax(x, dim, keep);
        Assert.Equal(tx.argmax(dim, keep).shape, Oracle.Dims(argmax.Shape));
        Accuracy.AssertEqual(argmax.ToInt32Array(), Oracle.Indices(tx.argmax(dim, keep)), "ArgMax " + what);
    }

    [Property(MaxTest = 10, Arbitrary = [typeof(Generators)])]
    public void Sum_of_all_elements_matches_torch(TensorCase c)
    {
        using var scope = backend.Device.Scope();
        var x = c.Make(backend);
        var tx = Oracle.ToTorch(x);
        AssertSum(F.Sum(x), tx.sum(), tx.abs().sum(), "Sum " + c);
        AssertSum(F.Mean(x), tx.mean(), tx.abs().mean(), "Mean " + c);
    }

    private static void AssertSum(Tensor actual, TT.Tensor expected, TT.Tensor magnitudes, string what)
    {
        Assert.Equal(expected.shape, Oracle.Dims(actual.Shape));
        Accuracy.AssertSumClose(actual.ToArray(), Oracle.Values(expected), Oracle.Values(magnitudes), 1e-5, what);
    }

    [Fact]
    public void Max_propagates_nan_and_argmax_points_at_it()
    {
        using var scope = backend.Device.Scope();
        var x = Tensor.FromArray(backend.Device, [1f, float.NaN, 3f, -1f, 2f, 5f], [2, 3]);
        var tx = Oracle.ToTorch(x);
        Oracle.AssertClose(F.Max(x, 1), tx.max(1, false).values, 0, "Max with NaN");
        Accuracy.AssertEqual(F.ArgMax(x, 1).ToInt32Array(), Oracle.Indices(tx.argmax(1, false)), "ArgMax with NaN");
    }
}

public sealed class ReductionOnSimd(SimdFixture backend) : ReductionSuite<SimdFixture>(backend);

public sealed class ReductionOnIlgpuCpu(IlgpuCpuFixture backend) : ReductionSuite<IlgpuCpuFixture>(backend);

public sealed class ReductionOnIlgpuCpuGpuGroups(IlgpuCpuGpuGroupsFixture backend) : ReductionSuite<IlgpuCpuGpuGroupsFixture>(backend);
