using FsCheck.Xunit;
using TT = TorchSharp.torch;

namespace Engine.Tests;

// Embedding gather and cross-entropy (fused log-softmax + NLL with ignore index) against torch.
public abstract class LookupAndLossSuite<TFixture>(TFixture backend) : IClassFixture<TFixture> where TFixture : BackendFixture
{
    private Tensor RandomIds(int count, int vocab, ulong seed, int ignoreIndex = int.MinValue)
    {
        var random = new Random((int)(seed % int.MaxValue));
        var ids = Enumerable.Range(0, count).Select(_ => ignoreIndex != int.MinValue && random.Next(5) == 0 ? ignoreIndex : random.Next(vocab)).ToArray();
        return Tensor.FromArray(backend.Device, ids);
    }

    [Property(MaxTest = 20, Arbitrary = [typeof(Generators)])]
    public void Embedding_matches_torch(TensorCase c)
    {
        using var scope = backend.Device.Scope();
        var shape = c.Shape(backend);
        int vocab = shape[0], dim = shape.Length > 1 ? shape[^1] : 3;
        var table = Tensor.Randn(backend.Device, [vocab, dim], c.Seed);
        var ids = RandomIds((int)(c.Seed % 50) + 1, vocab, c.Seed).Reshape(-1, 1);
        var expected = Oracle.ToTorch(table).index_select(0, Oracle.ToTorchIndex(ids).flatten()).reshape(ids.Size(0), 1, dim);
        Oracle.AssertClose(F.Embedding(table, ids), expected, 0, $"Embedding {c}");
    }

    [Property(MaxTest = 25, Arbitrary = [typeof(Generators)])]
    public void CrossEntropy_matches_torch(TensorCase c)
    {
        using var scope = backend.Device.Scope();
        var shape = c.Shape(backend);
        int rows = shape[0], classes = shape.Length > 1 ? shape[^1] : 2;
        var logits = Tensor.Randn(backend.Device, [rows, classes], c.Seed, 0f, c.Magnitude);
        var targets = RandomIds(rows, classes, c.Seed, ignoreIndex: -100);
        var tl = Oracle.ToTorch(logits);
        var tt = Oracle.ToTorchIndex(targets);
        foreach (var (reduction, torchReduction) in new[] { (Reduction.Mean, TT.nn.Reduction.Mean), (Reduction.Sum, TT.nn.Reduction.Sum), (Reduction.None, TT.nn.Reduction.None) })
        {
            var expected = TT.nn.functional.cross_entropy(tl, tt, ignore_index: -100, reduction: torchReduction);
            Oracle.AssertClose(F.CrossEntropy(logits, targets, -100, reduction), expected, 1e-5, $"CrossEntropy {reduction} {c}");
        }
    }

    [Fact]
    public void CrossEntropy_with_spatial_dimensions_matches_torch()
    {
        using var scope = backend.Device.Scope();
        var logits = Tensor.Randn(backend.Device, [2, 5, 3, 4], 51);
        var targets = RandomIds(24, 5, 52, ignoreIndex: 1).Reshape(2, 3, 4);
        var expected = TT.nn.functional.cross_entropy(Oracle.ToTorch(logits), Oracle.ToTorchIndex(targets), ignore_index: 1);
        Oracle.AssertClose(F.CrossEntropy(logits, targets, ignoreIndex: 1), expected, 1e-5, "CrossEntropy [2,5,3,4]");
    }
}

public sealed class LookupAndLossOnSimd(SimdFixture backend) : LookupAndLossSuite<SimdFixture>(backend);

public sealed class LookupAndLossOnIlgpuCpu(IlgpuCpuFixture backend) : LookupAndLossSuite<IlgpuCpuFixture>(backend);

public sealed class LookupAndLossOnIlgpuCpuGpuGroups(IlgpuCpuGpuGroupsFixture backend) : LookupAndLossSuite<IlgpuCpuGpuGroupsFixture>(backend);
