namespace Engine.Kernels;

/// <summary>
/// The scalars of one AdamW step (torch.optim.AdamW semantics, decoupled weight decay), applied
/// per element in this order, so the rounding matches torch's:
///   g = grad * GradScale                        (global grad-norm clipping folded in)
///   p = p * (1 - Lr * WeightDecay)
///   m = m + (1 - Beta1) * (g - m)               (torch's lerp)
///   v = v * Beta2 + (1 - Beta2) * g * g
///   p = p - (Lr / BiasCorrection1) * m / (sqrt(v) / BiasCorrection2Sqrt + Eps)
/// with BiasCorrection1 = 1 - Beta1^t and BiasCorrection2Sqrt = sqrt(1 - Beta2^t) at step t.
/// </summary>
public struct AdamWStep
{
    public float Lr, Beta1, Beta2, Eps, WeightDecay;
    public float BiasCorrection1, BiasCorrection2Sqrt;
    public float GradScale;
}
