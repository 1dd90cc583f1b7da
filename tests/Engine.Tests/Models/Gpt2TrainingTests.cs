using Engine.Models;

namespace Engine.Tests;

// Training loop, checkpoints, generation and bad input for the GPT-2 model on a tiny config.
public sealed class Gpt2TrainingTests(SimdFixture backend) : IClassFixture<SimdFixture>
{
    private static readonly Gpt2Config Tiny = new(Layers: 2, Heads: 2, Channels: 16, VocabSize: 50, MaxSequence: 16);
    private static readonly Gpt2TrainingOptions Options = new() { BatchSize = 2, SequenceLength = 8, TotalSteps = 30, WarmupSteps = 2, MaxLearningRate = 3e-2, MinLearningRate = 3e-3 };

    /// <summary>A repeating pattern the model can learn, cut at a step-dependent offset.</summary>
    private static (int[] Ids, int[] Targets) Batch(int step)
    {
        int n = Options.BatchSize * Options.SequenceLength;
        var ids = new int[n];
        var targets = new int[n];
        for (int i = 0; i < n; i++)
        {
            ids[i] = (step * 3 + i * 7) % Tiny.VocabSize;
            targets[i] = (ids[i] + 7) % Tiny.VocabSize;
        }
        return (ids, targets);
    }

    [Fact]
    public void Loss_falls_and_a_resumed_run_is_bit_identical()
    {
        var path = Path.Combine(Path.GetTempPath(), $"gpt2-resume-{Guid.NewGuid():N}.safetensors");
        try
        {
            var straight = new List<float>();
            using (var model = Gpt2Model.Create(backend.Device, Tiny, seed: 3))
            using (var trainer = new Gpt2Trainer(model, Options, Batch))
            {
                for (int s = 0; s < Options.TotalSteps; s++)
                {
                    straight.Add(trainer.TrainStep().Loss);
                    if (s == 5) trainer.SaveCheckpoint(path);
                }
            }
            Assert.True(straight[^1] < straight[0] * 0.85f, $"loss went from {straight[0]} to {straight[^1]}");

            var resumed = new List<float>();
            using (var model = Gpt2Model.Create(backend.Device, Tiny, seed: 99))
            using (var trainer = new Gpt2Trainer(model, Options, Batch))
            {
                trainer.LoadCheckpoint(path);
                Assert.Equal(6, trainer.Step);
                while (trainer.Step < Options.TotalSteps)
                    resumed.Add(trainer.TrainStep().Loss);
            }
            Assert.Equal(straight.Skip(6).Select(BitConverter.SingleToInt32Bits), resumed.Select(BitConverter.SingleToInt32Bits));

            using var loaded = Gpt2Model.Load(backend.Device, path);
            Assert.Equal(Tiny, loaded.Config);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Cached_and_uncached_generation_choose_the_same_tokens()
    {
        using var model = Gpt2Model.Create(backend.Device, Tiny, seed: 4);
        int[] prompt = [1, 2, 3];
        foreach (var options in new[]
        {
            SamplingOptions.Greedy,
            new SamplingOptions { Temperature = 0.8f, Seed = 1 },
            new SamplingOptions { Temperature = 1f, TopK = 5, Seed = 2 },
            new SamplingOptions { Temperature = 1.2f, TopP = 0.7f, Seed = 3 },
        })
        {
            var cached = Gpt2Generation.Generate(model, prompt, 12, options, useCache: true);
            var uncached = Gpt2Generation.Generate(model, prompt, 12, options, useCache: false);
            Assert.Equal(12, cached.Length);
            Assert.Equal(uncached, cached);
            Assert.Equal(cached, Gpt2Generation.Generate(model, prompt, 12, options, useCache: true));
        }
        // The context bounds the continuation.
        Assert.Equal(Tiny.MaxSequence - 3, Gpt2Generation.Generate(model, prompt, 100, SamplingOptions.Greedy).Length);
    }

    [Fact]
    public void Top_k_and_top_p_keep_only_the_likely_tokens()
    {
        float[] logits = [0f, 5f, 4f, -3f, 4.5f];
        for (int draw = 0; draw < 200; draw++)
        {
            Assert.Contains(TokenSampler.Next(logits, new SamplingOptions { TopK = 2, Seed = 9 }, draw), new[] { 1, 4 });
            Assert.Equal(1, TokenSampler.Next(logits, new SamplingOptions { TopP = 0.01f, Seed = 9 }, draw));
        }
        Assert.Equal(1, TokenSampler.Next(logits, SamplingOptions.Greedy, 0));
    }

    [Fact]
    public void Bad_input_is_named()
    {
        using var model = Gpt2Model.Create(backend.Device, Tiny, seed: 4);
        using var scope = backend.Device.Scope();
        var outside = Assert.Throws<ArgumentException>(() => model.Forward(Tensor.FromArray(backend.Device, [1, 2, 50, 3], [2, 2])));
        Assert.Contains("token id 50 at [1, 0]", outside.Message);
        var tooLong = Assert.Throws<ArgumentException>(() => model.Forward(Tensor.Zeros(backend.Device, [1, 17], DType.Int32)));
        Assert.Contains("exceed the context of 16", tooLong.Message);

        // An infinite bias makes the first MLP's output infinite; the error names the step and the op.
        using (Autograd.NoGrad())
            model.Parameters["h.0.mlp.c_fc.bias"].CopyFrom(Tensor.Full(backend.Device, [64], float.PositiveInfinity));
        using var trainer = new Gpt2Trainer(model, Options, Batch);
        var diverged = Assert.Throws<NonFiniteException>(() => trainer.TrainStep());
        Assert.Contains("Training step 0", diverged.Message);
        Assert.Equal("MatMul", diverged.Op);
    }
}
