using ILGPU;

namespace Engine.Kernels.Ilgpu;

/// <summary>
/// The fused AdamW optimizer step (torch.optim.AdamW, decoupled weight decay), in place on
/// contiguous param, grad, m (first moment) and v (second moment), all of the same length:
///   g = grad * GradScale
///   p = p * Decay
///   m = m + FirstMomentWeight * (g - m)
///   v = v * Beta2 + (SecondMomentWeight * g) * g
///   p = p - (StepSize * m) / (sqrt(v) / BiasCorrection2Sqrt + Eps)
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
        long stride = (long)Grid.DimX * Group.DimX;
        for (long i = Grid.GlobalIndex.X; i < param.Length; i += stride)
        {
            float g = grad[i] * step.GradScale;
            float p = param[i] * step.Decay;
            float mean = m[i];
            mean += step.FirstMomentWeight * (g - mean);
            float square = v[i] * step.Beta2 + step.SecondMomentWeight * g * g;
            param[i] = p - step.StepSize * mean / (MathF.Sqrt(square) / step.BiasCorrection2Sqrt + step.Eps);
            m[i] = mean;
            v[i] = square;
        }
    }
}
