using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Engine.Kernels.Simd;

/// <summary>
/// One register of float lanes. Every SIMD kernel is written once against this interface and
/// instantiated for <see cref="Vector512Float"/>, <see cref="Vector256Float"/> and
/// <see cref="Vector128Float"/>; the JIT specialises generic code over these structs and inlines
/// the one-line wrappers, so they cost nothing. Comparisons return lane masks (all bits set where
/// true) as vectors, ready for <see cref="Select"/> and the bitwise operators.
/// </summary>
internal unsafe interface IFloatVector<TSelf> where TSelf : unmanaged, IFloatVector<TSelf>
{
    /// <summary>Lanes per register.</summary>
    static abstract int Count { get; }
    static abstract TSelf Splat(float value);
    static abstract TSelf Load(float* source);
    static abstract void Store(TSelf value, float* destination);
    /// <summary>Lane i = source[i * stride], built in registers (no round trip through memory).</summary>
    static abstract TSelf LoadStrided(float* source, long stride);

    static abstract TSelf operator +(TSelf a, TSelf b);
    static abstract TSelf operator -(TSelf a, TSelf b);
    static abstract TSelf operator *(TSelf a, TSelf b);
    static abstract TSelf operator /(TSelf a, TSelf b);
    /// <summary>Flips the sign bit (so -(+0) = -0).</summary>
    static abstract TSelf operator -(TSelf a);
    static abstract TSelf operator &(TSelf a, TSelf b);
    static abstract TSelf operator |(TSelf a, TSelf b);
    static abstract TSelf operator ^(TSelf a, TSelf b);
    static abstract TSelf operator ~(TSelf a);

    /// <summary>a * b + c with a single rounding.</summary>
    static abstract TSelf MultiplyAdd(TSelf a, TSelf b, TSelf c);
    /// <summary>IEEE 754-2019 minimum: NaN if either lane is NaN, -0 below +0.</summary>
    static abstract TSelf Min(TSelf a, TSelf b);
    /// <summary>IEEE 754-2019 maximum: NaN if either lane is NaN, +0 above -0.</summary>
    static abstract TSelf Max(TSelf a, TSelf b);
    /// <summary>
    /// The larger lane by the hardware's own rule: a single instruction, where <see cref="Max"/>
    /// needs several on x86. Lanes where either input is NaN, or the inputs are +0 and -0, come
    /// out unspecified, so callers must not depend on them.
    /// </summary>
    static abstract TSelf MaxFast(TSelf a, TSelf b);
    /// <summary>x limited to [low, high] in two instructions; NaN lanes of x stay NaN.</summary>
    static abstract TSelf Clamp(TSelf x, TSelf low, TSelf high);
    static abstract TSelf Abs(TSelf x);
    static abstract TSelf Sqrt(TSelf x);
    /// <summary>Round to the nearest integer, ties to even.</summary>
    static abstract TSelf Round(TSelf x);
    static abstract TSelf Floor(TSelf x);
    static abstract TSelf CopySign(TSelf magnitude, TSelf sign);

    static abstract TSelf Equal(TSelf a, TSelf b);
    /// <summary>Lanes whose 32 bits are identical: compares int32 data stored bit-for-bit in float lanes.</summary>
    static abstract TSelf EqualBits(TSelf a, TSelf b);
    static abstract TSelf LessThan(TSelf a, TSelf b);
    static abstract TSelf GreaterThan(TSelf a, TSelf b);
    static abstract TSelf IsNaN(TSelf x);
    /// <summary>Lanes whose sign bit is set (-0, negatives, -inf, negative NaNs).</summary>
    static abstract TSelf IsNegative(TSelf x);
    static abstract TSelf Select(TSelf mask, TSelf whereTrue, TSelf whereFalse);
    /// <summary>Bit i set where lane i of the mask is set.</summary>
    static abstract ulong MaskBits(TSelf mask);

    /// <summary>Sum of the lanes, always added in the same order.</summary>
    static abstract float SumLanes(TSelf x);
    /// <summary>Largest lane; NaN if any lane is NaN.</summary>
    static abstract float MaxLane(TSelf x);

    /// <summary>
    /// x * 2^k for integral k in [-252, 254], with IEEE overflow to infinity and gradual
    /// underflow: k is split into two halves so each power of two is a normal float.
    /// </summary>
    static abstract TSelf ScaleByPowerOfTwo(TSelf x, TSelf k);

    /// <summary>
    /// 2^j for an integer-valued t = 1.5 * 2^23 + 127 + j (the form an FMA with that constant
    /// rounds to): t's low bits shifted into the exponent field. One instruction; valid for j in
    /// [-126, 127].
    /// </summary>
    static abstract TSelf PowerOfTwo(TSelf t);

    /// <summary>
    /// For positive normal x, returns m in [sqrt(1/2), sqrt(2)) and sets exponent to the integral
    /// e with x = m * 2^e. Other inputs give unspecified lanes.
    /// </summary>
    static abstract TSelf SplitExponent(TSelf x, out TSelf exponent);
}

/// <summary>The register width the SIMD kernels run at, fixed for the process.</summary>
internal static class SimdWidth
{
    /// <summary>The environment variable that overrides the choice: "512" or "256".</summary>
    public const string Variable = "ENGINE_SIMD_WIDTH";

    /// <summary>
    /// True where the kernels use <see cref="Vector512Float"/>: where the CPU accelerates Vector512
    /// (AVX-512), unless ENGINE_SIMD_WIDTH=256 asks for Vector256. ENGINE_SIMD_WIDTH=512 runs the
    /// Vector512 code on any CPU (.NET emulates it with narrower instructions: the same results,
    /// slower), so a machine without AVX-512 can test the code an AVX-512 machine runs.
    /// </summary>
    public static readonly bool Use512 = Environment.GetEnvironmentVariable(Variable) switch
    {
        "512" => true,
        "256" => false,
        _ => Vector512.IsHardwareAccelerated,
    };
}

/// <summary>Loads and stores of the last, partial register of a row, through a padded stack buffer.</summary>
internal static unsafe class Lanes
{
    /// <summary>The widest register, in floats: the size of every partial-register buffer.</summary>
    public const int MaxCount = 16;

    /// <summary>Loads <paramref name="count"/> floats (fewer than a register) and fills the other lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static V LoadPartial<V>(float* source, int count, float fill) where V : unmanaged, IFloatVector<V>
    {
        float* buffer = stackalloc float[MaxCount];
        V.Store(V.Splat(fill), buffer);
        for (int i = 0; i < count; i++) buffer[i] = source[i];
        return V.Load(buffer);
    }

    /// <summary>Stores the first <paramref name="count"/> lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void StorePartial<V>(V value, float* destination, int count) where V : unmanaged, IFloatVector<V>
    {
        float* buffer = stackalloc float[MaxCount];
        V.Store(value, buffer);
        for (int i = 0; i < count; i++) destination[i] = buffer[i];
    }
}

/// <summary>16 float lanes (AVX-512).</summary>
internal readonly unsafe struct Vector512Float : IFloatVector<Vector512Float>
{
    private readonly Vector512<float> _v;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] private Vector512Float(Vector512<float> v) => _v = v;

    public static int Count => Vector512<float>.Count;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512Float Splat(float value) => new(Vector512.Create(value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512Float Load(float* source) => new(Vector512.Load(source));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(Vector512Float value, float* destination) => Vector512.Store(value._v, destination);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512Float LoadStrided(float* source, long stride) => new(Vector512.Create(
        Vector256Float.LoadStrided(source, stride)._v, Vector256Float.LoadStrided(source + 8 * stride, stride)._v));

    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512Float operator +(Vector512Float a, Vector512Float b) => new(a._v + b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512Float operator -(Vector512Float a, Vector512Float b) => new(a._v - b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512Float operator *(Vector512Float a, Vector512Float b) => new(a._v * b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512Float operator /(Vector512Float a, Vector512Float b) => new(a._v / b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512Float operator -(Vector512Float a) => new(a._v ^ Vector512.Create(-0f));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512Float operator &(Vector512Float a, Vector512Float b) => new(a._v & b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512Float operator |(Vector512Float a, Vector512Float b) => new(a._v | b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512Float operator ^(Vector512Float a, Vector512Float b) => new(a._v ^ b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512Float operator ~(Vector512Float a) => new(~a._v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512Float MultiplyAdd(Vector512Float a, Vector512Float b, Vector512Float c) => new(Vector512.FusedMultiplyAdd(a._v, b._v, c._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512Float Min(Vector512Float a, Vector512Float b) => new(Vector512.Min(a._v, b._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512Float Max(Vector512Float a, Vector512Float b) => new(Vector512.Max(a._v, b._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512Float MaxFast(Vector512Float a, Vector512Float b) => new(Vector512.MaxNative(a._v, b._v));
    // x86 max/min return their second operand when either is NaN, and ARM's propagate NaN: with x second, NaN passes both.
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512Float Clamp(Vector512Float x, Vector512Float low, Vector512Float high) => new(Vector512.MinNative(high._v, Vector512.MaxNative(low._v, x._v)));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512Float Abs(Vector512Float x) => new(Vector512.Abs(x._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512Float Sqrt(Vector512Float x) => new(Vector512.Sqrt(x._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512Float Round(Vector512Float x) => new(Vector512.Round(x._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512Float Floor(Vector512Float x) => new(Vector512.Floor(x._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512Float CopySign(Vector512Float magnitude, Vector512Float sign) => new(Vector512.CopySign(magnitude._v, sign._v));

    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512Float Equal(Vector512Float a, Vector512Float b) => new(Vector512.Equals(a._v, b._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512Float EqualBits(Vector512Float a, Vector512Float b) => new(Vector512.Equals(a._v.AsInt32(), b._v.AsInt32()).AsSingle());
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512Float LessThan(Vector512Float a, Vector512Float b) => new(Vector512.LessThan(a._v, b._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512Float GreaterThan(Vector512Float a, Vector512Float b) => new(Vector512.GreaterThan(a._v, b._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512Float IsNaN(Vector512Float x) => new(Vector512.IsNaN(x._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512Float IsNegative(Vector512Float x) => new(Vector512.IsNegative(x._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512Float Select(Vector512Float mask, Vector512Float whereTrue, Vector512Float whereFalse) => new(Vector512.ConditionalSelect(mask._v, whereTrue._v, whereFalse._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static ulong MaskBits(Vector512Float mask) => Vector512.ExtractMostSignificantBits(mask._v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float SumLanes(Vector512Float x) => Vector256Float.SumLanes(new(x._v.GetLower() + x._v.GetUpper()));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float MaxLane(Vector512Float x) => Vector256Float.MaxLane(new(Vector256.Max(x._v.GetLower(), x._v.GetUpper())));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512Float ScaleByPowerOfTwo(Vector512Float x, Vector512Float k)
    {
        var power = Vector512.ConvertToInt32Native(k._v);
        var half = Vector512.ShiftRightArithmetic(power, 1);
        var first = Vector512.ShiftLeft(half + Vector512.Create(127), 23).AsSingle();
        var second = Vector512.ShiftLeft(power - half + Vector512.Create(127), 23).AsSingle();
        return new(x._v * first * second);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512Float PowerOfTwo(Vector512Float t) => new(Vector512.ShiftLeft(t._v.AsInt32(), 23).AsSingle());

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512Float SplitExponent(Vector512Float x, out Vector512Float exponent)
    {
        var offset = x._v.AsInt32() - Vector512.Create(FloatBits.SqrtHalf);
        exponent = new(Vector512.ConvertToSingle(Vector512.ShiftRightArithmetic(offset, 23)));
        return new(((offset & Vector512.Create(FloatBits.MantissaMask)) + Vector512.Create(FloatBits.SqrtHalf)).AsSingle());
    }
}

/// <summary>8 float lanes (AVX2).</summary>
internal readonly unsafe struct Vector256Float : IFloatVector<Vector256Float>
{
    internal readonly Vector256<float> _v;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] internal Vector256Float(Vector256<float> v) => _v = v;

    public static int Count => Vector256<float>.Count;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256Float Splat(float value) => new(Vector256.Create(value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256Float Load(float* source) => new(Vector256.Load(source));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(Vector256Float value, float* destination) => Vector256.Store(value._v, destination);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256Float LoadStrided(float* source, long stride) => new(Vector256.Create(
        Vector128Float.LoadStrided(source, stride)._v, Vector128Float.LoadStrided(source + 4 * stride, stride)._v));

    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256Float operator +(Vector256Float a, Vector256Float b) => new(a._v + b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256Float operator -(Vector256Float a, Vector256Float b) => new(a._v - b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256Float operator *(Vector256Float a, Vector256Float b) => new(a._v * b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256Float operator /(Vector256Float a, Vector256Float b) => new(a._v / b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256Float operator -(Vector256Float a) => new(a._v ^ Vector256.Create(-0f));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256Float operator &(Vector256Float a, Vector256Float b) => new(a._v & b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256Float operator |(Vector256Float a, Vector256Float b) => new(a._v | b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256Float operator ^(Vector256Float a, Vector256Float b) => new(a._v ^ b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256Float operator ~(Vector256Float a) => new(~a._v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256Float MultiplyAdd(Vector256Float a, Vector256Float b, Vector256Float c) => new(Vector256.FusedMultiplyAdd(a._v, b._v, c._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256Float Min(Vector256Float a, Vector256Float b) => new(Vector256.Min(a._v, b._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256Float Max(Vector256Float a, Vector256Float b) => new(Vector256.Max(a._v, b._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256Float MaxFast(Vector256Float a, Vector256Float b) => new(Vector256.MaxNative(a._v, b._v));
    // x86 max/min return their second operand when either is NaN, and ARM's propagate NaN: with x second, NaN passes both.
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256Float Clamp(Vector256Float x, Vector256Float low, Vector256Float high) => new(Vector256.MinNative(high._v, Vector256.MaxNative(low._v, x._v)));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256Float Abs(Vector256Float x) => new(Vector256.Abs(x._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256Float Sqrt(Vector256Float x) => new(Vector256.Sqrt(x._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256Float Round(Vector256Float x) => new(Vector256.Round(x._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256Float Floor(Vector256Float x) => new(Vector256.Floor(x._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256Float CopySign(Vector256Float magnitude, Vector256Float sign) => new(Vector256.CopySign(magnitude._v, sign._v));

    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256Float Equal(Vector256Float a, Vector256Float b) => new(Vector256.Equals(a._v, b._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256Float EqualBits(Vector256Float a, Vector256Float b) => new(Vector256.Equals(a._v.AsInt32(), b._v.AsInt32()).AsSingle());
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256Float LessThan(Vector256Float a, Vector256Float b) => new(Vector256.LessThan(a._v, b._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256Float GreaterThan(Vector256Float a, Vector256Float b) => new(Vector256.GreaterThan(a._v, b._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256Float IsNaN(Vector256Float x) => new(Vector256.IsNaN(x._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256Float IsNegative(Vector256Float x) => new(Vector256.IsNegative(x._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256Float Select(Vector256Float mask, Vector256Float whereTrue, Vector256Float whereFalse) => new(Vector256.ConditionalSelect(mask._v, whereTrue._v, whereFalse._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static ulong MaskBits(Vector256Float mask) => Vector256.ExtractMostSignificantBits(mask._v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float SumLanes(Vector256Float x) => Vector128Float.SumLanes(new(x._v.GetLower() + x._v.GetUpper()));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float MaxLane(Vector256Float x) => Vector128Float.MaxLane(new(Vector128.Max(x._v.GetLower(), x._v.GetUpper())));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256Float ScaleByPowerOfTwo(Vector256Float x, Vector256Float k)
    {
        var power = Vector256.ConvertToInt32Native(k._v);
        var half = Vector256.ShiftRightArithmetic(power, 1);
        var first = Vector256.ShiftLeft(half + Vector256.Create(127), 23).AsSingle();
        var second = Vector256.ShiftLeft(power - half + Vector256.Create(127), 23).AsSingle();
        return new(x._v * first * second);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256Float PowerOfTwo(Vector256Float t) => new(Vector256.ShiftLeft(t._v.AsInt32(), 23).AsSingle());

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256Float SplitExponent(Vector256Float x, out Vector256Float exponent)
    {
        var offset = x._v.AsInt32() - Vector256.Create(FloatBits.SqrtHalf);
        exponent = new(Vector256.ConvertToSingle(Vector256.ShiftRightArithmetic(offset, 23)));
        return new(((offset & Vector256.Create(FloatBits.MantissaMask)) + Vector256.Create(FloatBits.SqrtHalf)).AsSingle());
    }
}

/// <summary>4 float lanes (SSE, NEON): the fallback where wider registers are not accelerated.</summary>
internal readonly unsafe struct Vector128Float : IFloatVector<Vector128Float>
{
    internal readonly Vector128<float> _v;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] internal Vector128Float(Vector128<float> v) => _v = v;

    public static int Count => Vector128<float>.Count;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128Float Splat(float value) => new(Vector128.Create(value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128Float Load(float* source) => new(Vector128.Load(source));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(Vector128Float value, float* destination) => Vector128.Store(value._v, destination);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128Float LoadStrided(float* source, long stride) => new(Vector128.Create(source[0], source[stride], source[2 * stride], source[3 * stride]));

    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128Float operator +(Vector128Float a, Vector128Float b) => new(a._v + b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128Float operator -(Vector128Float a, Vector128Float b) => new(a._v - b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128Float operator *(Vector128Float a, Vector128Float b) => new(a._v * b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128Float operator /(Vector128Float a, Vector128Float b) => new(a._v / b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128Float operator -(Vector128Float a) => new(a._v ^ Vector128.Create(-0f));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128Float operator &(Vector128Float a, Vector128Float b) => new(a._v & b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128Float operator |(Vector128Float a, Vector128Float b) => new(a._v | b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128Float operator ^(Vector128Float a, Vector128Float b) => new(a._v ^ b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128Float operator ~(Vector128Float a) => new(~a._v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128Float MultiplyAdd(Vector128Float a, Vector128Float b, Vector128Float c) => new(Vector128.FusedMultiplyAdd(a._v, b._v, c._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128Float Min(Vector128Float a, Vector128Float b) => new(Vector128.Min(a._v, b._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128Float Max(Vector128Float a, Vector128Float b) => new(Vector128.Max(a._v, b._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128Float MaxFast(Vector128Float a, Vector128Float b) => new(Vector128.MaxNative(a._v, b._v));
    // x86 max/min return their second operand when either is NaN, and ARM's propagate NaN: with x second, NaN passes both.
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128Float Clamp(Vector128Float x, Vector128Float low, Vector128Float high) => new(Vector128.MinNative(high._v, Vector128.MaxNative(low._v, x._v)));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128Float Abs(Vector128Float x) => new(Vector128.Abs(x._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128Float Sqrt(Vector128Float x) => new(Vector128.Sqrt(x._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128Float Round(Vector128Float x) => new(Vector128.Round(x._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128Float Floor(Vector128Float x) => new(Vector128.Floor(x._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128Float CopySign(Vector128Float magnitude, Vector128Float sign) => new(Vector128.CopySign(magnitude._v, sign._v));

    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128Float Equal(Vector128Float a, Vector128Float b) => new(Vector128.Equals(a._v, b._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128Float EqualBits(Vector128Float a, Vector128Float b) => new(Vector128.Equals(a._v.AsInt32(), b._v.AsInt32()).AsSingle());
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128Float LessThan(Vector128Float a, Vector128Float b) => new(Vector128.LessThan(a._v, b._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128Float GreaterThan(Vector128Float a, Vector128Float b) => new(Vector128.GreaterThan(a._v, b._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128Float IsNaN(Vector128Float x) => new(Vector128.IsNaN(x._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128Float IsNegative(Vector128Float x) => new(Vector128.IsNegative(x._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128Float Select(Vector128Float mask, Vector128Float whereTrue, Vector128Float whereFalse) => new(Vector128.ConditionalSelect(mask._v, whereTrue._v, whereFalse._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static ulong MaskBits(Vector128Float mask) => Vector128.ExtractMostSignificantBits(mask._v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float SumLanes(Vector128Float x) => (x._v.GetElement(0) + x._v.GetElement(2)) + (x._v.GetElement(1) + x._v.GetElement(3));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float MaxLane(Vector128Float x) =>
        MathF.Max(MathF.Max(x._v.GetElement(0), x._v.GetElement(1)), MathF.Max(x._v.GetElement(2), x._v.GetElement(3)));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128Float ScaleByPowerOfTwo(Vector128Float x, Vector128Float k)
    {
        var power = Vector128.ConvertToInt32Native(k._v);
        var half = Vector128.ShiftRightArithmetic(power, 1);
        var first = Vector128.ShiftLeft(half + Vector128.Create(127), 23).AsSingle();
        var second = Vector128.ShiftLeft(power - half + Vector128.Create(127), 23).AsSingle();
        return new(x._v * first * second);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128Float PowerOfTwo(Vector128Float t) => new(Vector128.ShiftLeft(t._v.AsInt32(), 23).AsSingle());

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128Float SplitExponent(Vector128Float x, out Vector128Float exponent)
    {
        var offset = x._v.AsInt32() - Vector128.Create(FloatBits.SqrtHalf);
        exponent = new(Vector128.ConvertToSingle(Vector128.ShiftRightArithmetic(offset, 23)));
        return new(((offset & Vector128.Create(FloatBits.MantissaMask)) + Vector128.Create(FloatBits.SqrtHalf)).AsSingle());
    }
}

/// <summary>Bit patterns of IEEE binary32 used by the exponent splitting above.</summary>
internal static class FloatBits
{
    /// <summary>Bits of sqrt(1/2) rounded down: subtracting it makes the exponent field count from sqrt(1/2).</summary>
    public const int SqrtHalf = 0x3F3504F3;
    /// <summary>The 23 fraction bits.</summary>
    public const int MantissaMask = 0x007FFFFF;
}
