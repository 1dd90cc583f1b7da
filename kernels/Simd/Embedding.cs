using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

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

    // Gradient, the scatter-add of the gather: dtable [vocab, dim] with
    //   dtable[v, :] = sum over i with ids[i] == v of dy[i, :]      (0 for rows no id selects)
    // added in increasing i from 0, as torch's index_add into zeros, so the result is the same
    // bit for bit on every run. Two phases: the table is cleared, rows in parallel (for GPT-2,
    // 150 MB: this phase dominates); then column blocks of ScatterBlockColumns floats run in
    // parallel, each walking every position in order and adding its slice of dy[i, :] into its
    // slice of dtable[ids[i], :], so no two threads ever touch the same element.
    public static void Backward(int* ids, float* dy, float* dtable, int n, int dim, int vocab)
    {
        Parallelism.ForRows(vocab, dim, new ClearRows(dtable, dim));
        int blocks = (dim + ScatterBlockColumns - 1) / ScatterBlockColumns;
        if (SimdWidth.Use512) Parallelism.ForRows(blocks, (long)n * ScatterBlockColumns, new ScatterColumns<Vector512Float>(ids, dy, dtable, n, dim));
        else if (Vector256.IsHardwareAccelerated) Parallelism.ForRows(blocks, (long)n * ScatterBlockColumns, new ScatterColumns<Vector256Float>(ids, dy, dtable, n, dim));
        else Parallelism.ForRows(blocks, (long)n * ScatterBlockColumns, new ScatterColumns<Vector128Float>(ids, dy, dtable, n, dim));
    }

    /// <summary>Columns per unit of scatter work (four cache lines).</summary>
    private const int ScatterBlockColumns = 64;

    /// <summary>Sets rows [start, end) of the table to zero.</summary>
    private readonly struct ClearRows(float* table, int dim) : IRowKernel
    {
        public void Run(int start, int end) =>
            NativeMemory.Clear(table + (long)start * dim, (nuint)((long)(end - start) * dim * sizeof(float)));
    }

    /// <summary>Column blocks [start, end): every position, in order, added into its table row.</summary>
    private readonly struct ScatterColumns<V>(int* ids, float* dy, float* dtable, int n, int dim) : IRowKernel where V : unmanaged, IFloatVector<V>
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int start, int end)
        {
            int first = start * ScatterBlockColumns, last = Math.Min(dim, end * ScatterBlockColumns);
            int w = V.Count;
            for (int i = 0; i < n; i++)
            {
                float* source = dy + (long)i * dim;
                float* destination = dtable + (long)ids[i] * dim;
                int j = first;
                for (; j <= last - w; j += w) V.Store(V.Load(destination + j) + V.Load(source + j), destination + j);
                if (j < last)
                {
                    int count = last - j;
                    Lanes.StorePartial(Lanes.LoadPartial<V>(destination + j, count, 0f) + Lanes.LoadPartial<V>(source + j, count, 0f), destination + j, count);
                }
            }
        }
    }
}
