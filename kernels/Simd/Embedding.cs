using System.Runtime.CompilerServices;

namespace Engine.Kernels.Simd;

// Embedding lookup, a row gather: table [vocab, dim], int32 ids [n] (already checked to lie in
// [0, vocab)) -> y [n, dim] with y[i, :] = table[ids[i], :]. Each row is one block copy; large
// gathers copy rows in parallel.
public static unsafe class Embedding
{
    public static void Forward(float* table, int* ids, float* y, int n, int dim) =>
        Parallelism.ForRows(n, dim, new Rows(table, ids, y, dim));

    private readonly struct Rows(float* table, int* ids, float* y, int dim) : IRowKernel
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int start, int end)
        {
            long bytes = (long)dim * sizeof(float);
            for (int i = start; i < end; i++)
                Buffer.MemoryCopy(table + (long)ids[i] * dim, y + (long)i * dim, bytes, bytes);
        }
    }
}
