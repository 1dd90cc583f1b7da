using System.Globalization;
using Engine.Nn;

namespace Engine.Io;

/// <summary>
/// A training checkpoint in one safetensors file: the parameters under their own names, the
/// AdamW moments as <c>optimizer.exp_avg.{name}</c> and <c>optimizer.exp_avg_sq.{name}</c>, and in
/// the metadata the training step, the optimizer's step count and whatever the caller adds (the
/// model config). Written atomically, so a crash mid-save leaves the previous checkpoint intact;
/// loading restores everything a run needs to continue exactly where it stopped.
/// </summary>
public static class TrainingCheckpoint
{
    private const string StepKey = "training_step";
    private const string OptimizerStepKey = "optimizer_step";

    /// <summary>Writes parameters, optimizer state and <paramref name="step"/> (the number of completed steps) to <paramref name="path"/>.</summary>
    public static void Save(string path, IReadOnlyDictionary<string, Tensor> parameters, AdamW optimizer, int step,
        IReadOnlyDictionary<string, string>? metadata = null)
    {
        var names = NamesInOptimizerOrder(parameters, optimizer);
        var tensors = new List<KeyValuePair<string, Tensor>>(parameters);
        for (int i = 0; i < names.Length; i++)
        {
            tensors.Add(new($"optimizer.exp_avg.{names[i]}", optimizer.FirstMoments[i]));
            tensors.Add(new($"optimizer.exp_avg_sq.{names[i]}", optimizer.SecondMoments[i]));
        }
        var all = new Dictionary<string, string>(metadata ?? new Dictionary<string, string>())
        {
            [StepKey] = step.ToString(CultureInfo.InvariantCulture),
            [OptimizerStepKey] = optimizer.StepCount.ToString(CultureInfo.InvariantCulture),
        };
        SafeTensors.Save(path, tensors, all);
    }

    /// <summary>
    /// Restores parameters and optimizer state saved by <see cref="Save"/> into existing ones of the
    /// same names and shapes; returns the saved step.
    /// </summary>
    /// <exception cref="InvalidDataException">The file is corrupt, or a tensor is missing or misshapen.</exception>
    public static int Load(string path, IReadOnlyDictionary<string, Tensor> parameters, AdamW optimizer)
    {
        using var file = SafeTensors.Open(path);
        int step = ReadInt(file, path, StepKey);
        int optimizerStep = ReadInt(file, path, OptimizerStepKey);
        var names = NamesInOptimizerOrder(parameters, optimizer);
        float[] Read(string name, Tensor like)
        {
            if (!file.Contains(name))
                throw new InvalidDataException($"{path}: checkpoint has no tensor '{name}'.");
            var shape = file.Info(name).Shape.ToArray();
            if (!like.Shape.SequenceEqual(shape))
                throw new InvalidDataException($"{path}: tensor '{name}' has shape {ShapeMath.Format(shape)}, expected {ShapeMath.Format(like.Shape)}.");
            return file.ReadFloats(name);
        }
        var parameterValues = names.Select(n => Read(n, parameters[n])).ToArray();
        var first = names.Select((n, i) => Read($"optimizer.exp_avg.{n}", parameters[n])).ToArray();
        var second = names.Select((n, i) => Read($"optimizer.exp_avg_sq.{n}", parameters[n])).ToArray();
        for (int i = 0; i < names.Length; i++)
            parameters[names[i]].Overwrite(parameterValues[i]);
        optimizer.LoadState(optimizerStep, first, second);
        return step;
    }

    /// <summary>The step saved in a checkpoint, without loading it.</summary>
    public static int ReadStep(string path)
    {
        using var file = SafeTensors.Open(path);
        return ReadInt(file, path, StepKey);
    }

    private static int ReadInt(SafeTensorsFile file, string path, string key)
    {
        if (!file.Metadata.TryGetValue(key, out var text) || !int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int value))
            throw new InvalidDataException($"{path}: metadata '{key}' is missing or not a non-negative integer; the file is not a training checkpoint.");
        return value;
    }

    /// <summary>The parameter names in the optimizer's parameter order (each optimizer parameter must be one of them).</summary>
    private static string[] NamesInOptimizerOrder(IReadOnlyDictionary<string, Tensor> parameters, AdamW optimizer)
    {
        var byTensor = parameters.ToDictionary<KeyValuePair<string, Tensor>, Tensor, string>(kv => kv.Value, kv => kv.Key, ReferenceEqualityComparer.Instance);
        return optimizer.Parameters.Select(p => byTensor.TryGetValue(p, out var name)
            ? name
            : throw new ArgumentException($"TrainingCheckpoint: an optimizer parameter {ShapeMath.Format(p.Shape)} is not among the named parameters.")).ToArray();
    }
}
