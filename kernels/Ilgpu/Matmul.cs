using ILGPU;

namespace Engine.Kernels.Ilgpu;

/// <summary>
/// Batched matrix product, C[b] = alpha op(A[b]) op(B[b]) (+ bias) (+ C[b]), see <see cref="MatMulDesc"/>.
///
/// Shapes: op(A) [M, K], op(B) [K, N], C [M, N] row-major (leading dimension N), bias [N].
///
/// Tiling: each group of 16 x 16 = 256 threads computes a 64 x 64 tile of C. The K dimension
/// is walked in steps of 16: the group stages a 64 x 16 panel of op(A) and a 16 x 64 panel of
/// op(B) in shared memory, each thread loading 4 elements of each (so every thread's loads are
/// coalesced whichever operand is transposed), and each thread then accumulates a 4 x 4
/// register tile: rows m0 + ty + 16 i, columns n0 + tx + 16 j (i, j in 0..3). Strided rows and
/// columns keep the shared-memory reads of a warp conflict-free (B) or broadcast (A), and make
/// the final stores of a row of 16 threads contiguous. The next panel is fetched from global
/// memory into registers while the current one is multiplied (software pipelining), so one
/// barrier pair per K step separates the shared-memory writes from the reads.
///
/// Shared panels are stored k-major ([16][64 + 1]); the one-element pad spreads the column-wise
/// stores of a non-transposed operand over the banks. Elements outside M, N or K load as 0, so
/// ragged edges need no special case in the inner loop; out-of-range outputs are not stored.
///
/// Launch: group (16, 16); grid (Batch * ceil(M / 64), ceil(N / 64)): the batch index and the
/// M tile share grid x (2^31 - 1 groups) so neither is bound by CUDA's 65535 limit on grid y/z.
/// Each output is summed over k in a fixed order by one thread: bitwise deterministic. ILGPU
/// emits acc + a * b as mul.f32 and add.f32 without rounding modifiers, which ptxas contracts
/// into FMA (ILGPU offers no portable fma call).
/// </summary>
public static class Matmul
{
    /// <summary>Rows and columns of C per group.</summary>
    public const int Tile = 64;
    /// <summary>K elements staged per step.</summary>
    public const int TileK = 16;
    /// <summary>Threads per group along x and along y.</summary>
    public const int Threads = 16;
    private const int PanelStride = Tile + 1;

    /// <summary>The matrix product kernel. <paramref name="bias"/> is read only when desc.HasBias.</summary>
    public static void Forward(ArrayView<float> a, ArrayView<float> b, ArrayView<float> bias, ArrayView<float> c,
        MatMulArgs desc)
    {
        var aPanel = SharedMemory.Allocate<float>(TileK * PanelStride);
        var bPanel = SharedMemory.Allocate<float>(TileK * PanelStride);

        int tx = Group.IdxX;
        int ty = Group.IdxY;
        int t = ty * Threads + tx;
        int mTiles = (desc.M + Tile - 1) / Tile;
        int batch = Grid.IdxX / mTiles;
        int m0 = (Grid.IdxX - batch * mTiles) * Tile;
        int n0 = Grid.IdxY * Tile;
        long aBase = batch * desc.BatchStrideA;
        long bBase = batch * desc.BatchStrideB;

        // Which element of each panel this thread loads (4 of each, step along the slow axis).
        // A not transposed: A[m, k] at m * Lda + k, so consecutive threads take consecutive k.
        // A transposed: A[k, m] at k * Lda + m, so consecutive threads take consecutive m.
        int aK = desc.TransA ? t / Tile : t % TileK;
        int aM = desc.TransA ? t % Tile : t / TileK;
        int aStepK = desc.TransA ? Threads * Threads / Tile : 0;
        int aStepM = desc.TransA ? 0 : Threads * Threads / TileK;
        int bK = desc.TransB ? t % TileK : t / Tile;
        int bN = desc.TransB ? t / TileK : t % Tile;
        int bStepK = desc.TransB ? 0 : Threads * Threads / Tile;
        int bStepN = desc.TransB ? Threads * Threads / TileK : 0;

        var acc = new Tile4x4();
        var aNext = LoadA(a, desc, aBase, m0, 0, aM, aK, aStepM, aStepK);
        var bNext = LoadB(b, desc, bBase, n0, 0, bN, bK, bStepN, bStepK);
        int aStore = aK * PanelStride + aM;
        int aStoreStep = aStepK * PanelStride + aStepM;
        int bStore = bK * PanelStride + bN;
        int bStoreStep = bStepK * PanelStride + bStepN;

        for (int k0 = 0; k0 < desc.K; k0 += TileK)
        {
            aPanel[aStore] = aNext.X;
            aPanel[aStore + aStoreStep] = aNext.Y;
            aPanel[aStore + 2 * aStoreStep] = aNext.Z;
            aPanel[aStore + 3 * aStoreStep] = aNext.W;
            bPanel[bStore] = bNext.X;
            bPanel[bStore + bStoreStep] = bNext.Y;
            bPanel[bStore + 2 * bStoreStep] = bNext.Z;
            bPanel[bStore + 3 * bStoreStep] = bNext.W;
            Group.Barrier();

            if (k0 + TileK < desc.K)
            {
                aNext = LoadA(a, desc, aBase, m0, k0 + TileK, aM, aK, aStepM, aStepK);
                bNext = LoadB(b, desc, bBase, n0, k0 + TileK, bN, bK, bStepN, bStepK);
            }

            // ILGPU does not unroll loops, so the 16 steps over the staged panels are unrolled
            // by hand in groups of four.
            for (int kk = 0; kk < TileK; kk += 4)
            {
                int row = kk * PanelStride;
                acc.Step(aPanel, bPanel, row + ty, row + tx);
                acc.Step(aPanel, bPanel, row + PanelStride + ty, row + PanelStride + tx);
                acc.Step(aPanel, bPanel, row + 2 * PanelStride + ty, row + 2 * PanelStride + tx);
                acc.Step(aPanel, bPanel, row + 3 * PanelStride + ty, row + 3 * PanelStride + tx);
            }
            Group.Barrier();
        }

        long cBase = batch * (long)desc.M * desc.N;
        int n = n0 + tx;
        StoreRow(c, bias, desc, cBase, m0 + ty, n, acc.R0);
        StoreRow(c, bias, desc, cBase, m0 + ty + 16, n, acc.R1);
        StoreRow(c, bias, desc, cBase, m0 + ty + 32, n, acc.R2);
        StoreRow(c, bias, desc, cBase, m0 + ty + 48, n, acc.R3);
    }

    /// <summary>The 4 elements of op(A) this thread stages for the K step starting at k0 (0 outside the matrix).</summary>
    private static Float4 LoadA(ArrayView<float> a, in MatMulArgs desc, long aBase, int m0, int k0,
        int aM, int aK, int stepM, int stepK)
    {
        int m = m0 + aM;
        int k = k0 + aK;
        return new Float4(
            LoadA(a, desc, aBase, m, k),
            LoadA(a, desc, aBase, m + stepM, k + stepK),
            LoadA(a, desc, aBase, m + 2 * stepM, k + 2 * stepK),
            LoadA(a, desc, aBase, m + 3 * stepM, k + 3 * stepK));
    }

    private static float LoadA(ArrayView<float> a, in MatMulArgs desc, long aBase, int m, int k) =>
        m < desc.M && k < desc.K
            ? a[aBase + (desc.TransA ? (long)k * desc.Lda + m : (long)m * desc.Lda + k)]
            : 0f;

    /// <summary>The 4 elements of op(B) this thread stages for the K step starting at k0 (0 outside the matrix).</summary>
    private static Float4 LoadB(ArrayView<float> b, in MatMulArgs desc, long bBase, int n0, int k0,
        int bN, int bK, int stepN, int stepK)
    {
        int n = n0 + bN;
        int k = k0 + bK;
        return new Float4(
            LoadB(b, desc, bBase, n, k),
            LoadB(b, desc, bBase, n + stepN, k + stepK),
            LoadB(b, desc, bBase, n + 2 * stepN, k + 2 * stepK),
            LoadB(b, desc, bBase, n + 3 * stepN, k + 3 * stepK));
    }

    private static float LoadB(ArrayView<float> b, in MatMulArgs desc, long bBase, int n, int k) =>
        n < desc.N && k < desc.K
            ? b[bBase + (desc.TransB ? (long)n * desc.Ldb + k : (long)k * desc.Ldb + n)]
            : 0f;

    /// <summary>Epilogue for one row m of the thread's tile: columns n, n + 16, n + 32, n + 48.</summary>
    private static void StoreRow(ArrayView<float> c, ArrayView<float> bias, in MatMulArgs desc, long cBase, int m, int n,
        Float4 row)
    {
        if (m >= desc.M)
            return;
        long rowBase = cBase + (long)m * desc.N;
        Store(c, bias, desc, rowBase, n, row.X);
        Store(c, bias, desc, rowBase, n + 16, row.Y);
        Store(c, bias, desc, rowBase, n + 32, row.Z);
        Store(c, bias, desc, rowBase, n + 48, row.W);
    }

    /// <summary>c = alpha * acc (+ bias[n]) (+ c) for one element inside the matrix.</summary>
    private static void Store(ArrayView<float> c, ArrayView<float> bias, in MatMulArgs desc, long rowBase, int n, float acc)
    {
        if (n >= desc.N)
            return;
        float v = desc.Alpha * acc;
        if (desc.HasBias)
            v += bias[n];
        if (desc.Accumulate)
            v += c[rowBase + n];
        c[rowBase + n] = v;
    }

    /// <summary>
    /// <see cref="MatMulDesc"/> as a kernel parameter: ILGPU kernel parameters must be blittable,
    /// which bool is not, so the four flags travel as bits of an int.
    /// </summary>
    public readonly struct MatMulArgs
    {
        /// <summary>Sizes and leading dimensions, as in <see cref="MatMulDesc"/>.</summary>
        public readonly int Batch, M, N, K, Lda, Ldb;
        /// <summary>Batch strides of A and B, as in <see cref="MatMulDesc"/>.</summary>
        public readonly long BatchStrideA, BatchStrideB;
        /// <summary>Scale of the product.</summary>
        public readonly float Alpha;
        private readonly int _flags;

        /// <summary>Copies <paramref name="desc"/>.</summary>
        public MatMulArgs(in MatMulDesc desc)
        {
            Batch = desc.Batch;
            M = desc.M;
            N = desc.N;
            K = desc.K;
            Lda = desc.Lda;
            Ldb = desc.Ldb;
            BatchStrideA = desc.BatchStrideA;
            BatchStrideB = desc.BatchStrideB;
            Alpha = desc.Alpha;
            _flags = (desc.TransA ? 1 : 0) | (desc.TransB ? 2 : 0) | (desc.HasBias ? 4 : 0) | (desc.Accumulate ? 8 : 0);
        }

        /// <summary>op(A) = A^T.</summary>
        public bool TransA => (_flags & 1) != 0;
        /// <summary>op(B) = B^T.</summary>
        public bool TransB => (_flags & 2) != 0;
        /// <summary>Add bias[n] to every row.</summary>
        public bool HasBias => (_flags & 4) != 0;
        /// <summary>C += result instead of C = result.</summary>
        public bool Accumulate => (_flags & 8) != 0;
    }

    /// <summary>Four floats held in registers (ILGPU kernels have no cheap local arrays).</summary>
    private readonly struct Float4(float x, float y, float z, float w)
    {
        public readonly float X = x, Y = y, Z = z, W = w;
    }

    /// <summary>A thread's 4 x 4 accumulator tile; row i holds the columns n0 + tx + 16 j, j = 0..3.</summary>
    private struct Tile4x4
    {
        public Float4 R0, R1, R2, R3;

        /// <summary>
        /// One k step: acc[i, j] += A[k, ty + 16 i] * B[k, tx + 16 j] from the staged panels
        /// (the outer product of a column of op(A) and a row of op(B)).
        /// </summary>
        public void Step(ArrayView<float> aPanel, ArrayView<float> bPanel, int aIndex, int bIndex)
        {
            var b = new Float4(bPanel[bIndex], bPanel[bIndex + 16], bPanel[bIndex + 32], bPanel[bIndex + 48]);
            R0 = Add(R0, aPanel[aIndex], b);
            R1 = Add(R1, aPanel[aIndex + 16], b);
            R2 = Add(R2, aPanel[aIndex + 32], b);
            R3 = Add(R3, aPanel[aIndex + 48], b);
        }

        private static Float4 Add(Float4 r, float a, Float4 b) =>
            new(r.X + a * b.X, r.Y + a * b.Y, r.Z + a * b.Z, r.W + a * b.W);
    }
}
