using System.Runtime.CompilerServices;
using static Engine.Kernels.ScalarMath;

namespace Engine.Kernels.Simd;

/// <summary>
/// Transcendental functions on whole registers, lane by lane, written once for every width.
/// Accuracy (float32, measured against double references): exp, log, log1p, tanh, sigmoid, erf
/// within about 2 ulp (relative error below 2.5e-7) over their whole domains, including the
/// IEEE special values: exp(-inf) = 0, exp(x > 88.72) = inf, gradual underflow into subnormals,
/// log(0) = -inf, log(x &lt; 0) = NaN, tanh and erf saturate to +-1, NaN stays NaN.
/// Polynomial coefficients are near-minimax fits (Lawson's method in 30-digit arithmetic),
/// except the pow logarithm series, which uses the exact Taylor coefficients of atanh.
/// </summary>
internal static class VectorMath
{
    private const float Ln2High = 0.6931471824645996f;     // float(ln 2)
    private const float Ln2Low = -1.9046542121259336e-09f;  // ln 2 - Ln2High
    private const float Log2E = 1.4426950408889634f;
    private const float Log2EHigh = 1.4426950216293335f;
    private const float Log2ELow = 1.925963033500011e-08f;
    private const float TwoOverSqrtPi = 1.1283791670955126f;
    private const float InvSqrt2Pi = 0.3989422804014327f;

    /// <summary>
    /// e^x = 2^k e^r with k = round(x / ln 2) and r = x - k ln 2 in [-ln2/2, ln2/2] (two-constant
    /// Cody-Waite reduction; with FMA the first step is exact). e^r = 1 + r + r^2 P(r), P of
    /// degree 4 (fit error 3.1e-9). One FMA rounds x / ln 2 to k and leaves 2^(k+24) in the low
    /// bits (<see cref="IFloatVector{TSelf}.PowerOfTwo"/>); the final multiply by 2^-24 also rounds
    /// subnormal results correctly, and a NaN stays NaN through the multiplies. That covers
    /// x &lt;= 71 (x is clamped below at -104, where e^x rounds to 0); a register with a lane
    /// above 71 scales those lanes in two steps instead.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V Exp<V>(V x) where V : unmanaged, IFloatVector<V>
    {
        V clamped = V.Clamp(x, V.Splat(-104f), V.Splat(89f));
        V e = ExpSplit(clamped, out V t);
        V result = e * V.PowerOfTwo(t) * V.Splat(ExpPowerScale);
        V beyond = V.GreaterThan(clamped, V.Splat(71f));
        return V.MaskBits(beyond) == 0 ? result : V.Select(beyond, V.ScaleByPowerOfTwo(e, t - V.Splat(ExpRounding)), result);
    }

    /// <summary>1.5 * 2^23 + 127 + 24: an FMA adding it rounds to an integer k and leaves k + 24 as a power for <see cref="IFloatVector{TSelf}.PowerOfTwo"/>.</summary>
    private const float ExpRounding = 12583063f;
    /// <summary>2^-24, taking back the 24 added to the power.</summary>
    private const float ExpPowerScale = 1f / 16777216f;

    /// <summary>
    /// e^x = mantissa * PowerOfTwo(t) * 2^-24 for x in [-104, 71], mantissa in [0.7, 1.42]. A caller
    /// may multiply the mantissa by a factor before scaling, which keeps full precision where the
    /// product, not e^x, is what must not lose bits to the subnormal range.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static V ExpSplit<V>(V x, out V t) where V : unmanaged, IFloatVector<V>
    {
        t = V.MultiplyAdd(x, V.Splat(Log2E), V.Splat(ExpRounding));
        V k = t - V.Splat(ExpRounding);
        V r = V.MultiplyAdd(-k, V.Splat(Ln2High), x);
        r = V.MultiplyAdd(-k, V.Splat(Ln2Low), r);
        return ExpOfReduced(r);
    }

    /// <summary>e^r for |r| &lt;= ln2/2 (plus a little): 1 + r + r^2 P(r).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static V ExpOfReduced<V>(V r) where V : unmanaged, IFloatVector<V>
    {
        V p = V.MultiplyAdd(V.Splat(0.0013814609264954925f), r, V.Splat(0.008368710055947304f));
        p = V.MultiplyAdd(p, r, V.Splat(0.04166838899254799f));
        p = V.MultiplyAdd(p, r, V.Splat(0.1666652113199234f));
        p = V.MultiplyAdd(p, r, V.Splat(0.4999999403953552f));
        return V.MultiplyAdd(p, r * r, r) + V.Splat(1f);
    }

    /// <summary>
    /// log x = e ln2 + log(1 + f) with x = 2^e (1 + f), 1 + f in [sqrt(1/2), sqrt 2). With
    /// s = f / (2 + f) and hf = f^2 / 2: log(1 + f) = f - hf + s (hf + R), R = z (c0 + c1 z + c2 z^2),
    /// z = s^2 (fit error of R 2.8e-7, which R's small weight turns into 4e-9). Subnormals are
    /// scaled by 2^23 first; 0, negatives, +inf and NaN are patched at the end.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V Log<V>(V x) where V : unmanaged, IFloatVector<V>
    {
        V subnormal = V.LessThan(x, V.Splat(1.1754943508222875e-38f));
        V scaled = V.Select(subnormal, x * V.Splat(8388608f), x);
        V m = V.SplitExponent(scaled, out V e);
        e -= subnormal & V.Splat(23f);
        V f = m - V.Splat(1f);
        V s = f / (f + V.Splat(2f));
        V z = s * s;
        V halfSquare = V.Splat(0.5f) * f * f;
        V r = V.MultiplyAdd(V.MultiplyAdd(V.Splat(0.2958051264286041f), z, V.Splat(0.39988765120506287f)), z, V.Splat(0.6666668653488159f)) * z;
        V low = V.MultiplyAdd(s, halfSquare + r, e * V.Splat(Ln2Low));
        V result = V.MultiplyAdd(e, V.Splat(Ln2High), f - (halfSquare - low));

        result = V.Select(V.Equal(x, V.Splat(float.PositiveInfinity)), x, result);
        result = V.Select(V.Equal(x, V.Splat(0f)), V.Splat(float.NegativeInfinity), result);
        return V.Select(V.LessThan(x, V.Splat(0f)) | V.IsNaN(x), V.Splat(float.NaN), result);
    }

    /// <summary>
    /// log(1 + x) = log(u) * x / (u - 1) with u = 1 + x rounded: the ratio corrects the rounding
    /// of u to first order. u = 1 returns x itself (and keeps -0); u = inf returns inf.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V Log1p<V>(V x) where V : unmanaged, IFloatVector<V>
    {
        V one = V.Splat(1f);
        V u = x + one;
        V result = Log(u) * (x / (u - one));
        result = V.Select(V.Equal(u, V.Splat(float.PositiveInfinity)), u, result);
        return V.Select(V.Equal(u, one), x, result);
    }

    /// <summary>
    /// tanh x: for |x| &lt; 0.625, x + x^3 P(x^2) with P of degree 4 (fit error 4.4e-9); above,
    /// sign(x) (1 - e) / (1 + e) with e = e^(-2|x|) &lt;= 0.29 (no cancellation), which saturates to
    /// exactly +-1 once e underflows.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V Tanh<V>(V x) where V : unmanaged, IFloatVector<V>
    {
        V a = V.Abs(x);
        V z = x * x;
        V p = V.MultiplyAdd(V.Splat(-0.00570498313754797f), z, V.Splat(0.0206390842795372f));
        p = V.MultiplyAdd(p, z, V.Splat(-0.05373971536755562f));
        p = V.MultiplyAdd(p, z, V.Splat(0.13331441581249237f));
        p = V.MultiplyAdd(p, z, V.Splat(-0.3333328068256378f));
        V small = V.MultiplyAdd(p * z, x, x);
        V e = Exp(-(a + a));
        V large = (V.Splat(1f) - e) / (V.Splat(1f) + e);
        return V.Select(V.LessThan(a, V.Splat(0.625f)), small, V.CopySign(large, x));
    }

    /// <summary>
    /// 1 / (1 + e^-x), as r = 1 / (1 + e^-|x|) for x &gt;= 0 and e^-|x| r below: e^-|x| never
    /// overflows, so neither tail cancels and both saturate exactly (to 1, and through the
    /// subnormals to 0).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V Sigmoid<V>(V x) where V : unmanaged, IFloatVector<V>
    {
        V e = Exp(-V.Abs(x));
        V r = V.Splat(1f) / (V.Splat(1f) + e);
        return V.Select(V.IsNegative(x), e * r, r);
    }

    /// <summary>erf x with the coefficients of <see cref="ScalarMath"/>: odd polynomial below 1, 1 - erfc above.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V Erf<V>(V x) where V : unmanaged, IFloatVector<V>
    {
        V a = V.Clamp(V.Abs(x), V.Splat(0f), V.Splat(ErfcTailEnd));
        V square = a * a;
        V large = V.Splat(1f) - ErfcTail(a, square, V.MultiplyAdd(a, a, -square), V.Splat(1f));
        return V.Select(V.LessThan(a, V.Splat(ErfPolynomialEnd)), ErfSmall(x), V.CopySign(large, x));
    }

    /// <summary>
    /// GELU, erf form: x Phi(x), Phi(x) = 0.5 (1 + erf(x / sqrt 2)), as x (1 - erfc(a) / 2) for
    /// x &gt; 0 and x erfc(a) / 2 below, a = |x| / sqrt 2, with a^2 = x^2 / 2 taken exactly (FMA)
    /// and x folded in before the final power of two, so the left tail keeps its relative accuracy
    /// down to the subnormals. x is clamped to +-20, where Phi is exactly 0 or 1, so -inf gives -0.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V GeluErf<V>(V x) where V : unmanaged, IFloatVector<V>
    {
        V half = V.Splat(0.5f);
        V multiplier = V.Clamp(x, V.Splat(-GeluSaturation), V.Splat(float.PositiveInfinity));
        V c = V.Clamp(x, V.Splat(-GeluSaturation), V.Splat(GeluSaturation));
        V a = V.Clamp(V.Abs(c) * V.Splat(InvSqrt2), V.Splat(0f), V.Splat(ErfcTailEnd));
        V square = c * c;
        V positive = V.GreaterThan(c, V.Splat(0f));
        V factor = V.Select(positive, half, multiplier * half);
        V scaledTail = ErfcTail(a, half * square, half * V.MultiplyAdd(c, c, -square), factor);
        V gelu = V.Select(positive, multiplier * (V.Splat(1f) - scaledTail), scaledTail);
        // As torch (and the ILGPU kernel): 0.5 (-inf) (1 + erf(-inf)) = -inf * 0 = NaN.
        return V.Select(V.Equal(x, V.Splat(float.NegativeInfinity)), V.Splat(float.NaN), gelu);
    }

    /// <summary>
    /// GELU, tanh form: 0.5 x (1 + tanh(u)) = x sigmoid(2u), u = sqrt(2/pi) (x + 0.044715 x^3),
    /// with 2u = x (K1 + K2 x^2). Through the sigmoid the left tail has no cancellation; finite x
    /// below -20 gives exactly -0 (the true value underflows); -inf gives NaN, as torch.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V GeluTanh<V>(V x) where V : unmanaged, IFloatVector<V>
    {
        V c = V.Clamp(x, V.Splat(-GeluSaturation), V.Splat(float.PositiveInfinity));
        V gelu = c * Sigmoid(c * V.MultiplyAdd(c * c, V.Splat(GeluTanhK2), V.Splat(GeluTanhK1)));
        // As torch (and the ILGPU kernel): 0.5 (-inf) (1 + tanh(-inf)) = -inf * 0 = NaN.
        return V.Select(V.Equal(x, V.Splat(float.NegativeInfinity)), V.Splat(float.NaN), gelu);
    }

    /// <summary>
    /// tanh'(x) = 1 - tanh^2 x = 4 e / (1 + e)^2 with e = e^(-2|x|): no cancellation as tanh
    /// saturates, so the tails keep their relative accuracy (0 at +-inf).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V TanhDerivative<V>(V x) where V : unmanaged, IFloatVector<V>
    {
        V a = V.Abs(x);
        V e = Exp(-(a + a));
        V r = V.Splat(1f) / (V.Splat(1f) + e);
        return V.Splat(4f) * e * r * r;
    }

    /// <summary>sigmoid'(x) = s (1 - s) = e / (1 + e)^2 with e = e^(-|x|), accurate in both tails.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V SigmoidDerivative<V>(V x) where V : unmanaged, IFloatVector<V>
    {
        V e = Exp(-V.Abs(x));
        V r = V.Splat(1f) / (V.Splat(1f) + e);
        return e * r * r;
    }

    /// <summary>
    /// erf'(x) = 2 / sqrt(pi) e^(-x^2), with x^2 = head + tail taken exactly (FMA) and
    /// e^(-head - tail) = e^(-head) (1 - tail). |x| is clamped at 11, where the result is 0.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V ErfDerivative<V>(V x) where V : unmanaged, IFloatVector<V>
    {
        V a = V.Clamp(V.Abs(x), V.Splat(0f), V.Splat(11f));
        V square = a * a;
        V tail = V.MultiplyAdd(a, a, -square);
        return V.Splat(TwoOverSqrtPi) * Exp(-square) * (V.Splat(1f) - tail);
    }

    /// <summary>
    /// GELU (erf form) derivative: Phi(x) + x phi(x), phi(x) = e^(-x^2 / 2) / sqrt(2 pi). With
    /// a = |x| / sqrt 2: Phi(x) = (1 + erf(a)) / 2 by the odd polynomial for a &lt; 1 (exactly 1/2
    /// at 0), and beyond 1 - erfc(a) / 2 for x &gt; 0 and erfc(a) / 2 below, where
    /// erfc(a) = e^(-a^2) Q(t) as in <see cref="ErfcTail"/> shares e^(-a^2) = e^(-x^2 / 2) with
    /// phi, so the left tail keeps its relative accuracy. x^2 is split exactly (FMA) for the
    /// exponential; x is clamped to +-20 (where Phi is 0 or 1 and phi is 0) everywhere but the
    /// final x phi(x), so +-inf gives inf * 0 = NaN, as torch.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V GeluErfDerivative<V>(V x) where V : unmanaged, IFloatVector<V>
    {
        V half = V.Splat(0.5f);
        V c = V.Clamp(x, V.Splat(-GeluSaturation), V.Splat(GeluSaturation));
        V square = c * c;
        V squareTail = V.MultiplyAdd(c, c, -square);
        V gaussian = Exp(-(half * square)) * (V.Splat(1f) - half * squareTail);
        V scaled = c * V.Splat(InvSqrt2);
        V a = V.Clamp(V.Abs(scaled), V.Splat(0f), V.Splat(ErfcTailEnd));
        V halfErfc = half * gaussian * ErfcPolynomial(a);
        V tailCdf = V.Select(V.GreaterThan(c, V.Splat(0f)), V.Splat(1f) - halfErfc, halfErfc);
        V cdf = V.Select(V.LessThan(a, V.Splat(ErfPolynomialEnd)), V.MultiplyAdd(half, ErfSmall(scaled), half), tailCdf);
        return cdf + x * (gaussian * V.Splat(InvSqrt2Pi));
    }

    /// <summary>
    /// GELU (tanh form) derivative, torch's 0.5 (1 + t) + 0.5 x (1 - t^2) u' with t = tanh u,
    /// u = sqrt(2/pi) (x + 0.044715 x^3), rewritten through s = sigmoid(2u): 0.5 (1 + t) = s and
    /// 1 - t^2 = 4 s (1 - s) = 4 e r^2 with e = e^(-|2u|), r = 1 / (1 + e). With 2u = x (K1 + K2 x^2),
    /// the derivative is s + x e r^2 (K1 + 3 K2 x^2): no cancellation in either tail. As torch,
    /// +-inf (and |x| so large that x^2 overflows) give NaN.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V GeluTanhDerivative<V>(V x) where V : unmanaged, IFloatVector<V>
    {
        V square = x * x;
        V twoU = x * V.MultiplyAdd(square, V.Splat(GeluTanhK2), V.Splat(GeluTanhK1));
        V e = Exp(-V.Abs(twoU));
        V r = V.Splat(1f) / (V.Splat(1f) + e);
        V s = V.Select(V.IsNegative(twoU), e * r, r);
        return s + x * (e * r * r) * V.MultiplyAdd(square, V.Splat(3f * GeluTanhK2), V.Splat(GeluTanhK1));
    }

    /// <summary>x (C0 + z P(z)), z = x^2: erf for |x| &lt;= 1 (see <see cref="ScalarMath.ErfSmall"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static V ErfSmall<V>(V x) where V : unmanaged, IFloatVector<V>
    {
        V z = x * x;
        V p = V.MultiplyAdd(V.Splat(ErfC6), z, V.Splat(ErfC5));
        p = V.MultiplyAdd(p, z, V.Splat(ErfC4));
        p = V.MultiplyAdd(p, z, V.Splat(ErfC3));
        p = V.MultiplyAdd(p, z, V.Splat(ErfC2));
        p = V.MultiplyAdd(p, z, V.Splat(ErfC1));
        p = V.MultiplyAdd(p, z, V.Splat(ErfC0Low));
        return V.MultiplyAdd(x, V.Splat(ErfC0High), x * p);
    }

    /// <summary>
    /// factor * erfc(a) = factor * exp(-a^2) Q(1 / (1 + a / 2)) for 0 &lt;= a &lt;= 10.1 (see
    /// <see cref="ScalarMath.ErfcTail"/>), given a^2 = head + tail with tail tiny:
    /// exp(-head - tail) = exp(-head) (1 - tail). The factor multiplies the mantissa before the
    /// power of two, so a tiny product loses nothing to the subnormal range on the way.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static V ErfcTail<V>(V a, V squareHead, V squareTail, V factor) where V : unmanaged, IFloatVector<V>
    {
        V q = ErfcPolynomial(a);
        V mantissa = ExpSplit(V.Clamp(-squareHead, V.Splat(-104f), V.Splat(0f)), out V power);
        return factor * mantissa * (q - q * squareTail) * V.PowerOfTwo(power) * V.Splat(ExpPowerScale);
    }

    /// <summary>Q(t), t = 1 / (1 + a / 2): erfc(a) / exp(-a^2) for 0 &lt;= a &lt;= 10.1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static V ErfcPolynomial<V>(V a) where V : unmanaged, IFloatVector<V>
    {
        V one = V.Splat(1f);
        V t = one / V.MultiplyAdd(a, V.Splat(ErfcTailScale), one);
        V q = V.MultiplyAdd(V.Splat(ErfcQ10), t, V.Splat(ErfcQ9));
        q = V.MultiplyAdd(q, t, V.Splat(ErfcQ8));
        q = V.MultiplyAdd(q, t, V.Splat(ErfcQ7));
        q = V.MultiplyAdd(q, t, V.Splat(ErfcQ6));
        q = V.MultiplyAdd(q, t, V.Splat(ErfcQ5));
        q = V.MultiplyAdd(q, t, V.Splat(ErfcQ4));
        q = V.MultiplyAdd(q, t, V.Splat(ErfcQ3));
        q = V.MultiplyAdd(q, t, V.Splat(ErfcQ2));
        q = V.MultiplyAdd(q, t, V.Splat(ErfcQ1));
        return V.MultiplyAdd(q, t, V.Splat(ErfcQ0));
    }

    /// <summary>
    /// a^b with C powf semantics. For a finite positive base, a^b = 2^(b log2 a) where log2 a is
    /// carried as a float pair (about 44 bits) so the product, up to 150 in magnitude, keeps the
    /// result within about 1 ulp:
    /// <code>
    ///   a = 2^e m, m in [sqrt(1/2), sqrt 2), f = m - 1, s = f / (2 + f)      (s as a float pair)
    ///   ln m = 2 atanh s = 2s + (2/3) s^3 + s^5 (2/5 + 2/7 z + 2/9 z^2 + 2/11 z^3 + 2/13 z^4), z = s^2
    ///   y = b (e + ln m / ln 2) as a pair; a^b = 2^k e^((y - k) ln 2), k = round(y)
    /// </code>
    /// Then the IEEE special cases: b = 0 or a = 1 gives 1 (even with NaN), -1^(+-inf) = 1,
    /// 0 and inf bases, infinite exponents, negative bases (odd integer b negates, non-integer
    /// b gives NaN), NaN otherwise.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V Pow<V>(V a, V b) where V : unmanaged, IFloatVector<V>
    {
        V one = V.Splat(1f);
        V zero = V.Splat(0f);
        V infinity = V.Splat(float.PositiveInfinity);
        V magnitude = V.Abs(a);

        // ln m as the pair (lnHigh, lnLow).
        V subnormal = V.LessThan(magnitude, V.Splat(1.1754943508222875e-38f));
        V m = V.SplitExponent(V.Select(subnormal, magnitude * V.Splat(8388608f), magnitude), out V e);
        e -= subnormal & V.Splat(23f);
        V f = m - one;
        V d = f + V.Splat(2f);
        V dLow = f - (d - V.Splat(2f));
        V s = f / d;
        V sLow = (V.MultiplyAdd(-s, d, f) - s * dLow) / d;
        V z = s * s;
        V zLow = V.MultiplyAdd(s, s, -z);
        V cube = z * s;
        V cubeLow = V.MultiplyAdd(z, s, -cube) + zLow * s;
        V twoThirdsCube = cube * V.Splat(0.6666666865348816f);
        V twoThirdsCubeLow = V.MultiplyAdd(cube, V.Splat(0.6666666865348816f), -twoThirdsCube)
            + V.MultiplyAdd(cubeLow, V.Splat(0.6666666865348816f), cube * V.Splat(-1.9868215517249155e-08f));
        V series = V.MultiplyAdd(V.Splat(2f / 13f), z, V.Splat(2f / 11f));
        series = V.MultiplyAdd(series, z, V.Splat(2f / 9f));
        series = V.MultiplyAdd(series, z, V.Splat(2f / 7f));
        series = V.MultiplyAdd(series, z, V.Splat(2f / 5f));
        V twoS = s + s;
        V lnHigh = twoS + twoThirdsCube;
        V lnLow = (twoThirdsCube - (lnHigh - twoS)) + twoThirdsCubeLow
            + V.MultiplyAdd(z * z * s, series, V.MultiplyAdd(z + z, sLow, sLow + sLow));

        // log2 a = e + ln m / ln 2, then y = b log2 a, both as pairs.
        V log2High = lnHigh * V.Splat(Log2EHigh);
        V log2Low = V.MultiplyAdd(lnHigh, V.Splat(Log2EHigh), -log2High)
            + V.MultiplyAdd(lnHigh, V.Splat(Log2ELow), lnLow * V.Splat(Log2EHigh));
        V totalHigh = e + log2High;
        V totalLow = (log2High - (totalHigh - e)) + log2Low;
        V y = b * totalHigh;
        V yLow = V.MultiplyAdd(b, totalHigh, -y) + b * totalLow;

        V yClamped = V.Clamp(y, V.Splat(-200f), V.Splat(200f));
        V k = V.Round(yClamped);
        V fraction = (yClamped - k) + V.Select(V.Equal(y, yClamped), yLow, zero);
        V result = V.ScaleByPowerOfTwo(ExpOfReduced(fraction * V.Splat(Ln2High)), k);

        // Zero and infinite bases, infinite exponents.
        V negativeExponent = V.LessThan(b, zero);
        V infiniteExponent = V.Equal(V.Abs(b), infinity);
        result = V.Select(V.Equal(magnitude, zero), V.Select(negativeExponent, infinity, zero), result);
        result = V.Select(V.Equal(magnitude, infinity), V.Select(negativeExponent, zero, infinity), result);
        V growing = ~(V.LessThan(magnitude, one) ^ negativeExponent);
        result = V.Select(infiniteExponent, V.Select(growing, infinity, zero), result);

        // Negative bases.
        V isInteger = V.Equal(V.Floor(b), b);
        V halfB = b * V.Splat(0.5f);
        V isOdd = isInteger & ~V.Equal(V.Floor(halfB), halfB);
        result = V.Select(V.IsNegative(a) & isOdd, -result, result);
        V negativeFinite = V.LessThan(a, zero) & V.GreaterThan(a, V.Splat(float.NegativeInfinity));
        result = V.Select(negativeFinite & ~isInteger, V.Splat(float.NaN), result);

        result = V.Select(V.IsNaN(a) | V.IsNaN(b), V.Splat(float.NaN), result);
        V exactlyOne = V.Equal(b, zero) | V.Equal(a, one) | (V.Equal(magnitude, one) & infiniteExponent);
        return V.Select(exactlyOne, one, result);
    }
}
