namespace Engine.Kernels;

/// <summary>
/// Scalar math shared by the SIMD kernels (for tails) and the ILGPU kernels (which have no erf).
/// </summary>
public static class ScalarMath
{
    /// <summary>erf(x). PLACEHOLDER: Abramowitz-Stegun 7.1.26, to be replaced by an accurate fit.</summary>
    public static float Erf(float x)
    {
        float sign = x < 0 ? -1f : 1f;
        float a = MathF.Abs(x);
        float t = 1f / (1f + 0.3275911f * a);
        float poly = t * (0.254829592f + t * (-0.284496736f + t * (1.421413741f + t * (-1.453152027f + t * 1.061405429f))));
        return sign * (1f - poly * MathF.Exp(-a * a));
    }
}
