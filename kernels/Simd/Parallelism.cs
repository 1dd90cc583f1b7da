namespace Engine.Kernels.Simd;

/// <summary>
/// A kernel over independent rows (or blocks), run on the half-open range [start, end).
/// Kernel loops are marked AggressiveOptimization: generic vector code runs tens of times slower
/// before tiered compilation reaches it, and a kernel should be fast from its first call.
/// </summary>
internal interface IRowKernel
{
    void Run(int start, int end);
}

/// <summary>
/// Runs row kernels inline when the work is small and over the thread pool when it is large.
/// Rows never depend on how they are split, so results are the same for any thread count.
/// Only the parallel path allocates (the Parallel.For closure); small calls allocate nothing.
/// </summary>
internal static class Parallelism
{
    /// <summary>Below this many elements of work a kernel runs on the calling thread.</summary>
    public const long MinParallelElements = 32 * 1024;
    /// <summary>Each chunk handed to a worker gets at least this many elements of work.</summary>
    private const long MinChunkElements = 16 * 1024;
    /// <summary>Chunks per core, so uneven rows and a busy core still balance.</summary>
    private const int ChunksPerCore = 4;

    /// <summary>Runs <paramref name="kernel"/> over <paramref name="rows"/> rows of about <paramref name="elementsPerRow"/> elements each.</summary>
    public static void ForRows<TKernel>(int rows, long elementsPerRow, in TKernel kernel) where TKernel : struct, IRowKernel
    {
        int chunks = ChunkCount(rows, rows * Math.Max(1, elementsPerRow));
        if (chunks <= 1) kernel.Run(0, rows);
        else RunChunks(kernel, rows, chunks);
    }

    private static int ChunkCount(int rows, long elements)
    {
        if (rows < 2 || elements < MinParallelElements || Environment.ProcessorCount == 1) return 1;
        long byWork = elements / MinChunkElements;
        return (int)Math.Min(rows, Math.Min(byWork, (long)Environment.ProcessorCount * ChunksPerCore));
    }

    private static void RunChunks<TKernel>(TKernel kernel, int rows, int chunks) where TKernel : struct, IRowKernel =>
        Parallel.For(0, chunks, chunk => kernel.Run(Boundary(rows, chunks, chunk), Boundary(rows, chunks, chunk + 1)));

    private static int Boundary(int rows, int chunks, int chunk) => (int)((long)rows * chunk / chunks);
}
