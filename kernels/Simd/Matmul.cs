using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Engine.Kernels.Simd;

// Batched matrix product (SGEMM), see MatMulDesc:
//
//   C[b] = (Accumulate ? C[b] : 0) + alpha * op(A[b]) op(B[b]) + bias
//
//   op(A[b]) [M, K]: element (m, k) at A + b * BatchStrideA + (TransA ? k * Lda + m : m * Lda + k)
//   op(B[b]) [K, N]: element (k, n) at B + b * BatchStrideB + (TransB ? n * Ldb + k : k * Ldb + n)
//   C[b]     [M, N]: element (m, n) at C + b * M * N + m * N + n;  bias [N] added to every row.
//
// Large products: the packed, cache-blocked scheme of GotoBLAS/BLIS, five loops around a
// register-blocked micro-kernel (MatmulMicroKernels.cs: MR x NR = 6 x 16 on AVX2, 8 x 32 on AVX-512):
//
//   for jc over N in steps of NC        pack op(B)[pc.., jc..] once per pass, shared by all threads
//     for pc over K in steps of KC      the passes; the K split depends only on K
//       for each row block (MC rows) in parallel:
//         pack op(A)[ic.., pc..]        per thread
//         for jr over the B panels      a [KC, NR] B micro-panel, reused by every tile of the block
//           for ir over the block       an MR x NR tile of C in registers for KC FMA steps
//
// Why these sizes: the tile is as large as the vector registers allow (accumulators plus the B
// vectors and an A broadcast), so each k step does MR * NR / width FMAs for NR / width loads and
// MR broadcasts and is bound by the FMA units; a 6 x 16 tile runs at 98% of the FMA peak with its
// panels in L1. KC is chosen so the B micro-panel (KC * NR floats, 24 KiB) stays in L1 while the
// tiles of a row block stream past it, MC so the packed A block (MC * KC floats) stays in L2,
// and NC so the packed B block (KC * NC floats) stays in L3 shared by the cores. Each pass reads
// and writes C once, so a larger KC means fewer trips through C: on a 2-core Zen AVX2 machine
// KC = 384 ran 4-8% faster than 256 at 1024^3 and BERT's shapes (K = 384 then takes one pass,
// 20-30% faster with 128 rows) and faster than 512, whose 32 KiB panel fills L1.
//
// Packing reads each operand in whatever layout TransA/TransB give (k-major slices are copied;
// rows along k go through 4 x 4 register transposes) and writes the one k-major layout the
// micro-kernel streams, so transposes cost nothing in the inner loop. Panels are zero-padded to
// MR/NR, so every tile runs the same vector code; only the store of a tile cut by the edge of C
// is scalar. Alpha, bias and Accumulate are applied as tiles are stored: the first pass writes
// (Accumulate ? C : 0) + alpha * AB + bias, later passes add alpha * AB. Pack buffers are
// thread-static, 64-byte aligned native memory, grown on demand and reused across calls.
//
// Skinny products skip packing and blocking: with few rows (generation with a KV cache, a vector
// times a matrix) or few columns they are bound by reading the large operand, and packing it
// would read it twice. With M <= 8 and op(B) = B, rows of C are accumulated 4 depths at a time
// along contiguous rows of B. With M <= 32 < N and op(B) = B^T (x @ W^T), or N <= 32 < M and
// op(A) = A, each element is the dot product of two rows contiguous in k. (The limits are the
// measured crossovers with the packed path on a 2-core AVX2 machine.)
//
// Threads: a batch of products runs one product per thread when there are enough of them;
// otherwise each product splits its row blocks over the cores (a few blocks per thread, so a
// core slowed by other work hands its share to the others), and its B panels too when there are
// too few rows. Products too small to repay a fork run on the calling thread.
//
// Prepacked B: a right operand used again and again (a layer's weight in inference) can be packed
// once (PackRight), in the same panels, pass after pass. A product given it packs no B, so a
// short product (all its op(A) for one pass fits in L2) becomes one fork without barriers: op(A)
// is packed whole on the calling thread, then the threads take chunks of the B panels and own
// those columns of C through every pass, each B micro-panel feeding every row. A tall product
// runs the usual schedule minus the packing of B. The panels and the order of operations are
// those of the unpacked product, so the result is bitwise the same.
//
// Determinism: every element of C is computed by one thread, from the same zero-padded panels,
// in an order fixed by the shape alone (the K split, the k order inside a tile, the epilogue), so
// the result is bitwise the same whatever the scheduling or the number of threads.
[SkipLocalsInit]
public static unsafe class Matmul
{
    /// <summary>Products with at most this many rows of C and op(B) = B take the unpacked row path.</summary>
    private const int SkinnyRowsLimit = 8;
    /// <summary>Products with at most this many rows (columns) of C and op(B) = B^T (op(A) = A) take the dot-product path.</summary>
    private const int DotProductLimit = 32;
    /// <summary>Shortest K for the dot-product path: shorter dot products are dominated by their horizontal sums.</summary>
    private const int DotProductMinDepth = 32;
    /// <summary>Below this many floating-point operations a product runs on the calling thread alone.</summary>
    private const double ParallelMinFlops = 1 << 21;
    /// <summary>Column chunks per thread in a short product with B packed beforehand, so a thread slowed by other work hands chunks to the others.</summary>
    private const int ShortChunksPerThread = 8;
    /// <summary>Columns of C a skinny row product accumulates at once (SkinnyRowsLimit * 128 floats on the stack); narrow enough to share a few thousand columns evenly between cores.</summary>
    private const int SkinnyStripWidth = 128;

    /// <summary>
    /// C = (Accumulate ? C : 0) + Alpha * op(A) op(B) + bias, over all batches; see <see cref="MatMulDesc"/>.
    /// <paramref name="packedB"/>, when not null, is op(B) already packed by <see cref="PackRight"/>
    /// (a right operand shared by the whole batch, BatchStrideB = 0); products that use panels read
    /// it instead of packing B again. The result is bitwise the same with or without it.
    /// </summary>
    public static void Forward(in MatMulDesc desc, float* a, float* b, float* bias, float* c, float* packedB = null)
    {
        if (SimdWidth.Use512)
            Forward<Tile8x32>(desc, a, b, bias, c, packedB);
        else
            Forward<Tile6x16>(desc, a, b, bias, c, packedB);
    }

    /// <summary>The same product with a chosen micro-kernel (tests run both on any CPU).</summary>
    internal static void Forward<TKernel>(in MatMulDesc desc, float* a, float* b, float* bias, float* c, float* packedB = null)
        where TKernel : IMatmulMicroKernel
    {
        if (desc.Batch < 0 || desc.M < 0 || desc.N < 0 || desc.K < 0)
            throw new ArgumentException($"Matmul: negative size in batch {desc.Batch}, M {desc.M}, N {desc.N}, K {desc.K}.");
        if (packedB != null && desc.Batch > 1 && desc.BatchStrideB != 0)
            throw new ArgumentException($"Matmul: a packed right operand is one matrix, but the batch of {desc.Batch} has a B stride of {desc.BatchStrideB}.");
        if (desc.Batch == 0 || desc.M == 0 || desc.N == 0) return;

        float* biasOrNull = desc.HasBias ? bias : null;
        int threads = Environment.ProcessorCount;
        double productFlops = 2.0 * desc.M * desc.N * desc.K;
        bool splitBatch = threads > 1 && desc.Batch >= threads
            && (desc.Batch % threads == 0 || desc.Batch >= 4 * threads || productFlops < ParallelMinFlops);
        if (splitBatch)
        {
            RunBatchInParallel<TKernel>(desc, a, b, biasOrNull, c, packedB, threads);
            return;
        }

        int productThreads = productFlops >= ParallelMinFlops ? threads : 1;
        for (int item = 0; item < desc.Batch; item++)
            Run<TKernel>(Product.Of(desc, item, a, b, biasOrNull, c, packedB), productThreads);
    }

    /// <summary>Floats that op(B) [K, N] takes once packed by <see cref="PackRight"/>.</summary>
    public static long PackedRightLength(int k, int n) =>
        SimdWidth.Use512 ? PackedRightLength<Tile8x32>(k, n) : PackedRightLength<Tile6x16>(k, n);

    internal static long PackedRightLength<TKernel>(int k, int n) where TKernel : IMatmulMicroKernel =>
        (long)k * RoundUp(n, TKernel.Columns);

    /// <summary>
    /// Packs op(B) [K, N] (B^T when <paramref name="transB"/>, rows <paramref name="ldb"/> apart) once,
    /// for products that reuse it: <see cref="PackedRightLength"/> floats in the layout the packed
    /// product streams, pass after pass (the K split depends on K alone), each pass's panels in order:
    /// element (k, n) of the pass starting at depth0 with depth d sits at
    /// depth0 * RoundUp(N, NR) + (n / NR) * NR * d + (k - depth0) * NR + n % NR, zero past column N.
    /// </summary>
    public static void PackRight(float* b, int k, int n, bool transB, int ldb, float* packed)
    {
        if (SimdWidth.Use512) PackRight<Tile8x32>(b, k, n, transB, ldb, packed);
        else PackRight<Tile6x16>(b, k, n, transB, ldb, packed);
    }

    internal static void PackRight<TKernel>(float* b, int k, int n, bool transB, int ldb, float* packed)
        where TKernel : IMatmulMicroKernel
    {
        var desc = new MatMulDesc { Batch = 1, N = n, K = k, TransB = transB, Ldb = ldb, Alpha = 1f };
        var p = Product.Of(desc, 0, null, b, null, null, null);
        int depthStep = DepthStep<TKernel>(k);
        for (int depth0 = 0; depth0 < k; depth0 += depthStep)
        {
            var pass = new Pass(p, 0, n, depth0, Math.Min(depthStep, k - depth0));
            PackB<TKernel>(p, pass, 0, pass.Panels<TKernel>(), PackedPass<TKernel>(packed, n, depth0));
        }
    }

    /// <summary>Where the pass starting at <paramref name="depth0"/> begins in op(B) [K, N] packed by <see cref="PackRight"/>.</summary>
    private static float* PackedPass<TKernel>(float* packed, int n, int depth0) where TKernel : IMatmulMicroKernel =>
        packed + (nint)depth0 * RoundUp(n, TKernel.Columns);

    private static void RunBatchInParallel<TKernel>(MatMulDesc desc, float* a, float* b, float* bias, float* c, float* packedB, int threads)
        where TKernel : IMatmulMicroKernel
    {
        Parallel.For(0, desc.Batch, new ParallelOptions { MaxDegreeOfParallelism = threads },
            item => Run<TKernel>(Product.Of(desc, item, a, b, bias, c, packedB), 1));
    }

    /// <summary>One product of the batch, its pointers resolved.</summary>
    private readonly struct Product
    {
        public readonly float* A, B, Bias, C;
        /// <summary>op(B) packed by <see cref="PackRight"/>, or null.</summary>
        public readonly float* PackedB;
        public readonly int M, N, K;
        public readonly bool TransA, TransB, Accumulate;
        public readonly int Lda, Ldb;
        public readonly float Alpha;

        private Product(in MatMulDesc desc, float* a, float* b, float* bias, float* c, float* packedB)
        {
            A = a; B = b; Bias = bias; C = c; PackedB = packedB;
            M = desc.M; N = desc.N; K = desc.K;
            TransA = desc.TransA; TransB = desc.TransB; Accumulate = desc.Accumulate;
            Lda = desc.Lda; Ldb = desc.Ldb;
            Alpha = desc.Alpha;
        }

        public static Product Of(in MatMulDesc desc, int item, float* a, float* b, float* bias, float* c, float* packedB) =>
            new(desc, a + item * desc.BatchStrideA, b + item * desc.BatchStrideB, bias,
                c + (long)item * desc.M * desc.N, packedB);

        /// <summary>Distance in A between op(A)(m, k) and op(A)(m + 1, k).</summary>
        public nint ARowStride => TransA ? 1 : Lda;
        /// <summary>Distance in A between op(A)(m, k) and op(A)(m, k + 1).</summary>
        public nint ADepthStride => TransA ? Lda : 1;
    }

    private static void Run<TKernel>(in Product p, int threads) where TKernel : IMatmulMicroKernel
    {
        if (p.K == 0)
            StoreWithoutProduct(p);
        else if (p.M <= SkinnyRowsLimit && !p.TransB)
            MultiplySkinnyRows(p, threads);
        else if (p.M <= DotProductLimit && p.N > DotProductLimit && p.K >= DotProductMinDepth && p.TransB)
            MultiplyByDotProducts(p, threads, skinnyRows: true);
        else if (p.N <= DotProductLimit && p.M > DotProductLimit && p.K >= DotProductMinDepth && !p.TransA)
            MultiplyByDotProducts(p, threads, skinnyRows: false);
        else if (p.PackedB != null)
            MultiplyPrepacked<TKernel>(p, threads);
        else
            MultiplyPacked<TKernel>(p, threads);
    }

    /// <summary>K = 0: the product is zero, so C = (Accumulate ? C : 0) + bias.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void StoreWithoutProduct(in Product p)
    {
        for (int m = 0; m < p.M; m++)
        {
            float* cRow = p.C + (nint)m * p.N;
            for (int n = 0; n < p.N; n++)
            {
                float value = p.Bias != null ? p.Bias[n] : 0f;
                cRow[n] = p.Accumulate ? cRow[n] + value : value;
            }
        }
    }

    // ---------------------------------------------------------------- packed, blocked product

    private static void MultiplyPacked<TKernel>(in Product p, int threads) where TKernel : IMatmulMicroKernel
    {
        int depthStep = DepthStep<TKernel>(p.K);
        int columnBlock = Math.Min(p.N, TKernel.ColumnBlock);
        var grid = TaskGrid.Choose(p.M, columnBlock, TKernel.Rows, TKernel.Columns, TKernel.RowBlock, threads);
        float* packedB = p.PackedB != null ? null : SharedPack((nint)depthStep * RoundUp(columnBlock, TKernel.Columns));

        for (int column0 = 0; column0 < p.N; column0 += TKernel.ColumnBlock)
        {
            for (int depth0 = 0; depth0 < p.K; depth0 += depthStep)
            {
                var pass = new Pass(p, column0, Math.Min(TKernel.ColumnBlock, p.N - column0),
                    depth0, Math.Min(depthStep, p.K - depth0));
                float* passB = p.PackedB != null
                    ? PackedPass<TKernel>(p.PackedB, p.N, depth0) + (nint)column0 * pass.Depth
                    : packedB;
                if (threads > 1)
                {
                    RunPassInParallel<TKernel>(p, grid, pass, passB, threads);
                    continue;
                }
                if (p.PackedB == null) PackB<TKernel>(p, pass, 0, pass.Panels<TKernel>(), passB);
                for (int task = 0; task < grid.Tasks; task++)
                    MultiplyTask<TKernel>(p, grid, pass, task, passB);
            }
        }
    }

    /// <summary>Packs B's block with the threads splitting its panels (unless packed beforehand), then runs the tasks.</summary>
    private static void RunPassInParallel<TKernel>(Product p, TaskGrid grid, Pass pass, float* packedB, int threads)
        where TKernel : IMatmulMicroKernel
    {
        var options = new ParallelOptions { MaxDegreeOfParallelism = threads };
        int panels = pass.Panels<TKernel>();
        if (p.PackedB == null)
        {
            Parallel.For(0, threads, options, share =>
            {
                int firstPanel = panels * share / threads;
                PackB<TKernel>(p, pass, firstPanel, panels * (share + 1) / threads,
                    packedB + (nint)firstPanel * TKernel.Columns * pass.Depth);
            });
        }
        Parallel.For(0, grid.Tasks, options, task => MultiplyTask<TKernel>(p, grid, pass, task, packedB));
    }

    /// <summary>One [Depth, Columns] block of op(B), from (Depth0, Column0), and what storing its tiles does.</summary>
    private readonly struct Pass
    {
        public readonly int Column0, Columns, Depth0, Depth;
        /// <summary>The bias from Column0 on the first pass over K; null on later passes or without bias.</summary>
        public readonly float* Bias;
        /// <summary>Whether tiles add to C: on every pass but the first, and on the first too with Accumulate.</summary>
        public readonly bool AddToC;

        public Pass(in Product p, int column0, int columns, int depth0, int depth)
        {
            Column0 = column0; Columns = columns; Depth0 = depth0; Depth = depth;
            bool firstPass = depth0 == 0;
            Bias = firstPass && p.Bias != null ? p.Bias + column0 : null;
            AddToC = !firstPass || p.Accumulate;
        }

        public int Panels<TKernel>() where TKernel : IMatmulMicroKernel => CeilDiv(Columns, TKernel.Columns);
    }

    /// <summary>
    /// How one [depth, columns] pass is cut into tasks: row blocks of whole micro-panels, as even as
    /// possible, as many as a multiple of the thread count and a few per thread, so a thread slowed
    /// by other work on its core hands blocks to the others; each block is paired with a share of
    /// the B panels only when there are too few row panels to go round.
    /// </summary>
    private readonly struct TaskGrid
    {
        /// <summary>Fewest micro-panels in a row block cut for balance; each B micro-panel loaded into L1 feeds this many tiles.</summary>
        private const int MinBalancePanels = 4;
        /// <summary>Row blocks per thread wanted for balance.</summary>
        private const int BlocksPerThread = 4;

        public readonly int RowPanels, RowBlocks, ColumnShares;
        /// <summary>Rows of the tallest row block, which sizes the packed A buffer.</summary>
        public readonly int MaxBlockRows;
        public int Tasks => RowBlocks * ColumnShares;

        private TaskGrid(int rowPanels, int rowBlocks, int columnShares, int maxBlockRows)
        {
            RowPanels = rowPanels; RowBlocks = rowBlocks; ColumnShares = columnShares; MaxBlockRows = maxBlockRows;
        }

        public static TaskGrid Choose(int m, int columns, int rowsPerPanel, int columnsPerPanel, int maxRowBlock, int threads)
        {
            int rowPanels = CeilDiv(m, rowsPerPanel);
            int maxPanelsPerBlock = Math.Max(1, maxRowBlock / rowsPerPanel);
            int rowBlocks = RoundUp(CeilDiv(rowPanels, maxPanelsPerBlock), threads);
            if (threads > 1)
                rowBlocks = Math.Max(rowBlocks, Math.Min(BlocksPerThread * threads, rowPanels / MinBalancePanels));
            rowBlocks = Math.Min(rowBlocks, rowPanels);
            int tallestBlockPanels = CeilDiv(rowPanels, rowBlocks);

            // Row panels of the busiest thread (at worst) if the row blocks are shared out whole;
            // splitting the columns as well packs each A block once more, so only when needed.
            int busiestThreadPanels = CeilDiv(rowBlocks, threads) * tallestBlockPanels;
            double rowSplitEfficiency = (double)rowPanels / (threads * busiestThreadPanels);
            int columnPanels = CeilDiv(columns, columnsPerPanel);
            int shares = rowSplitEfficiency >= 0.85 || columnPanels < 2 * threads ? 1 : threads;
            return new TaskGrid(rowPanels, rowBlocks, shares, tallestBlockPanels * rowsPerPanel);
        }

        /// <summary>First row of C in row block <paramref name="block"/> (blocks 0..RowBlocks bound the rows).</summary>
        public int BlockRow(int block, int rowsPerPanel) => (int)((long)RowPanels * block / RowBlocks) * rowsPerPanel;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void MultiplyTask<TKernel>(in Product p, in TaskGrid grid, in Pass pass, int task, float* packedB)
        where TKernel : IMatmulMicroKernel
    {
        int rowsPerPanel = TKernel.Rows, columnsPerPanel = TKernel.Columns;
        int rowBlock = task / grid.ColumnShares, share = task % grid.ColumnShares;
        int row0 = grid.BlockRow(rowBlock, rowsPerPanel);
        int rows = Math.Min(grid.BlockRow(rowBlock + 1, rowsPerPanel), p.M) - row0;
        int panels = pass.Panels<TKernel>();
        int firstPanel = panels * share / grid.ColumnShares, endPanel = panels * (share + 1) / grid.ColumnShares;

        float* packedA = PrivatePack((nint)grid.MaxBlockRows * pass.Depth);
        PackA<TKernel>(p, row0, rows, pass.Depth0, pass.Depth, packedA);

        nint ldc = p.N;
        for (int panel = firstPanel; panel < endPanel; panel++)
        {
            int column = panel * columnsPerPanel;
            int width = Math.Min(columnsPerPanel, pass.Columns - column);
            float* bPanel = packedB + (nint)panel * columnsPerPanel * pass.Depth;
            float* biasTile = pass.Bias != null ? pass.Bias + column : null;
            float* cColumn = p.C + pass.Column0 + column;
            for (int row = 0; row < rows; row += rowsPerPanel)
            {
                TKernel.Multiply(pass.Depth, packedA + (nint)row * pass.Depth, bPanel, cColumn + (row0 + row) * ldc, ldc,
                    Math.Min(rowsPerPanel, rows - row), width, p.Alpha, biasTile, pass.AddToC);
            }
        }
    }

    // ---------------------------------------------------------------- products with B packed beforehand

    /// <summary>
    /// The blocked product with op(B) already packed (<see cref="PackRight"/>). A short product,
    /// whose whole op(A) for one pass fits in L2 as one row block would, packs op(A) once and splits
    /// the B panels between the threads: one fork per product and no barrier between passes (each
    /// thread owns its columns of C for every pass), and each B micro-panel brought into L1 feeds
    /// every row of C. A taller product runs as the unpacked one, minus the packing of B.
    /// </summary>
    private static void MultiplyPrepacked<TKernel>(in Product p, int threads) where TKernel : IMatmulMicroKernel
    {
        int depthStep = DepthStep<TKernel>(p.K);
        int paddedRows = RoundUp(p.M, TKernel.Rows);
        if ((long)paddedRows * depthStep <= (long)TKernel.RowBlock * TKernel.DepthBlock)
        {
            float* packedA = SharedPack((nint)paddedRows * p.K);
            for (int depth0 = 0; depth0 < p.K; depth0 += depthStep)
                PackA<TKernel>(p, 0, p.M, depth0, Math.Min(depthStep, p.K - depth0), packedA + (nint)depth0 * paddedRows);
            int panels = CeilDiv(p.N, TKernel.Columns);
            int chunks = Math.Min(panels, ShortChunksPerThread * threads);
            if (threads == 1 || chunks == 1)
                MultiplyShortColumns<TKernel>(p, packedA, 0, panels);
            else
                MultiplyShortInParallel<TKernel>(p, packedA, panels, chunks, threads);
            return;
        }

        MultiplyPacked<TKernel>(p, threads);
    }

    private static void MultiplyShortInParallel<TKernel>(Product p, float* packedA, int panels, int chunks, int threads)
        where TKernel : IMatmulMicroKernel =>
        Parallel.For(0, chunks, new ParallelOptions { MaxDegreeOfParallelism = threads }, chunk =>
            MultiplyShortColumns<TKernel>(p, packedA, panels * chunk / chunks, panels * (chunk + 1) / chunks));

    /// <summary>
    /// The columns of C in B panels firstPanel .. endPanel, all rows, pass after pass, from
    /// <paramref name="packedA"/> (op(A) packed pass by pass, each pass RoundUp(M, MR) * depth floats).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void MultiplyShortColumns<TKernel>(in Product p, float* packedA, int firstPanel, int endPanel)
        where TKernel : IMatmulMicroKernel
    {
        int rowsPerPanel = TKernel.Rows, columnsPerPanel = TKernel.Columns;
        int depthStep = DepthStep<TKernel>(p.K);
        nint paddedRows = RoundUp(p.M, rowsPerPanel);
        nint ldc = p.N;
        for (int depth0 = 0; depth0 < p.K; depth0 += depthStep)
        {
            var pass = new Pass(p, 0, p.N, depth0, Math.Min(depthStep, p.K - depth0));
            float* passA = packedA + depth0 * paddedRows;
            float* passB = PackedPass<TKernel>(p.PackedB, p.N, depth0);
            for (int panel = firstPanel; panel < endPanel; panel++)
            {
                int column = panel * columnsPerPanel;
                int width = Math.Min(columnsPerPanel, p.N - column);
                float* bPanel = passB + (nint)column * pass.Depth;
                float* biasTile = pass.Bias != null ? pass.Bias + column : null;
                for (int row = 0; row < p.M; row += rowsPerPanel)
                {
                    TKernel.Multiply(pass.Depth, passA + row * pass.Depth, bPanel, p.C + row * ldc + column, ldc,
                        Math.Min(rowsPerPanel, p.M - row), width, p.Alpha, biasTile, pass.AddToC);
                }
            }
        }
    }

    /// <summary>
    /// Packs op(A)[row0 .. row0 + rows, depth0 .. depth0 + depth] as micro-panels of MR rows:
    /// panel i holds element (i * MR + r, k) at i * MR * depth + k * MR + r, zero past the last row.
    /// </summary>
    private static void PackA<TKernel>(in Product p, int row0, int rows, int depth0, int depth, float* packed)
        where TKernel : IMatmulMicroKernel
    {
        int rowsPerPanel = TKernel.Rows;
        if (p.TransA)
        {
            PackSlices(p.A + (nint)depth0 * p.Lda + row0, p.Lda, rows, depth, packed, rowsPerPanel);
            return;
        }
        for (int panelRow = 0; panelRow < rows; panelRow += rowsPerPanel, packed += (nint)rowsPerPanel * depth)
        {
            PackLines(p.A + (nint)(row0 + panelRow) * p.Lda + depth0, p.Lda, Math.Min(rowsPerPanel, rows - panelRow),
                depth, packed, rowsPerPanel);
        }
    }

    /// <summary>
    /// Packs micro-panels firstPanel .. endPanel of the pass's block of op(B) from
    /// <paramref name="packed"/> on: panel firstPanel + j holds element (k, (firstPanel + j) * NR + c)
    /// at j * NR * depth + k * NR + c, zero past the last column.
    /// </summary>
    private static void PackB<TKernel>(in Product p, in Pass pass, int firstPanel, int endPanel, float* packed)
        where TKernel : IMatmulMicroKernel
    {
        int columnsPerPanel = TKernel.Columns;
        int column0 = pass.Column0, columns = pass.Columns, depth0 = pass.Depth0, depth = pass.Depth;
        int firstColumn = firstPanel * columnsPerPanel;
        int endColumn = Math.Min(columns, endPanel * columnsPerPanel);
        if (!p.TransB)
        {
            PackSlices(p.B + (nint)depth0 * p.Ldb + column0 + firstColumn, p.Ldb, endColumn - firstColumn, depth,
                packed, columnsPerPanel);
            return;
        }
        for (int column = firstColumn; column < endColumn; column += columnsPerPanel, packed += (nint)columnsPerPanel * depth)
        {
            PackLines(p.B + (nint)(column0 + column) * p.Ldb + depth0, p.Ldb, Math.Min(columnsPerPanel, endColumn - column),
                depth, packed, columnsPerPanel);
        }
    }

    /// <summary>
    /// Panels from an operand stored k-major: slice k is the <paramref name="extent"/> contiguous floats
    /// at source + k * stride, cut into panels of panelWidth (the last zero-padded); panel i gets its
    /// part of slice k at target + i * panelWidth * depth + k * panelWidth. Slices are read whole,
    /// in order, so the reads stream from memory.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackSlices(float* source, nint stride, int extent, int depth, float* target, int panelWidth)
    {
        int wholePanelsEnd = extent - extent % panelWidth;
        nint panelSize = (nint)panelWidth * depth;
        bool vectorCopy = panelWidth % Vector256<float>.Count == 0;
        for (int k = 0; k < depth; k++)
        {
            float* slice = source + k * stride;
            float* panelSlice = target + k * panelWidth;
            int start = 0;
            for (; start < wholePanelsEnd; start += panelWidth, panelSlice += panelSize)
            {
                if (vectorCopy)
                {
                    for (int c = 0; c < panelWidth; c += Vector256<float>.Count)
                        Vector256.Load(slice + start + c).Store(panelSlice + c);
                }
                else
                {
                    for (int c = 0; c < panelWidth; c++) panelSlice[c] = slice[start + c];
                }
            }
            if (start < extent)
            {
                int c = 0;
                for (; start + c < extent; c++) panelSlice[c] = slice[start + c];
                for (; c < panelWidth; c++) panelSlice[c] = 0f;
            }
        }
    }

    /// <summary>
    /// Panel from an operand stored along k: line i is the <paramref name="depth"/> contiguous floats at
    /// source + i * stride, written as column i of the k-major panel (target[k * panelWidth + i]);
    /// columns count .. panelWidth are zero. Four lines at a time go through a 4 x 4 register transpose.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackLines(float* source, nint stride, int count, int depth, float* target, int panelWidth)
    {
        int line = 0;
        if (Sse.IsSupported)
        {
            int depthInFours = depth & ~3;
            nint panelStride = panelWidth;
            for (; line + 4 <= count; line += 4)
            {
                float* line0 = source + line * stride, line1 = line0 + stride, line2 = line1 + stride, line3 = line2 + stride;
                float* column = target + line;
                int k = 0;
                for (; k < depthInFours; k += 4)
                {
                    var row0 = Sse.LoadVector128(line0 + k);
                    var row1 = Sse.LoadVector128(line1 + k);
                    var row2 = Sse.LoadVector128(line2 + k);
                    var row3 = Sse.LoadVector128(line3 + k);
                    var low01 = Sse.UnpackLow(row0, row1);
                    var low23 = Sse.UnpackLow(row2, row3);
                    var high01 = Sse.UnpackHigh(row0, row1);
                    var high23 = Sse.UnpackHigh(row2, row3);
                    float* slice = column + k * panelStride;
                    Sse.Store(slice, Sse.MoveLowToHigh(low01, low23));
                    Sse.Store(slice + panelStride, Sse.MoveHighToLow(low23, low01));
                    Sse.Store(slice + 2 * panelStride, Sse.MoveLowToHigh(high01, high23));
                    Sse.Store(slice + 3 * panelStride, Sse.MoveHighToLow(high23, high01));
                }
                for (; k < depth; k++)
                {
                    float* slice = column + k * panelStride;
                    slice[0] = line0[k];
                    slice[1] = line1[k];
                    slice[2] = line2[k];
                    slice[3] = line3[k];
                }
            }
        }
        for (; line < count; line++)
        {
            float* lineSource = source + line * stride;
            for (int k = 0; k < depth; k++) target[(nint)k * panelWidth + line] = lineSource[k];
        }
        for (; line < panelWidth; line++)
        {
            for (int k = 0; k < depth; k++) target[(nint)k * panelWidth + line] = 0f;
        }
    }

    // ---------------------------------------------------------------- skinny products, unpacked

    /// <summary>
    /// M &lt;= 8 with op(B) rows contiguous: C[m, strip] accumulates op(A)(m, k) * B[k, strip] four
    /// depths per pass in a stack buffer, streaming each row of B once per strip of columns.
    /// </summary>
    private static void MultiplySkinnyRows(in Product p, int threads)
    {
        int strips = CeilDiv(p.N, SkinnyStripWidth);
        if (threads == 1 || strips == 1)
        {
            for (int strip = 0; strip < strips; strip++) MultiplySkinnyRowStrip(p, strip);
            return;
        }
        MultiplySkinnyRowStripsInParallel(p, strips, threads);
    }

    private static void MultiplySkinnyRowStripsInParallel(Product p, int strips, int threads) =>
        Parallel.For(0, strips, new ParallelOptions { MaxDegreeOfParallelism = threads },
            strip => MultiplySkinnyRowStrip(p, strip));

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void MultiplySkinnyRowStrip(in Product p, int strip)
    {
        int column0 = strip * SkinnyStripWidth;
        int width = Math.Min(SkinnyStripWidth, p.N - column0);
        int vectorWidth = width - width % Vector256<float>.Count;
        float* sums = stackalloc float[SkinnyRowsLimit * SkinnyStripWidth];
        for (int m = 0; m < p.M; m++) new Span<float>(sums + m * SkinnyStripWidth, width).Clear();
        nint aRowStride = p.ARowStride, aDepthStride = p.ADepthStride;
        float* bStrip = p.B + column0;

        int k = 0;
        for (; k + 4 <= p.K; k += 4)
        {
            float* b0 = bStrip + (nint)k * p.Ldb;
            float* b1 = b0 + p.Ldb, b2 = b1 + p.Ldb, b3 = b2 + p.Ldb;
            for (int m = 0; m < p.M; m++)
            {
                float* aElement = p.A + m * aRowStride + k * aDepthStride;
                float a0 = aElement[0], a1 = aElement[aDepthStride], a2 = aElement[2 * aDepthStride], a3 = aElement[3 * aDepthStride];
                var a0Vector = Vector256.Create(a0);
                var a1Vector = Vector256.Create(a1);
                var a2Vector = Vector256.Create(a2);
                var a3Vector = Vector256.Create(a3);
                float* sumRow = sums + m * SkinnyStripWidth;
                int j = 0;
                for (; j < vectorWidth; j += Vector256<float>.Count)
                {
                    var sum = Vector256.Load(sumRow + j);
                    sum = Vector256.FusedMultiplyAdd(a0Vector, Vector256.Load(b0 + j), sum);
                    sum = Vector256.FusedMultiplyAdd(a1Vector, Vector256.Load(b1 + j), sum);
                    sum = Vector256.FusedMultiplyAdd(a2Vector, Vector256.Load(b2 + j), sum);
                    sum = Vector256.FusedMultiplyAdd(a3Vector, Vector256.Load(b3 + j), sum);
                    sum.Store(sumRow + j);
                }
                for (; j < width; j++)
                {
                    float sum = MathF.FusedMultiplyAdd(a0, b0[j], sumRow[j]);
                    sum = MathF.FusedMultiplyAdd(a1, b1[j], sum);
                    sum = MathF.FusedMultiplyAdd(a2, b2[j], sum);
                    sumRow[j] = MathF.FusedMultiplyAdd(a3, b3[j], sum);
                }
            }
        }
        for (; k < p.K; k++)
        {
            float* bRow = bStrip + (nint)k * p.Ldb;
            for (int m = 0; m < p.M; m++)
            {
                float a = p.A[m * aRowStride + k * aDepthStride];
                var aVector = Vector256.Create(a);
                float* sumRow = sums + m * SkinnyStripWidth;
                int j = 0;
                for (; j < vectorWidth; j += Vector256<float>.Count)
                    Vector256.FusedMultiplyAdd(aVector, Vector256.Load(bRow + j), Vector256.Load(sumRow + j)).Store(sumRow + j);
                for (; j < width; j++)
                    sumRow[j] = MathF.FusedMultiplyAdd(a, bRow[j], sumRow[j]);
            }
        }

        float* bias = p.Bias != null ? p.Bias + column0 : null;
        TileStore.StoreScalar(sums, SkinnyStripWidth, p.C + column0, p.N, p.M, width, p.Alpha, bias, p.Accumulate);
    }

    /// <summary>
    /// M     /// M &lt;= 32 with op(B) = B^T, or N &lt;= 32 with op(A) = A: every element of C is the dot productlt;= 32     /// M &lt;= 32 with op(B) = B^T, or N &lt;= 32 with op(A) = A: every element of C is the dot productlt; N with op(B) = B^T, or N     /// M &lt;= 32 with op(B) = B^T, or N &lt;= 32 with op(A) = A: every element of C is the dot productlt;= 32     /// M &lt;= 32 with op(B) = B^T, or N &lt;= 32 with op(A) = A: every element of C is the dot productlt; M with op(A) = A: every element of C is the dot product
    /// of two rows contiguous in k, one from the skinny side (packed first if strided) and one from
    /// the long side. Blocks of 2 skinny by 4 long rows share their loads: 6 loads feed 8 FMAs.
    /// </summary>
    private static void MultiplyByDotProducts(in Product p, int threads, bool skinnyRows)
    {
        float* skinny;
        nint skinnyStride;
        if (skinnyRows && !p.TransA) { skinny = p.A; skinnyStride = p.Lda; }
        else if (!skinnyRows && p.TransB) { skinny = p.B; skinnyStride = p.Ldb; }
        else
        {
            int count = skinnyRows ? p.M : p.N;
            float* source = skinnyRows ? p.A : p.B;
            nint sourceStride = skinnyRows ? p.Lda : p.Ldb;
            skinny = SharedPack((nint)count * p.K);
            skinnyStride = p.K;
            for (int k = 0; k < p.K; k++)
            {
                float* slice = source + k * sourceStride;
                for (int i = 0; i < count; i++) skinny[i * skinnyStride + k] = slice[i];
            }
        }

        int longCount = skinnyRows ? p.N : p.M;
        int groups = CeilDiv(longCount, 4);
        int chunks = threads == 1 ? 1 : Math.Min(groups, 4 * threads);
        if (chunks == 1)
            DotProductGroups(p, skinny, skinnyStride, skinnyRows, 0, groups);
        else
            DotProductGroupsInParallel(p, skinny, skinnyStride, skinnyRows, groups, chunks, threads);
    }

    private static void DotProductGroupsInParallel(Product p, float* skinny, nint skinnyStride, bool skinnyRows,
        int groups, int chunks, int threads) =>
        Parallel.For(0, chunks, new ParallelOptions { MaxDegreeOfParallelism = threads }, chunk =>
            DotProductGroups(p, skinny, skinnyStride, skinnyRows,
                (int)((long)groups * chunk / chunks), (int)((long)groups * (chunk + 1) / chunks)));

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void DotProductGroups(in Product p, float* skinny, nint skinnyStride, bool skinnyRows,
        int firstGroup, int endGroup)
    {
        float* longBase = skinnyRows ? p.B : p.A;
        nint longStride = skinnyRows ? p.Ldb : p.Lda;
        int longCount = skinnyRows ? p.N : p.M;
        int skinnyCount = skinnyRows ? p.M : p.N;
        float* dots = stackalloc float[8];
        for (int group = firstGroup; group < endGroup; group++)
        {
            int first = group * 4;
            int count = Math.Min(4, longCount - first);
            // Short blocks repeat their last row: each element still goes through the same lanes.
            float* long0 = longBase + first * longStride;
            float* long1 = longBase + (first + Math.Min(1, count - 1)) * longStride;
            float* long2 = longBase + (first + Math.Min(2, count - 1)) * longStride;
            float* long3 = longBase + (first + Math.Min(3, count - 1)) * longStride;
            for (int s = 0; s < skinnyCount; s += 2)
            {
                int pair = Math.Min(2, skinnyCount - s);
                float* skinny0 = skinny + s * skinnyStride;
                float* skinny1 = skinny0 + (pair - 1) * skinnyStride;
                DotProducts2x4(skinny0, skinny1, long0, long1, long2, long3, p.K, dots);
                for (int t = 0; t < pair; t++)
                {
                    for (int i = 0; i < count; i++)
                    {
                        int m = skinnyRows ? s + t : first + i;
                        int n = skinnyRows ? first + i : s + t;
                        float* cElement = p.C + (nint)m * p.N + n;
                        float value = dots[t * 4 + i] * p.Alpha;
                        if (p.Bias != null) value += p.Bias[n];
                        if (p.Accumulate) value = *cElement + value;
                        *cElement = value;
                    }
                }
            }
        }
    }

    /// <summary>dots[4 * i + j] = sum over k of x_i[k] * y_j[k]: eight dot products sharing their loads.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void DotProducts2x4(float* x0, float* x1, float* y0, float* y1, float* y2, float* y3,
        int length, float* dots)
    {
        Vector256<float> sum00 = default, sum01 = default, sum02 = default, sum03 = default;
        Vector256<float> sum10 = default, sum11 = default, sum12 = default, sum13 = default;
        int k = 0;
        for (; k + Vector256<float>.Count <= length; k += Vector256<float>.Count)
        {
            var x0Vector = Vector256.Load(x0 + k);
            var x1Vector = Vector256.Load(x1 + k);
            var y = Vector256.Load(y0 + k);
            sum00 = Vector256.FusedMultiplyAdd(x0Vector, y, sum00);
            sum10 = Vector256.FusedMultiplyAdd(x1Vector, y, sum10);
            y = Vector256.Load(y1 + k);
            sum01 = Vector256.FusedMultiplyAdd(x0Vector, y, sum01);
            sum11 = Vector256.FusedMultiplyAdd(x1Vector, y, sum11);
            y = Vector256.Load(y2 + k);
            sum02 = Vector256.FusedMultiplyAdd(x0Vector, y, sum02);
            sum12 = Vector256.FusedMultiplyAdd(x1Vector, y, sum12);
            y = Vector256.Load(y3 + k);
            sum03 = Vector256.FusedMultiplyAdd(x0Vector, y, sum03);
            sum13 = Vector256.FusedMultiplyAdd(x1Vector, y, sum13);
        }
        float dot00 = Vector256.Sum(sum00), dot01 = Vector256.Sum(sum01), dot02 = Vector256.Sum(sum02), dot03 = Vector256.Sum(sum03);
        float dot10 = Vector256.Sum(sum10), dot11 = Vector256.Sum(sum11), dot12 = Vector256.Sum(sum12), dot13 = Vector256.Sum(sum13);
        for (; k < length; k++)
        {
            dot00 = MathF.FusedMultiplyAdd(x0[k], y0[k], dot00);
            dot01 = MathF.FusedMultiplyAdd(x0[k], y1[k], dot01);
            dot02 = MathF.FusedMultiplyAdd(x0[k], y2[k], dot02);
            dot03 = MathF.FusedMultiplyAdd(x0[k], y3[k], dot03);
            dot10 = MathF.FusedMultiplyAdd(x1[k], y0[k], dot10);
            dot11 = MathF.FusedMultiplyAdd(x1[k], y1[k], dot11);
            dot12 = MathF.FusedMultiplyAdd(x1[k], y2[k], dot12);
            dot13 = MathF.FusedMultiplyAdd(x1[k], y3[k], dot13);
        }
        dots[0] = dot00; dots[1] = dot01; dots[2] = dot02; dots[3] = dot03;
        dots[4] = dot10; dots[5] = dot11; dots[6] = dot12; dots[7] = dot13;
    }

    // ---------------------------------------------------------------- buffers and arithmetic

    /// <summary>
    /// Native 64-byte aligned scratch that grows on demand and is kept for the thread's life, so
    /// steady-state calls allocate nothing; freed by the finalizer once its thread has ended.
    /// </summary>
    internal sealed class PackBuffer
    {
        private float* _data;
        private nint _capacity;

        public float* Reserve(nint floats)
        {
            if (floats > _capacity)
            {
                NativeMemory.AlignedFree(_data);
                _data = null;
                _data = (float*)NativeMemory.AlignedAlloc((nuint)floats * sizeof(float), 64);
                _capacity = floats;
            }
            return _data;
        }

        ~PackBuffer() => NativeMemory.AlignedFree(_data);
    }

    /// <summary>Packed operand that one call shares between its worker threads (owned by the calling thread).</summary>
    [ThreadStatic] private static PackBuffer? t_sharedPack;
    /// <summary>Packed block that one worker uses within one task.</summary>
    [ThreadStatic] private static PackBuffer? t_privatePack;

    private static float* SharedPack(nint floats) => (t_sharedPack ??= new PackBuffer()).Reserve(floats);
    private static float* PrivatePack(nint floats) => (t_privatePack ??= new PackBuffer()).Reserve(floats);

    /// <summary>The depth of each pass over K: K cut into the fewest passes of at most KC, as evenly as possible.</summary>
    private static int DepthStep<TKernel>(int k) where TKernel : IMatmulMicroKernel =>
        CeilDiv(k, Math.Max(1, CeilDiv(k, TKernel.DepthBlock)));

    private static int CeilDiv(int value, int divisor) => (value + divisor - 1) / divisor;
    private static int RoundUp(int value, int multiple) => CeilDiv(value, multiple) * multiple;
}
