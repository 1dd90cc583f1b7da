using ILGPU;

namespace Engine.Kernels.Ilgpu;

/// <summary>
/// The fused AdamW optimizer step (torch.optim.AdamW, decoupled weight decay), in place on
/// contiguous param, grad, m (first moment) and v (second moment), all of the same length:
///   g = grad * GradScale
///   p = p * (1 - Lr * WeightDecay)
///   m = m + (1 - Beta1) * (g - m)
///   v = v * Beta2 + (1 - Beta2) * g * g
///   p = p - (Lr / BiasCorrection1) * m / (sqrt(v) / BiasCorrection2Sqrt + Eps)
/// evaluated in exactly this order (see <see cref="AdamWStep"/>), so the rounding is torch's.
///
/// Launch: 1-D, any group size; one thread per element in a 64-bit grid-stride loop (as
/// <see cref="Elementwise.Fill"/>). Each element is independent: deterministic.
/// </summary>
public static class AdamW
{
    /// <summary>One AdamW update of every element of <paramref name="param"/> (the views are exactly as long as it).</summary>
    public static void Step(ArrayView<float> param, ArrayView<float> grad, ArrayView<float> m, ArrayView<float> v, AdamWStep step)
    {
        float decay = 1f - step.Lr * step.WeightDecay;
        float stepSize = step.Lr / step.BiasCorrection1;
        float firstMomentWeight = 1f - step.Beta1;
        float secondMomentWeight = 1f - step.Beta2;
        long stride = (long)Grid.DimX * Group.DimX;
        for (long i = Grid.GlobalIndex.X; i < param.Length; i += stride)
        {
            float g = grad[i] * step.GradScale;
            float p = param[i] * decay;
            float mean = m[i];
            mean += firstMomentWeight * (g - mean);
            float square = v[i] * step.Beta2 + secondMomentWeight * g * g;
            param[i] = p - stepSize * mean / (MathF.Sqrt(square) / step.BiasCorrection2Sqrt + step.Eps);
            m[i] = mean;
            v[i] = square;
        }
    }
}
