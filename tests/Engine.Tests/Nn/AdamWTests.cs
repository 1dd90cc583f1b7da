using Engine.Io;
using Engine.Nn;
using TT = TorchSharp.torch;

namespace Engine.Tests;

// The fused AdamW kernel against torch.optim.AdamW on float32 parameters: ten steps with weight
// decay, gradient scaling and a changing learning rate. Both run the same float32 operations in
// the same order, so the parameters agree to float32 rounding (bound 1e-6 relative).
public abstract class AdamWSuite<TFixture>(TFixture backend) : IClassFixture<TFixture> where TFixture : BackendFixture
{
    [Fact]
    public void Ten_steps_match_torch_adamw()
    {
        var device = backend.Device;
        using var scope = device.Scope();
        int n = Math.Min(1000, backend.MaxElements);
        var initial = Tensor.Randn(device, [n], 1);
        var p = initial.Clone();
        p.RequiresGrad = true;
        var tp = new TorchSharp.Modules.Parameter(TT.tensor(initial.ToArray(), [n], TT.ScalarType.Float32));
        var options = new AdamWOptions { LearningRate = 1e-2, Beta1 = 0.9, Beta2 = 0.99, Eps = 1e-6, WeightDecay = 0.1 };
        using var optimizer = new AdamW([p], options);
        var torchOptimizer = TT.optim.AdamW([tp], lr: 1e-2, beta1: 0.9, beta2: 0.99, eps: 1e-6, weight_decay: 0.1);
        for (int step = 0; step < 10; step++)
        {
            var grad = Tensor.Randn(device, [n], 100 + (ulong)step, 0f, step + 1f);
            p.ClearGrad();
            F.Sum(p * grad).Backward();   // p.Grad = grad
            double lr = LearningRateSchedule.WarmupCosine(step, 1e-2, 1e-3, 3, 10);
            optimizer.LearningRate = lr;
            optimizer.Step(gradScale: 0.5f);

            torchOptimizer.zero_grad();
            tp.grad = TT.tensor(grad.ToArray(), [n], TT.ScalarType.Float32) * 0.5f;
            foreach (var group in torchOptimizer.ParamGroups) group.LearningRate = lr;
            torchOptimizer.step();
        }
        Accuracy.AssertClose(p.ToArray(), tp.data<float>().ToArray().Select(v => (double)v).ToArray(), 1e-6, "parameters after ten AdamW steps");
    }
}

public sealed class AdamWOnSimd(SimdFixture backend) : AdamWSuite<SimdFixture>(backend)
{
    [Fact]
    public void A_corrupt_checkpoint_is_a_clear_error()
    {
        using var device = Device.Cpu();
        var path = Path.Combine(Path.GetTempPath(), $"checkpoint-{Guid.NewGuid():N}.safetensors");
        try
        {
            using var scope = device.Scope();
            var w = Tensor.Randn(device, [4, 3], 1);
            w.RequiresGrad = true;
            var parameters = new Dictionary<string, Tensor> { ["w"] = w };
            using var optimizer = new AdamW([w]);
            TrainingCheckpoint.Save(path, parameters, optimizer, step: 7);
            Assert.Equal(7, TrainingCheckpoint.Load(path, parameters, optimizer));

            var bytes = File.ReadAllBytes(path);
            File.WriteAllBytes(path, bytes[..(bytes.Length - 5)]);
            Assert.Throws<InvalidDataException>(() => TrainingCheckpoint.Load(path, parameters, optimizer));

            var other = Tensor.Zeros(device, [3, 4]);
            other.RequiresGrad = true;
            using var otherOptimizer = new AdamW([other]);
            File.WriteAllBytes(path, bytes);
            var mismatch = Assert.Throws<InvalidDataException>(() => TrainingCheckpoint.Load(path, new Dictionary<string, Tensor> { ["w"] = other }, otherOptimizer));
            Assert.Contains("'w' has shape [4, 3], expected [3, 4]", mismatch.Message);
        }
        finally
        {
            File.Delete(path);
        }
    }
}

public sealed class AdamWOnIlgpuCpu(IlgpuCpuFixture backend) : AdamWSuite<IlgpuCpuFixture>(backend);
