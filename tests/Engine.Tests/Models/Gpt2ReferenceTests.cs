using Engine.Models;
using Engine.Nn;
using Engine.TorchReference;
using TT = TorchSharp.torch;

namespace Engine.Tests;

// The model-level reference test (as llm.c's test_gpt2): the same initial weights and batch in
// the engine (float32) and in a libtorch implementation (float64): logits, loss and every
// parameter's gradient, then ten AdamW steps with matching losses.
// Bounds: logits and loss 1e-5 relative (float32 through a few layers); gradients 1e-4 per
// parameter (products of several float32 backward kernels, matmul reductions over B*T rows);
// losses over ten steps 1e-4 (the float32 rounding of each update compounds).
public abstract class Gpt2ReferenceSuite<TFixture>(TFixture backend) : IClassFixture<TFixture> where TFixture : BackendFixture
{
    protected abstract Gpt2Config Config { get; }
    protected abstract (int Batch, int Tokens) BatchShape { get; }
    protected abstract int Steps { get; }

    private (int[] Ids, int[] Targets) Batch(ulong seed)
    {
        var (b, t) = BatchShape;
        var random = new Random((int)seed);
        var tokens = Enumerable.Range(0, b * (t + 1)).Select(_ => random.Next(Config.VocabSize)).ToArray();
        var ids = new int[b * t];
        var targets = new int[b * t];
        for (int i = 0; i < b; i++)
            for (int j = 0; j < t; j++)
            {
                ids[i * t + j] = tokens[i * (t + 1) + j];
                targets[i * t + j] = tokens[i * (t + 1) + j + 1];
            }
        return (ids, targets);
    }

    [Fact]
    public void Logits_loss_and_gradients_match_torch_then_ten_adamw_steps_match()
    {
        var device = backend.Device;
        var (b, t) = BatchShape;
        using var model = Gpt2Model.Create(device, Config, seed: 5);
        using var reference = new TorchGpt2(Config, model.Parameters.Select(kv => KeyValuePair.Create(kv.Key, Oracle.ToTorch(kv.Value))).ToList());
        var (ids, targets) = Batch(1);

        using (var scope = device.Scope())
        {
            var idsT = Tensor.FromArray(device, ids, [b, t]);
            var logits = model.Forward(idsT);
            var tlogits = reference.Logits(ids, b, t);
            Oracle.AssertClose(logits, tlogits, 1e-5, "GPT-2 logits");

            var loss = model.Loss(idsT, Tensor.FromArray(device, targets, [b, t]));
            var tloss = reference.Loss(ids, targets, b, t);
            Assert.InRange(Math.Abs(loss.Item() - tloss.item<double>()) / tloss.item<double>(), 0, 1e-5);
            loss.Backward();
            tloss.backward();
            foreach (var (name, p) in model.Parameters)
                Oracle.AssertClose(p.Grad!, reference.Parameters[name].grad!, 1e-4, $"GPT-2 gradient of {name}");
        }

        // Ten AdamW steps on the same batch sequence, weight decay on every parameter on both sides.
        foreach (var p in model.Parameters.Values) p.ZeroGrad();
        foreach (var p in reference.Parameters.Values) p.grad?.zero_();
        var options = new AdamWOptions { LearningRate = 1e-3, WeightDecay = 0.1 };
        using var optimizer = new AdamW(model.Parameters.Values, options);
        var torchOptimizer = TT.optim.AdamW(reference.Parameters.Values, lr: 1e-3, weight_decay: 0.1);
        for (int step = 0; step < Steps; step++)
        {
            var (stepIds, stepTargets) = Batch(100 + (ulong)step);
            float loss;
            using (var scope = device.Scope())
            {
                var l = model.Loss(Tensor.FromArray(device, stepIds, [b, t]), Tensor.FromArray(device, stepTargets, [b, t]));
                loss = l.Item();
                optimizer.ZeroGrad();
                l.Backward();
                optimizer.Step();
            }
            torchOptimizer.zero_grad();
            var tl = reference.Loss(stepIds, stepTargets, b, t);
            tl.backward();
            torchOptimizer.step();
            double expected = tl.item<double>();
            Assert.True(Math.Abs(loss - expected) / expected <= 1e-4, $"step {step}: loss {loss} vs torch {expected}");
        }
    }
}

public sealed class Gpt2ReferenceOnSimd(SimdFixture backend) : Gpt2ReferenceSuite<SimdFixture>(backend)
{
    protected override Gpt2Config Config => new(Layers: 2, Heads: 4, Channels: 64, VocabSize: 512, MaxSequence: 64);
    protected override (int Batch, int Tokens) BatchShape => (4, 32);
    protected override int Steps => 10;
}

public sealed class Gpt2ReferenceOnIlgpuCpu(IlgpuCpuFixture backend) : Gpt2ReferenceSuite<IlgpuCpuFixture>(backend)
{
    protected override Gpt2Config Config => new(Layers: 1, Heads: 2, Channels: 8, VocabSize: 16, MaxSequence: 8);
    protected override (int Batch, int Tokens) BatchShape => (2, 5);
    protected override int Steps => 10;
}
