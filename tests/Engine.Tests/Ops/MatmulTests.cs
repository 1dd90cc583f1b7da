using FsCheck.Xunit;
using TT = TorchSharp.torch;

namespace Engine.Tests;

// Matrix products against torch.matmul on every backend: batched, either operand transposed
// (as a view, so the kernel's transpose path runs), shared right operand, fused bias.
// Bound: 1e-5 relative for K up to 600 (float32 accumulation against a float64 reference).
public abstract class MatmulSuite<TFixture>(TFixture backend) : IClassFixture<TFixture> where TFixture : BackendFixture
{
    private const double Bound = 1e-5;

    /// <summary>A [rows, cols] operand (with batch dims), stored transposed when asked so the view is not contiguous.</summary>
    private Tensor Operand(int batch, int rows, int cols, bool transposed, ulong seed)
    {
        int[] stored = transposed ? [batch, cols, rows] : [batch, rows, cols];
        var t = Tensor.Randn(backend.Device, stored, seed);
        return transposed ? t.Transpose(1, 2) : t;
    }

    [Property(MaxTest = 40, Arbitrary = [typeof(Generators)])]
    public void MatMul_matches_torch(MatmulCase c)
    {
        int Clamp(int d) => Math.Min(d, backend.MaxMatmulDim);
        int m = Clamp(c.M), k = Clamp(c.K), n = Clamp(c.N);
        using var scope = backend.Device.Scope();
        var a = Operand(c.Batch, m, k, c.TransA, c.Seed);
        var b = c.SharedB ? Operand(1, k, n, c.TransB, c.Seed + 1).Squeeze(0) : Operand(c.Batch, k, n, c.TransB, c.Seed + 1);
        var bias = c.Bias ? Tensor.Randn(backend.Device, [n], c.Seed + 2) : null;
        var y = F.MatMul(a, b, bias);
        var expected = TT.matmul(Oracle.ToTorch(a), Oracle.ToTorch(b));
        if (bias is not null) expected += Oracle.ToTorch(bias);
        Oracle.AssertClose(y, expected, Bound, c.ToString());
    }

    [Theory]
    [InlineData(1, 1, 1)]
    [InlineData(1, 768, 64)]
    [InlineData(7, 1, 13)]
    [InlineData(33, 65, 1)]
    public void MatMul_of_vectors_and_degenerate_shapes(int m, int k, int n)
    {
        using var scope = backend.Device.Scope();
        k = Math.Min(k, backend.MaxMatmulDim);
        var a = Tensor.Randn(backend.Device, [m, k], 11);
        var b = Tensor.Randn(backend.Device, [k, n], 12);
        var v = Tensor.Randn(backend.Device, [k], 13);
        Oracle.AssertClose(F.MatMul(a, b), TT.matmul(Oracle.ToTorch(a), Oracle.ToTorch(b)), Bound, $"[{m},{k}]@[{k},{n}]");
        Oracle.AssertClose(F.MatMul(a, v), TT.matmul(Oracle.ToTorch(a), Oracle.ToTorch(v)), Bound, $"[{m},{k}]@[{k}]");
        Oracle.AssertClose(F.MatMul(v, b), TT.matmul(Oracle.ToTorch(v), Oracle.ToTorch(b)), Bound, $"[{k}]@[{k},{n}]");
    }

    [Fact]
    public void MatMul_broadcasts_batch_dimensions()
    {
        using var scope = backend.Device.Scope();
        var a = Tensor.Randn(backend.Device, [2, 1, 5, 7], 21);
        var b = Tensor.Randn(backend.Device, [3, 7, 4], 22);
        Oracle.AssertClose(F.MatMul(a, b), TT.matmul(Oracle.ToTorch(a), Oracle.ToTorch(b)), Bound, "[2,1,5,7]@[3,7,4]");
    }

    [Fact]
    public void Linear_matches_torch()
    {
        using var scope = backend.Device.Scope();
        var x = Tensor.Randn(backend.Device, [2, 9, 24], 31);
        var w = Tensor.Randn(backend.Device, [17, 24], 32);
        var bias = Tensor.Randn(backend.Device, [17], 33);
        var expected = TT.nn.functional.linear(Oracle.ToTorch(x), Oracle.ToTorch(w), Oracle.ToTorch(bias));
        Oracle.AssertClose(F.Linear(x, w, bias), expected, Bound, "Linear [2,9,24] x [17,24]^T");
    }

    [Property(MaxTest = 25, Arbitrary = [typeof(Generators)])]
    public void Linear_with_a_packed_weight_matches_the_plain_weight_bitwise_and_torch(MatmulCase c)
    {
        int Clamp(int d) => Math.Min(d, backend.MaxMatmulDim);
        int rows = Clamp(c.M), inFeatures = Clamp(c.K), outFeatures = Clamp(c.N);
        using var scope = backend.Device.Scope();
        var x = Tensor.Randn(backend.Device, [c.Batch, rows, inFeatures], c.Seed);
        var weight = Tensor.Randn(backend.Device, [outFeatures, inFeatures], c.Seed + 1);
        var bias = c.Bias ? Tensor.Randn(backend.Device, [outFeatures], c.Seed + 2) : null;
        using var packed = PackedWeight.Pack(weight);
        var y = F.Linear(x, packed, bias);
        Assert.Equal(F.Linear(x, weight, bias).ToArray(), y.ToArray());
        var expected = TT.nn.functional.linear(Oracle.ToTorch(x), Oracle.ToTorch(weight), bias is null ? null : Oracle.ToTorch(bias));
        Oracle.AssertClose(y, expected, Bound, c.ToString());
    }

    [Theory]
    [InlineData(300, 300, 4200)] // tall: rows split in blocks, B in two column blocks, two passes over K
    [InlineData(40, 50, 4200)]   // short: A packed whole, the B panels split between threads
    [InlineData(64, 700, 33)]    // short, three passes over K, a partial panel
    public void Packed_products_of_every_schedule_match_the_plain_product_bitwise(int rows, int inFeatures, int outFeatures)
    {
        if (backend.Device.Backend.PackedMatMulOperandLength(inFeatures, outFeatures) == 0) return; // no packed layout here
        using var scope = backend.Device.Scope();
        var x = Tensor.Randn(backend.Device, [rows, inFeatures], 71);
        var weight = Tensor.Randn(backend.Device, [outFeatures, inFeatures], 72);
        var bias = Tensor.Randn(backend.Device, [outFeatures], 73);
        using var packed = PackedWeight.Pack(weight);
        Assert.Equal(F.Linear(x, weight, bias).ToArray(), F.Linear(x, packed, bias).ToArray());
    }

    [Fact]
    public void A_packed_weight_written_after_packing_is_read_again()
    {
        using var scope = backend.Device.Scope();
        var x = Tensor.Randn(backend.Device, [3, 19, 40], 51);
        var weight = Tensor.Randn(backend.Device, [37, 40], 52);
        using var packed = PackedWeight.Pack(weight);
        Assert.Equal(backend.Device.Backend.PackedMatMulOperandLength(40, 37) > 0, packed.IsCurrent);
        using (Autograd.NoGrad())
            weight.CopyFrom(Tensor.Randn(backend.Device, [37, 40], 53));
        Assert.False(packed.IsCurrent);
        Assert.Equal(F.Linear(x, weight).ToArray(), F.Linear(x, packed).ToArray());
        using var repacked = PackedWeight.Pack(weight);
        Assert.Equal(F.Linear(x, weight).ToArray(), F.Linear(x, repacked).ToArray());
    }

    [Fact]
    public void Linear_with_a_packed_weight_has_the_plain_gradients()
    {
        using var scope = backend.Device.Scope();
        var weight = Tensor.Randn(backend.Device, [23, 30], 61, requiresGrad: true);
        var bias = Tensor.Randn(backend.Device, [23], 62, requiresGrad: true);
        using var packed = PackedWeight.Pack(weight);
        float[][] Gradients(Func<Tensor, Tensor> linear)
        {
            var x = Tensor.Randn(backend.Device, [2, 45, 30], 63, requiresGrad: true);
            weight.ClearGrad();
            bias.ClearGrad();
            F.Sum(linear(x) * linear(x)).Backward();
            return [x.Grad!.ToArray(), weight.Grad!.ToArray(), bias.Grad!.ToArray()];
        }
        var plain = Gradients(x => F.Linear(x, weight, bias));
        var fromPacked = Gradients(x => F.Linear(x, packed, bias));
        for (int i = 0; i < plain.Length; i++) Assert.Equal(plain[i], fromPacked[i]);
    }

    [Fact]
    public void MatMul_is_deterministic()
    {
        using var scope = backend.Device.Scope();
        int d = Math.Min(200, backend.MaxMatmulDim);
        var a = Tensor.Randn(backend.Device, [d, d + 3], 41);
        var b = Tensor.Randn(backend.Device, [d + 3, d - 1], 42);
        Assert.Equal(F.MatMul(a, b).ToArray(), F.MatMul(a, b).ToArray());
    }
}

public sealed class MatmulOnSimd(SimdFixture backend) : MatmulSuite<SimdFixture>(backend);

public sealed class MatmulOnIlgpuCpu(IlgpuCpuFixture backend) : MatmulSuite<IlgpuCpuFixture>(backend);
