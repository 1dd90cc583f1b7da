using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Engine.Kernels.Simd;

// The register-blocked inner kernels of the packed matrix product (see Matmul.cs for the
// blocking around them). Each computes one tile of C from packed panels:
//
//   tile[i, j] = sum over k < depth of packedA[k * Rows + i] * packedB[k * Columns + j]
//
// and writes it through the epilogue
//
//   C[i, j] = (addToC ? C[i, j] : 0) + (alpha * tile[i, j] + (bias is null ? 0 : bias[j]))
//
// The whole tile lives in vector registers for the k loop: per k, Columns / width vector loads of
// B, Rows broadcasts of A, and Rows * Columns / width fused multiply-adds, so the loop is bound by
// the FMA units rather than by loads. Tiles cut by the edge of C (rows < Rows or columns <
// Columns) are computed in full from the zero-padded panels and only their valid part is
// stored, by scalar code doing the same operations in the same order as the vector epilogue, so
// an element's value does not depend on whether it sat in a full tile.

/// <summary>A register tile and the cache blocking that suits it.</summary>
internal unsafe interface IMatmulMicroKernel
{
    /// <summary>MR: rows of C per tile, the height of a packed A micro-panel.</summary>
    static abstract int Rows { get; }
    /// <summary>NR: columns of C per tile, the width of a packed B micro-panel.</summary>
    static abstract int Columns { get; }
    /// <summary>KC: the largest depth of one pass; Columns * KC floats of B stay in L1.</summary>
    static abstract int DepthBlock { get; }
    /// <summary>MC: the most rows of A packed at once; RowBlock * KC floats stay in L2.</summary>
    static abstract int RowBlock { get; }
    /// <summary>NC: the most columns of B packed at once; KC * NC floats stay in L3.</summary>
    static abstract int ColumnBlock { get; }

    /// <summary>Multiplies one Rows x depth A micro-panel by one depth x Columns B micro-panel into C.</summary>
    static abstract void Multiply(int depth, float* packedA, float* packedB, float* c, nint ldc,
        int rows, int columns, float alpha, float* bias, bool addToC);
}

/// <summary>The parts of storing a tile that all micro-kernels share.</summary>
internal static unsafe class TileStore
{
    /// <summary>
    /// Asks for the cache lines of a tile of C before the k loop, so the epilogue's loads of C
    /// (from L3 or memory: C rarely fits in L2 across a whole pass) are not waited for.
    /// Touching lines outside the matrix is harmless: a prefetch never faults.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Prefetch(float* c, nint ldc, int rows, int columns)
    {
        if (!Sse.IsSupported) return;
        for (int i = 0; i < rows; i++)
        {
            float* row = c + i * ldc;
            for (int j = 0; j < columns; j += 16) Sse.Prefetch0(row + j);
            Sse.Prefetch0(row + columns - 1);
        }
    }

    /// <summary>Scalar epilogue of a partial tile, the per-element twin of the vector epilogues.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void StoreScalar(float* tile, int tileColumns, float* c, nint ldc, int rows, int columns,
        float alpha, float* bias, bool addToC)
    {
        for (int i = 0; i < rows; i++)
        {
            float* cRow = c + i * ldc;
            float* tileRow = tile + i * tileColumns;
            for (int j = 0; j < columns; j++)
            {
                float value = tileRow[j] * alpha;
                if (bias != null) value += bias[j];
                if (addToC) value = cRow[j] + value;
                cRow[j] = value;
            }
        }
    }
}

/// <summary>
/// 6 x 16 tile in twelve Vector256 accumulators (AVX2 + FMA: 16 ymm registers hold 12
/// accumulators, 2 B vectors and 1 broadcast of A). Per k: 2 loads, 6 broadcasts, 12 FMAs.
/// KC = 384 keeps a 24 KiB B micro-panel in a 32 KiB L1; MC = 144 keeps a 216 KiB A block in a
/// 512 KiB L2 with room for B traffic; NC = 4080 keeps a 6 MiB B block in L3.
/// </summary>
[SkipLocalsInit]
internal readonly unsafe struct Tile6x16 : IMatmulMicroKernel
{
    public static int Rows => 6;
    public static int Columns => 16;
    public static int DepthBlock => 384;
    public static int RowBlock => 144;
    public static int ColumnBlock => 4080;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Multiply(int depth, float* packedA, float* packedB, float* c, nint ldc,
        int rows, int columns, float alpha, float* bias, bool addToC)
    {
        TileStore.Prefetch(c, ldc, 6, 16);
        Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default;
        Vector256<float> c20 = default, c21 = default, c30 = default, c31 = default;
        Vector256<float> c40 = default, c41 = default, c50 = default, c51 = default;
        float* a = packedA;
        float* b = packedB;
        for (int k = 0; k < depth; k++)
        {
            var b0 = Vector256.Load(b);
            var b1 = Vector256.Load(b + 8);
            var ai = Vector256.Create(a[0]);
            c00 = Vector256.FusedMultiplyAdd(ai, b0, c00);
            c01 = Vector256.FusedMultiplyAdd(ai, b1, c01);
            ai = Vector256.Create(a[1]);
            c10 = Vector256.FusedMultiplyAdd(ai, b0, c10);
            c11 = Vector256.FusedMultiplyAdd(ai, b1, c11);
            ai = Vector256.Create(a[2]);
            c20 = Vector256.FusedMultiplyAdd(ai, b0, c20);
            c21 = Vector256.FusedMultiplyAdd(ai, b1, c21);
            ai = Vector256.Create(a[3]);
            c30 = Vector256.FusedMultiplyAdd(ai, b0, c30);
            c31 = Vector256.FusedMultiplyAdd(ai, b1, c31);
            ai = Vector256.Create(a[4]);
            c40 = Vector256.FusedMultiplyAdd(ai, b0, c40);
            c41 = Vector256.FusedMultiplyAdd(ai, b1, c41);
            ai = Vector256.Create(a[5]);
            c50 = Vector256.FusedMultiplyAdd(ai, b0, c50);
            c51 = Vector256.FusedMultiplyAdd(ai, b1, c51);
            a += 6;
            b += 16;
        }

        if (rows == 6 && columns == 16)
        {
            var alphaVector = Vector256.Create(alpha);
            StoreRow(c00, c01, c, alphaVector, bias, addToC);
            StoreRow(c10, c11, c + ldc, alphaVector, bias, addToC);
            StoreRow(c20, c21, c + 2 * ldc, alphaVector, bias, addToC);
            StoreRow(c30, c31, c + 3 * ldc, alphaVector, bias, addToC);
            StoreRow(c40, c41, c + 4 * ldc, alphaVector, bias, addToC);
            StoreRow(c50, c51, c + 5 * ldc, alphaVector, bias, addToC);
            return;
        }

        float* tile = stackalloc float[6 * 16];
        c00.Store(tile); c01.Store(tile + 8);
        c10.Store(tile + 16); c11.Store(tile + 24);
        c20.Store(tile + 32); c21.Store(tile + 40);
        c30.Store(tile + 48); c31.Store(tile + 56);
        c40.Store(tile + 64); c41.Store(tile + 72);
        c50.Store(tile + 80); c51.Store(tile + 88);
        TileStore.StoreScalar(tile, 16, c, ldc, rows, columns, alpha, bias, addToC);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreRow(Vector256<float> left, Vector256<float> right, float* cRow,
        Vector256<float> alpha, float* bias, bool addToC)
    {
        left *= alpha;
        right *= alpha;
        if (bias != null)
        {
            left += Vector256.Load(bias);
            right += Vector256.Load(bias + 8);
        }
        if (addToC)
        {
            left = Vector256.Load(cRow) + left;
            right = Vector256.Load(cRow + 8) + right;
        }
        left.Store(cRow);
        right.Store(cRow + 8);
    }
}

/// <summary>
/// 8 x 32 tile in sixteen Vector512 accumulators (AVX-512: 32 zmm registers hold 16
/// accumulators, 2 B vectors and the A broadcasts). Per k: 2 loads, 8 broadcasts, 16 FMAs.
/// KC = 192 keeps a 24 KiB B micro-panel in a 32-48 KiB L1; MC = 240 keeps a 180 KiB A block in a
/// 1-2 MiB L2; NC = 4096 keeps a 3 MiB B block in L3.
/// </summary>
[SkipLocalsInit]
internal readonly unsafe struct Tile8x32 : IMatmulMicroKernel
{
    public static int Rows => 8;
    public static int Columns => 32;
    public static int DepthBlock => 192;
    public static int RowBlock => 240;
    public static int ColumnBlock => 4096;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Multiply(int depth, float* packedA, float* packedB, float* c, nint ldc,
        int rows, int columns, float alpha, float* bias, bool addToC)
    {
        TileStore.Prefetch(c, ldc, 8, 32);
        Vector512<float> c00 = default, c01 = default, c10 = default, c11 = default;
        Vector512<float> c20 = default, c21 = default, c30 = default, c31 = default;
        Vector512<float> c40 = default, c41 = default, c50 = default, c51 = default;
        Vector512<float> c60 = default, c61 = default, c70 = default, c71 = default;
        float* a = packedA;
        float* b = packedB;
        for (int k = 0; k < depth; k++)
        {
            var b0 = Vector512.Load(b);
            var b1 = Vector512.Load(b + 16);
            var ai = Vector512.Create(a[0]);
            c00 = Vector512.FusedMultiplyAdd(ai, b0, c00);
            c01 = Vector512.FusedMultiplyAdd(ai, b1, c01);
            ai = Vector512.Create(a[1]);
            c10 = Vector512.FusedMultiplyAdd(ai, b0, c10);
            c11 = Vector512.FusedMultiplyAdd(ai, b1, c11);
            ai = Vector512.Create(a[2]);
            c20 = Vector512.FusedMultiplyAdd(ai, b0, c20);
            c21 = Vector512.FusedMultiplyAdd(ai, b1, c21);
            ai = Vector512.Create(a[3]);
            c30 = Vector512.FusedMultiplyAdd(ai, b0, c30);
            c31 = Vector512.FusedMultiplyAdd(ai, b1, c31);
            ai = Vector512.Create(a[4]);
            c40 = Vector512.FusedMultiplyAdd(ai, b0, c40);
            c41 = Vector512.FusedMultiplyAdd(ai, b1, c41);
            ai = Vector512.Create(a[5]);
            c50 = Vector512.FusedMultiplyAdd(ai, b0, c50);
            c51 = Vector512.FusedMultiplyAdd(ai, b1, c51);
            ai = Vector512.Create(a[6]);
            c60 = Vector512.FusedMultiplyAdd(ai, b0, c60);
            c61 = Vector512.FusedMultiplyAdd(ai, b1, c61);
            ai = Vector512.Create(a[7]);
            c70 = Vector512.FusedMultiplyAdd(ai, b0, c70);
            c71 = Vector512.FusedMultiplyAdd(ai, b1, c71);
            a += 8;
            b += 32;
        }

        if (rows == 8 && columns == 32)
        {
            var alphaVector = Vector512.Create(alpha);
            StoreRow(c00, c01, c, alphaVector, bias, addToC);
            StoreRow(c10, c11, c + ldc, alphaVector, bias, addToC);
            StoreRow(c20, c21, c + 2 * ldc, alphaVector, bias, addToC);
            StoreRow(c30, c31, c + 3 * ldc, alphaVector, bias, addToC);
            StoreRow(c40, c41, c + 4 * ldc, alphaVector, bias, addToC);
            StoreRow(c50, c51, c + 5 * ldc, alphaVector, bias, addToC);
            StoreRow(c60, c61, c + 6 * ldc, alphaVector, bias, addToC);
            StoreRow(c70, c71, c + 7 * ldc, alphaVector, bias, addToC);
            return;
        }

        float* tile = stackalloc float[8 * 32];
        c00.Store(tile); c01.Store(tile + 16);
        c10.Store(tile + 32); c11.Store(tile + 48);
        c20.Store(tile + 64); c21.Store(tile + 80);
        c30.Store(tile + 96); c31.Store(tile + 112);
        c40.Store(tile + 128); c41.Store(tile + 144);
        c50.Store(tile + 160); c51.Store(tile + 176);
        c60.Store(tile + 192); c61.Store(tile + 208);
        c70.Store(tile + 224); c71.Store(tile + 240);
        TileStore.StoreScalar(tile, 32, c, ldc, rows, columns, alpha, bias, addToC);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreRow(Vector512<float> left, Vector512<float> right, float* cRow,
        Vector512<float> alpha, float* bias, bool addToC)
    {
        left *= alpha;
        right *= alpha;
        if (bias != null)
        {
            left += Vector512.Load(bias);
            right += Vector512.Load(bias + 16);
        }
        if (addToC)
        {
            left = Vector512.Load(cRow) + left;
            right = Vector512.Load(cRow + 16) + right;
        }
        left.Store(cRow);
        right.Store(cRow + 16);
    }
}
