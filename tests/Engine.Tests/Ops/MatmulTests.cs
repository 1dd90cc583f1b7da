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
