namespace Engine.Kernels;

/// <summary>
/// The factors of one AdamW step (torch.optim.AdamW semantics, decoupled weight decay), applied
/// per element in this order, so the rounding matches torch's:
///   g = grad * GradScale                                   (global grad-norm clipping folded in)
///   p = p * Decay                                          (Decay = 1 - lr * weight_decay)
///   m = m + FirstMomentWeight * (g - m)                    (torch's lerp; FirstMomentWeight = 1 - beta1)
///   v = v * Beta2 + (SecondMomentWeight * g) * g           (SecondMomentWeight = 1 - beta2)
///   p = p - (StepSize * m) / (sqrt(v) / BiasCorrection2Sqrt + Eps)
/// with StepSize = lr / (1 - beta1^t) and BiasCorrection2Sqrt = sqrt(1 - beta2^t) at step t. The
/// factors are formed on the host in double from double hyperparameters and rounded once, as
/// torch forms them from Python floats (1 - 0.9f in float would be 0.100000024, not 0.1).
/// </summary>
public struct AdamWStep
{
    public float Decay, FirstMomentWeight, Beta2, SecondMomentWeight, StepSize, BiasCorrection2Sqrt, Eps, GradScale;

    /// <summary>The factors of step <paramref name="t"/> (1-based) for the given hyperparameters.</summary>
    public static AdamWStep Create(double lr, double beta1, double beta2, double eps, double weightDecay, int t, float gradScale) => new()
    {
        Decay = (float)(1.0 - lr * weightDecay),
        FirstMomentWeight = (float)(1.0 - beta1),
        Beta2 = (float)beta2,
        SecondMomentWeight = (float)(1.0 - beta2),
        StepSize = (float)(lr / (1.0 - Math.Pow(beta1, t))),
        BiasCorrection2Sqrt = (float)Math.Sqrt(1.0 - Math.Pow(beta2, t)),
        Eps = (float)eps,
        GradScale = gradScale,
    };
}
