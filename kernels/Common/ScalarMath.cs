namespace Engine.Kernels;

/// <summary>
/// Scalar float math shared by the ILGPU kernels (which have no erf) and, through its constants,
/// by the SIMD vector math, including the derivatives of the unary ops for the backward kernels.
/// ILGPU compiles these bodies for the GPU, so they use only arithmetic, comparisons, int casts
/// and MathF.Exp/Log/Abs/Sqrt: no arrays, spans, tables or static fields.
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

    internal const float InvSqrt2Pi = 0.3989422804014327f;
    /// <summary>sqrt(pi/2): Phi(-a) / phi(a) = sqrt(pi/2) Q, Q the erfc tail polynomial at a / sqrt 2.</summary>
    internal const float SqrtHalfPi = 1.2533141373155003f;
    internal const float TwoOverSqrtPi = 1.1283791670955126f;
    /// <summary>erf'(x) = 2 / sqrt(pi) exp(-x^2) is exactly 0 in float beyond this.</summary>
    internal const float ErfDerivativeEnd = 12f;

    /// <summary>
    /// The GELU derivatives cross 0 near x = -0.752, where their two terms cancel; within this
    /// distance of the root they are evaluated as Taylor polynomials in d = x - x0 instead.
    /// </summary>
    internal const float GeluRootHalfWidth = 0.3f;
    /// <summary>
    /// Root x0 of GELU-erf' (x0 = High + Low) and its Taylor coefficients C1..C10 there (C0 = 0):
    /// x0 from Newton's method and the coefficients from power-series arithmetic, both in double
    /// precision, then rounded to float. Truncation on |d| &lt;= 0.3 is below 2e-9 of the value.
    /// </summary>
    internal const float GeluErfRootHigh = -0.7517915368080139f;
    internal const float GeluErfRootLow = 1.211444988769017e-08f;
    internal const float GeluErfRootC1 = 0.43149399757385254f;
    internal const float GeluErfRootC2 = 0.38828498125076294f;
    internal const float GeluErfRootC3 = -0.018199676647782326f;
    internal const float GeluErfRootC4 = -0.11400823295116425f;
    internal const float GeluErfRootC5 = -0.014771522022783756f;
    internal const float GeluErfRootC6 = 0.01942167989909649f;
    internal const float GeluErfRootC7 = 0.00453922851011157f;
    internal const float GeluErfRootC8 = -0.002239538123831153f;
    internal const float GeluErfRootC9 = -0.0007448268588632345f;
    internal const float GeluErfRootC10 = 0.00018633974832482636f;
    /// <summary>Root of GELU-tanh' and its Taylor coefficients, made as for <see cref="GeluErfRootHigh"/> (truncation below 2e-9 of the value).</summary>
    internal const float GeluTanhRootHigh = -0.7524614334106445f;
    internal const float GeluTanhRootLow = 1.1339627903339533e-08f;
    internal const float GeluTanhRootC1 = 0.4304001033306122f;
    internal const float GeluTanhRootC2 = 0.38751843571662903f;
    internal const float GeluTanhRootC3 = -0.015782853588461876f;
    internal const float GeluTanhRootC4 = -0.11394448578357697f;
    internal const float GeluTanhRootC5 = -0.016619328409433365f;
    internal const float GeluTanhRootC6 = 0.01968230865895748f;
    internal const float GeluTanhRootC7 = 0.005261059384793043f;
    internal const float GeluTanhRootC8 = -0.0024227318353950977f;
    internal const float GeluTanhRootC9 = -0.0009274420444853604f;
    internal const float GeluTanhRootC10 = 0.00026392764993943274f;

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

    /// <summary>
    /// f'(x) for the unary function <paramref name="op"/>, with torch's conventions at the kinks
    /// (relu'(0) = 0, |x|'(0) = 0, sign' = 0); the backward kernels multiply it by dy.
    /// </summary>
    public static float Derivative(UnaryOp op, float x)
    {
        switch (op)
        {
            case UnaryOp.Identity: return 1f;
            case UnaryOp.Neg: return -1f;
            case UnaryOp.Relu: return x > 0f ? 1f : 0f;
            case UnaryOp.GeluTanh: return GeluTanhDerivative(x);
            case UnaryOp.GeluErf: return GeluErfDerivative(x);
            case UnaryOp.Exp: return MathF.Exp(x);
            case UnaryOp.Log: return 1f / x;
            case UnaryOp.Log1p: return 1f / (1f + x);
            case UnaryOp.Tanh: return TanhDerivative(x);
            case UnaryOp.Sqrt: return 0.5f / MathF.Sqrt(x);
            case UnaryOp.Abs: return x > 0f ? 1f : x < 0f ? -1f : 0f;
            case UnaryOp.Sign: return 0f;
            case UnaryOp.Sigmoid: return SigmoidDerivative(x);
            case UnaryOp.Erf: return ErfDerivative(x);
            case UnaryOp.Reciprocal:
                float r = 1f / x;
                return -(r * r);
            default: return 2f * x;
        }
    }

    /// <summary>
    /// GELU's derivative, erf form: Phi(x) + x phi(x), phi(x) = exp(-x^2 / 2) / sqrt(2 pi). With
    /// Phi(-a) = sqrt(pi/2) phi(a) Q (Q the erfc tail polynomial at a / sqrt 2), it is
    /// phi (sqrt(pi/2) Q - a) for x = -a &lt; 0 and 1 + phi (a - sqrt(pi/2) Q) for x = a &gt;= 0, so
    /// the left tail keeps its relative accuracy. Around the root x0 = -0.75179 the two terms
    /// cancel, so there a Taylor polynomial in x - x0 takes over. ±inf give NaN, as torch's
    /// Phi(x) + x phi(x) (inf * 0). Max relative error 7.5e-7 for results above 1e-30.
    /// </summary>
    public static float GeluErfDerivative(float x)
    {
        if (MathF.Abs(x) == float.PositiveInfinity) return float.NaN;
        if (x > GeluErfRootHigh - GeluRootHalfWidth && x < GeluErfRootHigh + GeluRootHalfWidth)
            return GeluErfDerivativeNearRoot(x);
        float a = MathF.Abs(x);
        float c = a > GeluSaturation ? GeluSaturation : a;
        // c^2 / 2 with c split at 7 fraction bits: head^2 / 2 is exact.
        float head = TruncateTo7FractionBits(c);
        float phi = InvSqrt2Pi * MathF.Exp(-0.5f * head * head) * MathF.Exp(-0.5f * (c - head) * (c + head));
        float b = c * InvSqrt2;
        float millsRatio = SqrtHalfPi * ErfcTailPolynomial(b > ErfcTailEnd ? ErfcTailEnd : b);
        return x < 0f ? phi * (millsRatio - a) : 1f + phi * (a - millsRatio);
    }

    /// <summary>
    /// GELU's derivative, tanh form: with z = 2u = x (K1 + K2 x^2) and s = sigmoid(z), it is
    /// s + x s (1 - s) z', z' = K1 + 3 K2 x^2. Through e = exp(-|z|): for x &gt;= 0,
    /// 1 / (1 + e) + x z' e / (1 + e)^2; for x &lt; 0, e / (1 + e)^2 ((1 + e) - |x| z'), so no tail
    /// cancels. Around the root x0 = -0.75246 a Taylor polynomial in x - x0 takes over.
    /// ±inf give NaN, as torch's formula (inf * 0). Max relative error 6e-7 on [-2, 20]; further
    /// left it grows with |z| (1.5e-6 at x = -3.5, 1.2e-5 at x = -9.5, where f' is 1e-30) as for
    /// the forward <see cref="GeluTanh"/>: a rounding of z, at best |z| 6e-8, scales exp(-|z|) by that much.
    /// </summary>
    public static float GeluTanhDerivative(float x)
    {
        if (MathF.Abs(x) == float.PositiveInfinity) return float.NaN;
        if (x > GeluTanhRootHigh - GeluRootHalfWidth && x < GeluTanhRootHigh + GeluRootHalfWidth)
            return GeluTanhDerivativeNearRoot(x);
        float c = x < -GeluSaturation ? -GeluSaturation : x > GeluSaturation ? GeluSaturation : x;
        float a = MathF.Abs(c);
        float a2 = a * a;
        float e = MathF.Exp(-a * (GeluTanhK1 + GeluTanhK2 * a2));
        float slope = GeluTanhK1 + 3f * GeluTanhK2 * a2;
        float r = 1f / (1f + e);
        float sigmoidSlope = e * r * r;
        return x < 0f ? sigmoidSlope * ((1f + e) - a * slope) : r + a * slope * sigmoidSlope;
    }

    /// <summary>sigmoid'(x) = s (1 - s) = e / (1 + e)^2 with e = exp(-|x|): no cancellation in either tail (max relative error 3e-7).</summary>
    public static float SigmoidDerivative(float x)
    {
        float e = MathF.Exp(-MathF.Abs(x));
        float p = 1f + e;
        return e / (p * p);
    }

    /// <summary>tanh'(x) = 1 - tanh(x)^2 = 4e / (1 + e)^2 with e = exp(-2|x|): no cancellation as tanh approaches ±1 (max relative error 3e-7).</summary>
    public static float TanhDerivative(float x)
    {
        float e = MathF.Exp(-2f * MathF.Abs(x));
        float p = 1f + e;
        return 4f * e / (p * p);
    }

    /// <summary>
    /// erf'(x) = 2 / sqrt(pi) exp(-x^2), with x^2 split into an exact head and a small tail as in
    /// <see cref="Erf"/>, so large |x| lose nothing to the rounding of the square (max relative error 2.3e-7).
    /// </summary>
    public static float ErfDerivative(float x)
    {
        float a = MathF.Abs(x);
        // erf' is below the smallest float beyond |x| = 10.2; the clamp keeps the split's head exact.
        float c = a > ErfDerivativeEnd ? ErfDerivativeEnd : a;
        float head = TruncateTo8FractionBits(c);
        return TwoOverSqrtPi * MathF.Exp(-head * head) * MathF.Exp(-(c - head) * (c + head));
    }

    /// <summary>GELU-erf' on the root interval: sum_k C_k d^k, d = x - x0 with x0 split in two floats (x - high is exact).</summary>
    private static float GeluErfDerivativeNearRoot(float x)
    {
        float d = (x - GeluErfRootHigh) - GeluErfRootLow;
        float p = GeluErfRootC10;
        p = p * d + GeluErfRootC9;
        p = p * d + GeluErfRootC8;
        p = p * d + GeluErfRootC7;
        p = p * d + GeluErfRootC6;
        p = p * d + GeluErfRootC5;
        p = p * d + GeluErfRootC4;
        p = p * d + GeluErfRootC3;
        p = p * d + GeluErfRootC2;
        p = p * d + GeluErfRootC1;
        return p * d;
    }

    /// <summary>GELU-tanh' on the root interval, as <see cref="GeluErfDerivativeNearRoot"/>.</summary>
    private static float GeluTanhDerivativeNearRoot(float x)
    {
        float d = (x - GeluTanhRootHigh) - GeluTanhRootLow;
        float p = GeluTanhRootC10;
        p = p * d + GeluTanhRootC9;
        p = p * d + GeluTanhRootC8;
        p = p * d + GeluTanhRootC7;
        p = p * d + GeluTanhRootC6;
        p = p * d + GeluTanhRootC5;
        p = p * d + GeluTanhRootC4;
        p = p * d + GeluTanhRootC3;
        p = p * d + GeluTanhRootC2;
        p = p * d + GeluTanhRootC1;
        return p * d;
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
    internal static float ErfcTail(float a, float squareHead, float squareTail) =>
        MathF.Exp(-squareHead) * MathF.Exp(-squareTail) * ErfcTailPolynomial(a);

    /// <summary>Q(1 / (1 + a / 2)) = erfc(a) exp(a^2) for 0 &lt;= a &lt;= 10.1: the tail form without its Gaussian factor.</summary>
    internal static float ErfcTailPolynomial(float a)
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
        return q * t + ErfcQ0;
    }

    /// <summary>a (0 &lt;= a &lt; 16) rounded down to a multiple of 1/256: at most 12 significant bits, so its square is exact.</summary>
    private static float TruncateTo8FractionBits(float a) => (int)(a * 256f) * (1f / 256f);

    /// <summary>a (0 &lt;= a &lt; 32) rounded down to a multiple of 1/128: at most 12 significant bits, so its square is exact.</summary>
    private static float TruncateTo7FractionBits(float a) => (int)(a * 128f) * (1f / 128f);
}
