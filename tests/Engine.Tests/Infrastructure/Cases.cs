using FsCheck;
using FsCheck.Fluent;

namespace Engine.Tests;

/// <summary>
/// A generated tensor: dimensions drawn from sizes that stress kernels (1, primes, one off a
/// power of two, odd sizes that are no multiple of any tile), values normal with a magnitude of
/// 1e-3, 1 or 1e3, and a seed. A backend clamps the sizes to what it can run quickly.
/// </summary>
public sealed record TensorCase(int[] Dims, float Magnitude, ulong Seed)
{
    public override string ToString() => $"dims {ShapeMath.Format(Dims)}, magnitude {Magnitude}, seed {Seed}";

    /// <summary>The dims reduced for a backend: each at most maxDim, and the product at most maxElements.</summary>
    public int[] Shape(BackendFixture backend)
    {
        var dims = Dims.Select(d => Math.Min(d, backend.MaxDim)).ToArray();
        for (int i = 0; ShapeMath.Count(dims) > backend.MaxElements; i = (i + 1) % dims.Length)
            dims[i] = Math.Max(1, dims[i] / 2);
        return dims;
    }

    public Tensor Make(BackendFixture backend, ulong salt = 0) =>
        Tensor.Randn(backend.Device, Shape(backend), Seed * 7919 + salt, 0f, Magnitude);
}

/// <summary>Shapes of a matrix product: batch, M, K, N, transposes, bias, and a seed.</summary>
public sealed record MatmulCase(int Batch, int M, int K, int N, bool TransA, bool TransB, bool Bias, bool SharedB, ulong Seed)
{
    public override string ToString() =>
        $"batch {Batch}, M {M}, K {K}, N {N}, transA {TransA}, transB {TransB}, bias {Bias}, sharedB {SharedB}, seed {Seed}";
}

public static class Generators
{
    public static readonly int[] InterestingSizes = [1, 2, 3, 5, 7, 8, 13, 16, 17, 31, 32, 33, 63, 64, 65, 100, 127, 128, 129, 257, 300];

    public static Gen<int> Size => Gen.Elements(InterestingSizes);

    public static Arbitrary<TensorCase> TensorCase() =>
        (from rank in Gen.Choose(1, 4)
         from dims in Gen.ArrayOf(Size, rank)
         from magnitude in Gen.Elements(1e-3f, 1f, 1f, 1e3f)
         from seed in Gen.Choose(0, int.MaxValue)
         select new TensorCase(dims, magnitude, (ulong)seed)).ToArbitrary();

    public static Arbitrary<MatmulCase> MatmulCase() =>
        (from batch in Gen.Elements(1, 1, 2, 3)
         from m in Gen.Elements([.. InterestingSizes, 512, 577])
         from k in Gen.Elements([.. InterestingSizes, 512, 600])
         from n in Gen.Elements([.. InterestingSizes, 512, 515])
         from transA in Gen.Elements(false, true)
         from transB in Gen.Elements(false, true)
         from bias in Gen.Elements(false, true)
         from sharedB in Gen.Elements(false, true)
         from seed in Gen.Choose(0, int.MaxValue)
         select new MatmulCase(batch, m, k, n, transA, transB, bias, sharedB, (ulong)seed)).ToArbitrary();
}
