using Engine.Kernels;

namespace Engine.Nn;

/// <summary>Hyperparameters of <see cref="AdamW"/> (torch.optim.AdamW's defaults), in double as torch takes them.</summary>
public sealed record AdamWOptions
{
    /// <summary>Learning rate; change it between steps for a schedule.</summary>
    public double LearningRate { get; init; } = 1e-3;
    /// <summary>Decay of the first moment.</summary>
    public double Beta1 { get; init; } = 0.9;
    /// <summary>Decay of the second moment.</summary>
    public double Beta2 { get; init; } = 0.999;
    /// <summary>Added to the denominator.</summary>
    public double Eps { get; init; } = 1e-8;
    /// <summary>Decoupled weight decay for parameters that take it.</summary>
    public double WeightDecay { get; init; } = 1e-2;
}

/// <summary>
/// AdamW with PyTorch's semantics (bias-corrected moments, decoupled weight decay), one fused
/// kernel per parameter tensor. Parameters may be excluded from weight decay (biases and layer
/// norm gains usually are). The state (step, moments) is exposed for checkpoints.
/// </summary>
public sealed class AdamW : IDisposable
{
    private readonly Tensor[] _parameters;
    private readonly bool[] _decays;
    private readonly Tensor[] _m;
    private readonly Tensor[] _v;

    /// <summary>An optimizer over <paramref name="parameters"/>; those for which <paramref name="decays"/> says false get no weight decay (default: all do).</summary>
    public AdamW(IEnumerable<Tensor> parameters, AdamWOptions? options = null, Func<Tensor, bool>? decays = null)
    {
        _parameters = parameters.ToArray();
        Options = options ?? new AdamWOptions();
        LearningRate = Options.LearningRate;
        _decays = _parameters.Select(p => decays?.Invoke(p) ?? true).ToArray();
        using (TensorScope.Suspend())
        {
            _m = _parameters.Select(p => Tensor.Zeros(p.Device, p.Shape)).ToArray();
            _v = _parameters.Select(p => Tensor.Zeros(p.Device, p.Shape)).ToArray();
        }
        foreach (var p in _parameters)
            if (!p.RequiresGrad || !p.IsLeaf || !p.IsContiguous)
                throw new ArgumentException($"AdamW: parameter {ShapeMath.Format(p.Shape)} must be a contiguous leaf tensor with RequiresGrad set.");
    }

    /// <summary>The hyperparameters it was made with.</summary>
    public AdamWOptions Options { get; }

    /// <summary>Learning rate of the next step (a schedule sets it before each step).</summary>
    public double LearningRate { get; set; }

    /// <summary>Steps taken so far (the t of the bias corrections).</summary>
    public int StepCount { get; private set; }

    /// <summary>The parameters, in the order given.</summary>
    public IReadOnlyList<Tensor> Parameters => _parameters;

    /// <summary>First moments, one per parameter.</summary>
    public IReadOnlyList<Tensor> FirstMoments => _m;

    /// <summary>Second moments, one per parameter.</summary>
    public IReadOnlyList<Tensor> SecondMoments => _v;

    /// <summary>
    /// One update of every parameter that has a gradient. <paramref name="gradScale"/> multiplies
    /// the gradients first (the factor of global grad-norm clipping, see <see cref="GradClip"/>).
    /// </summary>
    public void Step(float gradScale = 1f)
    {
        StepCount++;
        using var noGrad = Autograd.NoGrad();
        for (int i = 0; i < _parameters.Length; i++)
        {
            var grad = _parameters[i].Grad;
            if (grad is null) continue;
            var step = AdamWStep.Create(LearningRate, Options.Beta1, Options.Beta2, Options.Eps,
                _decays[i] ? Options.WeightDecay : 0.0, StepCount, gradScale);
            F.AdamWUpdate(_parameters[i], grad, _m[i], _v[i], step);
        }
    }

    /// <summary>
    /// Resets every parameter's gradient: frees it by default (torch's set_to_none, so the next
    /// backward hands its gradients over without a copy), or fills it with zeros.
    /// </summary>
    public void ZeroGrad(bool setToNone = true)
    {
        foreach (var p in _parameters)
        {
            if (setToNone) p.ClearGrad();
            else p.ZeroGrad();
        }
    }

    /// <summary>Restores the state saved from an optimizer over parameters of the same shapes (checkpoint resume).</summary>
    public void LoadState(int stepCount, IReadOnlyList<float[]> firstMoments, IReadOnlyList<float[]> secondMoments)
    {
        if (stepCount < 0 || firstMoments.Count != _parameters.Length || secondMoments.Count != _parameters.Length)
            throw new ArgumentException($"AdamW.LoadState: expected {_parameters.Length} first and second moments and a non-negative step, got {firstMoments.Count}, {secondMoments.Count} and {stepCount}.");
        for (int i = 0; i < _parameters.Length; i++)
        {
            if (firstMoments[i].Length != _m[i].Count || secondMoments[i].Length != _v[i].Count)
                throw new ArgumentException($"AdamW.LoadState: moments of parameter {i} have {firstMoments[i].Length} and {secondMoments[i].Length} values; the parameter {ShapeMath.Format(_parameters[i].Shape)} has {_m[i].Count}.");
            _m[i].Overwrite(firstMoments[i]);
            _v[i].Overwrite(secondMoments[i]);
        }
        StepCount = stepCount;
    }

    /// <summary>Frees the moments.</summary>
    public void Dispose()
    {
        foreach (var t in _m) t.Dispose();
        foreach (var t in _v) t.Dispose();
    }
}
