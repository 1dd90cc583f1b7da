namespace Engine.Kernels;

/// <summary>
/// Scalar float math shared by the ILGPU kernels (which have no erf) and, through its constants,
/// by the SIMD vector math. ILGPU compiles these bodies for the GPU, so they use only arithmetic,
/// comparisons, int casts and MathF.Exp/Log/Abs: no arrays, spans, tables or static fields.
/// </summary>
/// <remarks>
/// Two approximations, each used where the other would lose accuracy to a subtraction:
/// <code>
///   |x| &lt;= 1:   erf(x)  = x * (C0 + z P(z)),   z = x^2, P of degree 5
///   a &gt;= 0:    erfc(a) = exp(-a^2) * Q(t),   t = 1 / (1 + a / 2), Q of degree 10
/// </code>
/// erf takes the polynomial up to |x| = 1 and 1 - erfc beyond; erfc (and GELU's Phi) always take
/// the tail form, so they keep their relative accuracy as they shrink. Both polynomials are
/// near-minimax fits of the relative error, made once by Lawson's iteratively reweighted least
/// squares in 30-digit arithmetic (mpmath) and rounded to float: P over [0, 1] (fit error
/// 1.2e-9), Q over a in [0, 10.1] (fit error 6.0e-9). Beyond a = 10.1, erfc(a) is below half the
/// smallest subnormal, so a is clamped there. exp(-a^2) is evaluated with a^2 split into an
/// exactly representable head and a small tail, so the rounding of the square costs nothing.
/// Measured in float against a double-precision reference (a positive-term Taylor series below 3,
/// Lentz's continued fraction for erfc above), over every float in [0, 10.1]: see
/// <see cref="Erf"/> and <see cref="Erfc"/>.
/// </remarks>
public static class ScalarMath
{
    /// <summary>Leading coefficient of erf(x) / x near 0, split in two floats: C0 = C0High + C0Low.</summary>
    internal const float ErfC0High = 1.1283791065216064f;
    internal const float ErfC0Low = 5.920509948964536e-08f;
    internal const float ErfC1 = -0.3761262595653534f;
    internal const float ErfC2 = 0.1128358542919159f;
    internal const float ErfC3 = -0.026853810995817184f;
    internal const float ErfC4 = 0.005188327748328447f;
    internal const float ErfC5 = -0.0008010193123482168f;
    internal const float ErfC6 = 7.853860734030604e-05f;

    /// <summary>erf uses its odd polynomial for |x| below this, where 1 - erfc would lose accuracy to the subtraction.</summary>
    internal const float ErfPolynomialEnd = 1f;
    /// <summary>The p in t = 1 / (1 + p a).</summary>
    internal const float ErfcTailScale = 0.5f;
    /// <summary>Largest a the tail polynomial was fitted on; erfc rounds to 0 beyond it.</summary>
    internal const float ErfcTailEnd = 10.1f;
    internal const float ErfcQ0 = 8.35303853818914e-06f;
    internal const float ErfcQ1 = 0.2818495035171509f;
    internal const float ErfcQ2 = 0.2852334976196289f;
    internal const float ErfcQ3 = 0.22378601133823395f;
    internal const float ErfcQ4 = 0.2837921679019928f;
    internal const float ErfcQ5 = -0.2481772005558014f;
    internal const float ErfcQ6 = 0.6780773401260376f;
    internal const float ErfcQ7 = -0.9601904153823853f;
    internal const float ErfcQ8 = 0.6363785862922668f;
    internal const float ErfcQ9 = -0.2082187980413437f;
    internal const float ErfcQ10 = 0.02746092900633812f;

    internal const float InvSqrt2 = 0.7071067811865476f;
    /// <summary>2 sqrt(2/pi) and 2 * 0.044715 * sqrt(2/pi): GELU-tanh's 2u written as x (K1 + K2 x^2).</summary>
    internal const float GeluTanhK1 = 1.5957691216057308f;
    internal const float GeluTanhK2 = 0.07135481627260025f;
    /// <summary>GELU's factor Phi(x) is exactly 0 in float below this (and exactly 1 above its negation).</summary>
    internal const float GeluSaturation = 20f;

    /// <summary>erf(x): max absolute error 1.1e-7, max relative error 1.4e-7 (about 2 ulp).</summary>
    public static float Erf(float x)
    {
        float a = MathF.Abs(x);
        if (a < ErfPolynomialEnd) return ErfSmall(x);
        float c = a > ErfcTailEnd ? ErfcTailEnd : a;
        float head = TruncateTo8FractionBits(c);
        float r = 1f - ErfcTail(c, head * head, (c - head) * (c + head));
        return x < 0 ? -r : r;
    }

    /// <summary>erfc(x) = 1 - erf(x), with relative accuracy also where it is tiny: max relative error 5e-7 down to 1e-37.</summary>
    public static float Erfc(float x)
    {
        float a = MathF.Abs(x);
        float c = a > ErfcTailEnd ? ErfcTailEnd : a;
        float head = TruncateTo8FractionBits(c);
        float tail = ErfcTail(c, head * head, (c - head) * (c + head));
        return x < 0 ? 2f - tail : tail;
    }

    /// <summary>
    /// GELU, erf form: x Phi(x) = 0.5 x (1 + erf(x / sqrt 2)), evaluated as x (1 - erfc(a) / 2) for
    /// x &gt; 0 and x erfc(a) / 2 below, a = |x| / sqrt 2, so the left tail keeps its relative
    /// accuracy instead of cancelling. x below -20 gives exactly -0.
    /// </summary>
    public static float GeluErf(float x)
    {
        // As torch: 0.5 (-inf) (1 + erf(-inf)) = -inf * 0 = NaN.
        if (x == float.NegativeInfinity) return float.NaN;
        float multiplier = x < -GeluSaturation ? -GeluSaturation : x;
        float c = multiplier > GeluSaturation ? GeluSaturation : multiplier;
        float magnitude = MathF.Abs(c);
        float a = magnitude * InvSqrt2;
        // a^2 = c^2 / 2 with c split at 7 fraction bits: head^2 / 2 is exact.
        float head = TruncateTo7FractionBits(magnitude);
        float tail = ErfcTail(a > ErfcTailEnd ? ErfcTailEnd : a, 0.5f * head * head, 0.5f * (magnitude - head) * (magnitude + head));
        return multiplier * (c > 0 ? 1f - 0.5f * tail : 0.5f * tail);
    }

    /// <summary>
    /// GELU, tanh form: 0.5 x (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3), evaluated as
    /// x sigmoid(2u), which is the same function without the cancellation for negative x.
    /// </summary>
    public static float GeluTanh(float x)
    {
        // As torch: 0.5 (-inf) (1 + tanh(-inf)) = -inf * 0 = NaN.
        if (x == float.NegativeInfinity) return float.NaN;
        float c = x < -GeluSaturation ? -GeluSaturation : x;
        return c * Sigmoid(c * (GeluTanhK1 + GeluTanhK2 * c * c));
    }

    /// <summary>1 / (1 + exp(-x)), through exp(-|x|) so neither tail overflows or cancels.</summary>
    public static float Sigmoid(float x)
    {
        float e = MathF.Exp(-MathF.Abs(x));
        float r = 1f / (1f + e);
        return x < 0 ? e * r : r;
    }

    /// <summary>
    /// log(1 + x), accurate for small x: with u = 1 + x rounded, log(u) * x / (u - 1) cancels the
    /// rounding of u to first order (Goldberg's trick).
    /// </summary>
    public static float Log1p(float x)
    {
        float u = 1f + x;
        if (u == 1f || u == float.PositiveInfinity) return u == 1f ? x : u;
        return MathF.Log(u) * (x / (u - 1f));
    }

    /// <summary>erf(x) = x (C0 + z P(z)), z = x^2, for |x| &lt;= 1; C0's low half keeps tiny x within an ulp.</summary>
    internal static float ErfSmall(float x)
    {
        float z = x * x;
        float p = ErfC6;
        p = p * z + ErfC5;
        p = p * z + ErfC4;
        p = p * z + ErfC3;
        p = p * z + ErfC2;
        p = p * z + ErfC1;
        p = p * z + ErfC0Low;
        return x * ErfC0High + x * p;
    }

    /// <summary>
    /// erfc(a) = exp(-a^2) Q(1 / (1 + a / 2)) for 0 &lt;= a &lt;= 10.1, given a^2 = head + tail
    /// with head exact, so exp(-a^2) = exp(-head) exp(-tail) carries no rounding of the square.
    /// </summary>
    internal static float ErfcTail(float a, float squareHead, float squareTail)
    {
        float t = 1f / (1f + ErfcTailScale * a);
        float q = ErfcQ10;
        q = q * t + ErfcQ9;
        q = q * t + ErfcQ8;
        q = q * t + ErfcQ7;
        q = q * t + ErfcQ6;
        q = q * t + ErfcQ5;
        q = q * t + ErfcQ4;
        q = q * t + ErfcQ3;
        q = q * t + ErfcQ2;
        q = q * t + ErfcQ1;
        q = q * t + ErfcQ0;
        return MathF.Exp(-squareHead) * MathF.Exp(-squareTail) * q;
    }

    /// <summary>a (0 &lt;= a &lt; 16) rounded down to a multiple of 1/256: at most 12 significant bits, so its square is exact.</summary>
    private static float TruncateTo8FractionBits(float a) => (int)(a * 256f) * (1f / 256f);

    /// <summary>a (0 &lt;= a &lt; 32) rounded down to a multiple of 1/128: at most 12 significant bits, so its square is exact.</summary>
    private static float TruncateTo7FractionBits(float a) => (int)(a * 128f) * (1f / 128f);
}
