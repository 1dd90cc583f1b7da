using TT = TorchSharp.torch;

namespace Engine.Tests;

// Creation, views and memory on every backend: values, shapes and strides as torch has them.
public abstract class TensorSuite<TFixture>(TFixture backend) : IClassFixture<TFixture> where TFixture : BackendFixture
{
    private Device Device => backend.Device;

    [Fact]
    public void Creation_gives_the_requested_values()
    {
        using var scope = Device.Scope();
        Assert.All(Tensor.Zeros(Device, [2, 3]).ToArray(), v => Assert.Equal(0f, v));
        Assert.All(Tensor.Ones(Device, [4]).ToArray(), v => Assert.Equal(1f, v));
        Assert.All(Tensor.Full(Device, [3, 1], 2.5f).ToArray(), v => Assert.Equal(2.5f, v));
        Assert.Equal([7, 7], Tensor.Full(Device, [2], 7, DType.Int32).ToInt32Array());
        Assert.Equal([0f, 0.5f, 1f, 1.5f], Tensor.Arange(Device, 0, 2, 0.5f).ToArray());
        Assert.Equal([1, 2, 3, 4, 5, 6], Tensor.FromArray(Device, [1, 2, 3, 4, 5, 6], [2, 3]).ToInt32Array());
        Assert.Equal(3f, Tensor.Scalar(Device, 3f).Item());
        Assert.Equal(0, Tensor.Scalar(Device, 3f).Rank);
    }

    [Fact]
    public void Random_values_are_the_same_on_every_backend()
    {
        using var cpu = Device.Cpu();
        using var scope = Device.Scope();
        Assert.Equal(Tensor.Randn(cpu, [5, 7], 123).ToArray(), Tensor.Randn(Device, [5, 7], 123).ToArray());
        Assert.Equal(Tensor.Rand(cpu, [33], 9, -2, 2).ToArray(), Tensor.Rand(Device, [33], 9, -2, 2).ToArray());
        Assert.NotEqual(Tensor.Randn(Device, [8], 1).ToArray(), Tensor.Randn(Device, [8], 2).ToArray());
    }

    [Fact]
    public void Random_values_have_the_requested_distribution()
    {
        using var scope = Device.Scope();
        var normal = Tensor.Randn(Device, [20000], 5, 1f, 2f).ToArray();
        double mean = normal.Average(v => (double)v), std = Math.Sqrt(normal.Average(v => (v - mean) * (v - mean)));
        Assert.InRange(mean, 0.95, 1.05);
        Assert.InRange(std, 1.95, 2.05);
        var uniform = Tensor.Rand(Device, [20000], 6).ToArray();
        Assert.All(uniform, v => Assert.InRange(v, 0f, 0.99999994f));
        Assert.InRange(uniform.Average(), 0.49, 0.51);
    }

    [Fact]
    public void Views_match_torch()
    {
        using var scope = Device.Scope();
        var x = Tensor.Randn(Device, [3, 4, 5], 7);
        var tx = Oracle.ToTorch(x);
        Oracle.AssertClose(x.Reshape(4, -1), tx.reshape(4, -1), 0, "Reshape");
        Oracle.AssertClose(x.Transpose(0, 2), tx.transpose(0, 2), 0, "Transpose");
        Oracle.AssertClose(x.Permute(1, 2, 0), tx.permute(1, 2, 0), 0, "Permute");
        Oracle.AssertClose(x.Slice(1, 1, 4, 2), tx[.., TT.TensorIndex.Slice(1, 4, 2)], 0, "Slice");
        Oracle.AssertClose(x.Slice(2, -3, int.MaxValue), tx[.., .., TT.TensorIndex.Slice(-3, null)], 0, "Slice with negative start");
        Oracle.AssertClose(x.Narrow(0, 1, 2), tx.narrow(0, 1, 2), 0, "Narrow");
        Oracle.AssertClose(x.Unsqueeze(1).Squeeze(1), tx, 0, "Unsqueeze/Squeeze");
        Oracle.AssertClose(x.Slice(0, 0, 1).Expand(2, 4, 5), tx[TT.TensorIndex.Slice(0, 1)].expand(2, 4, 5), 0, "Expand");
        Oracle.AssertClose(x.Transpose(0, 1).Reshape(-1), tx.transpose(0, 1).reshape(-1), 0, "Reshape of a transposed view copies");
        Oracle.AssertClose(x.Flatten(1), tx.flatten(1), 0, "Flatten");
        Assert.False(x.Transpose(0, 1).IsContiguous);
        Assert.True(x.Transpose(0, 1).Contiguous().IsContiguous);
    }

    [Fact]
    public void Empty_tensors_reshape_and_reduce()
    {
        using var scope = Device.Scope();
        var empty = Tensor.Zeros(Device, [2, 0, 1]);
        Assert.True(empty.IsContiguous);
        Assert.Equal([0, 2], empty.Reshape(0, 2).Shape.ToArray());
        Assert.Equal([0f, 0f], F.Sum(empty, 1).Reshape(-1).ToArray());
    }

    [Fact]
    public void A_view_keeps_its_storage_alive_after_the_base_is_disposed()
    {
        var x = Tensor.Arange(Device, 0, 6).Reshape(2, 3);
        var view = x.Transpose(0, 1);
        x.Dispose();
        Assert.Equal([0f, 3f, 1f, 4f, 2f, 5f], view.ToArray());
        view.Dispose();
        Assert.Throws<ObjectDisposedException>(() => view.ToArray());
    }

    [Fact]
    public void Scopes_dispose_intermediates_and_keep_what_is_asked()
    {
        Tensor kept, dropped;
        using (var scope = Device.Scope())
        {
            var a = Tensor.Ones(Device, [4]);
            dropped = F.Exp(a);
            kept = scope.Keep(F.Add(a, a));
        }
        Assert.True(dropped.IsDisposed);
        Assert.False(kept.IsDisposed);
        Assert.Equal([2f, 2f, 2f, 2f], kept.ToArray());
        kept.Dispose();
    }

    [Fact]
    public void The_pool_stops_growing_in_steady_state()
    {
        var x = Tensor.Randn(Device, [64, 48], 3);
        var w = Tensor.Randn(Device, [48, 32], 4);
        void Step()
        {
            using var scope = Device.Scope();
            F.Softmax(F.Gelu(F.MatMul(x, w)), -1).Sum().Item();
        }
        Step();
        long afterWarmUp = Device.Backend.PooledBytes;
        for (int i = 0; i < 20; i++) Step();
        Assert.Equal(afterWarmUp, Device.Backend.PooledBytes);
        x.Dispose();
        w.Dispose();
    }
}

public sealed class TensorOnSimd(SimdFixture backend) : TensorSuite<SimdFixture>(backend)
{
    /// <summary>
    /// ENGINE_SIMD_WIDTH picks the register width the SIMD suites run at (build.sh test runs them a
    /// second time at the width the CPU does not pick): the backend must say it took it.
    /// </summary>
    [Fact]
    public void The_register_width_follows_ENGINE_SIMD_WIDTH()
    {
        string name = backend.Device.Name;
        switch (Environment.GetEnvironmentVariable("ENGINE_SIMD_WIDTH"))
        {
            case "512": Assert.Contains("Vector512", name); break;
            case "256": Assert.DoesNotContain("Vector512", name); break;
            default: Assert.Equal(System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated, name.Contains("Vector512")); break;
        }
    }
}

public sealed class TensorOnIlgpuCpu(IlgpuCpuFixture backend) : TensorSuite<IlgpuCpuFixture>(backend);
