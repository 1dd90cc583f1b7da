using System.Diagnostics;
using Engine.Io;
using Engine.Nn;

namespace Engine.Models;

/// <summary>Hyperparameters of GPT-2 training (defaults as small GPT-2 runs use them).</summary>
public sealed record Gpt2TrainingOptions
{
    /// <summary>Sequences per step.</summary>
    public int BatchSize { get; init; } = 4;
    /// <summary>Tokens per sequence.</summary>
    public int SequenceLength { get; init; } = 64;
    /// <summary>Steps of the whole run (the end of the cosine schedule).</summary>
    public int TotalSteps { get; init; } = 100;
    /// <summary>Linear warm-up steps.</summary>
    public int WarmupSteps { get; init; } = 10;
    /// <summary>Peak learning rate.</summary>
    public double MaxLearningRate { get; init; } = 6e-4;
    /// <summary>Learning rate at the end of the cosine decay.</summary>
    public double MinLearningRate { get; init; } = 6e-5;
    /// <summary>Decoupled weight decay of the matrices (biases and layer norms take none).</summary>
    public double WeightDecay { get; init; } = 0.1;
    /// <summary>AdamW beta1.</summary>
    public double Beta1 { get; init; } = 0.9;
    /// <summary>AdamW beta2.</summary>
    public double Beta2 { get; init; } = 0.95;
    /// <summary>Global gradient-norm clip; 0 disables clipping.</summary>
    public float MaxGradNorm { get; init; } = 1f;
}

/// <summary>What one training step did.</summary>
/// <param name="Step">The step's index (0-based).</param>
/// <param name="Loss">Mean cross-entropy of the batch before the update.</param>
/// <param name="GradNorm">Global gradient norm before clipping.</param>
/// <param name="LearningRate">Learning rate used.</param>
/// <param name="Tokens">Tokens processed.</param>
/// <param name="Elapsed">Wall time of the step.</param>
public sealed record TrainStepResult(int Step, float Loss, float GradNorm, double LearningRate, int Tokens, TimeSpan Elapsed);

/// <summary>
/// Trains a <see cref="Gpt2Model"/> with AdamW, warm-up + cosine learning rate and global
/// gradient clipping. The batch of step s comes from <c>batchForStep(s)</c>, so a run resumed
/// from a checkpoint sees the same batches, learning rates and optimizer state as one that never
/// stopped, and produces bit-identical losses. A non-finite loss or gradient stops training with
/// a <see cref="NonFiniteException"/> naming the step and the first op whose output was not finite.
/// </summary>
public sealed class Gpt2Trainer : IDisposable
{
    private readonly Func<int, (int[] Ids, int[] Targets)> _batchForStep;

    /// <summary>A trainer for <paramref name="model"/>; <paramref name="batchForStep"/> gives ids and next-token targets, each BatchSize x SequenceLength, row-major.</summary>
    public Gpt2Trainer(Gpt2Model model, Gpt2TrainingOptions options, Func<int, (int[] Ids, int[] Targets)> batchForStep)
    {
        if (options.BatchSize < 1 || options.SequenceLength < 1 || options.SequenceLength > model.Config.MaxSequence || options.TotalSteps < 1 || options.WarmupSteps < 0)
            throw new ArgumentException($"Gpt2Trainer: batch {options.BatchSize} x {options.SequenceLength} tokens (context {model.Config.MaxSequence}) and {options.TotalSteps} steps with {options.WarmupSteps} warm-up are not a valid run.");
        Model = model;
        Options = options;
        _batchForStep = batchForStep;
        var names = model.Parameters.ToDictionary<KeyValuePair<string, Tensor>, Tensor, string>(kv => kv.Value, kv => kv.Key, ReferenceEqualityComparer.Instance);
        Optimizer = new AdamW(model.Parameters.Values,
            new AdamWOptions { LearningRate = options.MaxLearningRate, Beta1 = options.Beta1, Beta2 = options.Beta2, WeightDecay = options.WeightDecay },
            p => Gpt2Model.Decays(names[p]));
    }

    /// <summary>The model being trained.</summary>
    public Gpt2Model Model { get; }

    /// <summary>The run's hyperparameters.</summary>
    public Gpt2TrainingOptions Options { get; private set; }

    /// <summary>
    /// Sets the run's length while it is still warming up (the schedule so far does not depend on
    /// it): for runs sized by a time budget after timing their first steps.
    /// </summary>
    public void SetTotalSteps(int totalSteps)
    {
        if (Step >= Options.WarmupSteps || totalSteps < Math.Max(1, Step))
            throw new InvalidOperationException($"Gpt2Trainer.SetTotalSteps: the length can change only during warm-up (step {Step} of {Options.WarmupSteps}) and not below the steps done; asked for {totalSteps}.");
        Options = Options with { TotalSteps = totalSteps };
    }

    /// <summary>The optimizer (its state is part of a checkpoint).</summary>
    public AdamW Optimizer { get; }

    /// <summary>Steps completed; the next <see cref="TrainStep"/> runs this one.</summary>
    public int Step { get; private set; }

    /// <summary>One step: forward, backward, clip, update.</summary>
    /// <exception cref="NonFiniteException">The loss or the gradient norm is NaN or infinite.</exception>
    public TrainStepResult TrainStep()
    {
        var clock = Stopwatch.StartNew();
        int step = Step;
        var (ids, targets) = _batchForStep(step);
        double lr = LearningRateSchedule.WarmupCosine(step, Options.MaxLearningRate, Options.MinLearningRate, Options.WarmupSteps, Options.TotalSteps);
        float loss;
        var device = Model.Device;
        using (var scope = device.Scope())
        {
            var (idsT, targetsT) = Upload(ids, targets);
            var lossT = Model.Loss(idsT, targetsT);
            loss = lossT.Item();
            if (!float.IsFinite(loss))
                throw Diverged(step, loss, idsT, targetsT);
            Optimizer.ZeroGrad();
            lossT.Backward();
        }
        float norm = GradClip.TotalNorm(Model.Parameters.Values);
        if (!float.IsFinite(norm))
        {
            string first = Model.Parameters.First(kv => kv.Value.Grad is { } g && g.ToArray().Any(v => !float.IsFinite(v))).Key;
            throw new NonFiniteException("gradient norm", $"Training step {step}: the gradient norm is {norm}; the first parameter with a non-finite gradient is '{first}'.");
        }
        Optimizer.LearningRate = lr;
        Optimizer.Step(Options.MaxGradNorm > 0 ? GradClip.ClipFactor(norm, Options.MaxGradNorm) : 1f);
        Step++;
        return new TrainStepResult(step, loss, norm, lr, ids.Length, clock.Elapsed);
    }

    /// <summary>Mean loss over <paramref name="batches"/> without recording gradients.</summary>
    public float Evaluate(IEnumerable<(int[] Ids, int[] Targets)> batches)
    {
        double sum = 0;
        int count = 0;
        using var noGrad = Autograd.NoGrad();
        foreach (var (ids, targets) in batches)
        {
            using var scope = Model.Device.Scope();
            var (idsT, targetsT) = Upload(ids, targets);
            sum += Model.Loss(idsT, targetsT).Item();
            count++;
        }
        return count == 0 ? float.NaN : (float)(sum / count);
    }

    private (Tensor Ids, Tensor Targets) Upload(int[] ids, int[] targets)
    {
        int b = Options.BatchSize, t = Options.SequenceLength;
        if (ids.Length != b * t || targets.Length != b * t)
            throw new ArgumentException($"Gpt2Trainer: a batch must hold {b} x {t} = {b * t} ids and targets; got {ids.Length} and {targets.Length}.");
        return (Tensor.FromArray(Model.Device, ids, [b, t]), Tensor.FromArray(Model.Device, targets, [b, t]));
    }

    /// <summary>Re-runs the step's forward with every op checked, to name the first one that produced a non-finite value.</summary>
    private NonFiniteException Diverged(int step, float loss, Tensor ids, Tensor targets)
    {
        try
        {
            using var check = Autograd.DetectNonFinite();
            using var scope = Model.Device.Scope();
            Model.Loss(ids, targets);
        }
        catch (NonFiniteException e)
        {
            return new NonFiniteException(e.Op, $"Training step {step}: the loss is {loss}; the first non-finite value came from {e.Message}");
        }
        return new NonFiniteException("loss", $"Training step {step}: the loss is {loss}, though every op's output was finite (the reduction overflowed).");
    }

    /// <summary>Saves model, optimizer state and step atomically to a safetensors checkpoint.</summary>
    public void SaveCheckpoint(string path) =>
        TrainingCheckpoint.Save(path, Model.Parameters, Optimizer, Step, new Dictionary<string, string>
        {
            ["gpt2_config"] = System.Text.Json.JsonSerializer.Serialize(Model.Config),
            [OptionsKey] = System.Text.Json.JsonSerializer.Serialize(Options),
        });

    private const string OptionsKey = "gpt2_training_options";

    /// <summary>The training options saved in a checkpoint by <see cref="SaveCheckpoint"/>.</summary>
    /// <exception cref="InvalidDataException">The checkpoint has none or they do not parse.</exception>
    public static Gpt2TrainingOptions ReadOptions(string path)
    {
        using var file = SafeTensors.Open(path);
        try
        {
            if (file.Metadata.TryGetValue(OptionsKey, out var json) && System.Text.Json.JsonSerializer.Deserialize<Gpt2TrainingOptions>(json) is { } options)
                return options;
        }
        catch (System.Text.Json.JsonException e)
        {
            throw new InvalidDataException($"{path}: '{OptionsKey}' metadata does not parse: {e.Message}", e);
        }
        throw new InvalidDataException($"{path}: no '{OptionsKey}' metadata; not a checkpoint written by Gpt2Trainer.");
    }

    /// <summary>Restores model, optimizer state and step from a checkpoint of the same model shape.</summary>
    public void LoadCheckpoint(string path) => Step = TrainingCheckpoint.Load(path, Model.Parameters, Optimizer);

    /// <summary>Frees the optimizer state (not the model).</summary>
    public void Dispose() => Optimizer.Dispose();
}
