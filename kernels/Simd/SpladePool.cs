using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Engine.Kernels.Simd;

// SPLADE pooling over lists of rows of logits [rows, V]: text b owns the rows
// rowIds[offsets[b] .. offsets[b + 1]) (int32, in the text's order; no row belongs to two texts):
//   w[b, j]      = max over its rows r of log(1 + relu(logits[r, j]))              -> [texts, V]
//   argmax[b, j] = the first of its rows where logits[r, j] is that maximum, -1 when w[b, j] = 0
// log1p is increasing, so the maximum is taken over the raw logits, starting from the floor 0
// that relu sets, and log1p is applied once per output. A NaN logit counts as the maximum (the
// first NaN wins), so it reaches w as in torch.
// Work units are (text, tile of TileColumns columns): the running maximum and its row live in
// the unit's slice of w and argmax (2 x 8 KB, in L1) and are updated row after row while the
// rows' tile segments stream contiguously from memory; a last sweep turns the maximum into log1p.
public static unsafe class SpladePool
{
    /// <summary>Columns per unit of work.</summary>
    private const int TileColumns = 2048;

    public static void Forward(float* logits, int* rowIds, int* offsets, float* w, int* argmax, int texts, int vocab)
    {
        int tiles = (vocab + TileColumns - 1) / TileColumns;
        long perUnit = Math.Max(1L, (long)offsets[texts] / Math.Max(1, texts)) * Math.Min(vocab, TileColumns);
        if (SimdWidth.Use512) Parallelism.ForRows(texts * tiles, perUnit, new Tiles<Vector512Float>(logits, rowIds, offsets, w, argmax, vocab, tiles));
        else if (Vector256.IsHardwareAccelerated) Parallelism.ForRows(texts * tiles, perUnit, new Tiles<Vector256Float>(logits, rowIds, offsets, w, argmax, vocab, tiles));
        else Parallelism.ForRows(texts * tiles, perUnit, new Tiles<Vector128Float>(logits, rowIds, offsets, w, argmax, vocab, tiles));
    }

    /// <summary>Units u in [start, end): text u / tiles, columns of tile u % tiles.</summary>
    private readonly struct Tiles<V>(float* logits, int* rowIds, int* offsets, float* w, int* argmax, int vocab, int tiles) : IRowKernel
        where V : unmanaged, IFloatVector<V>
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int start, int end)
        {
            for (int u = start; u < end; u++)
            {
                int b = u / tiles, first = u % tiles * TileColumns;
                int width = Math.Min(TileColumns, vocab - first);
                float* best = w + (long)b * vocab + first;
                float* at = (float*)(argmax + (long)b * vocab + first);
                new Span<float>(best, width).Clear();
                new Span<int>((int*)at, width).Fill(-1);
                for (int k = offsets[b]; k < offsets[b + 1]; k++)
                    Consider(logits + (long)rowIds[k] * vocab + first, rowIds[k], best, at, width);
                Finish(best, width);
            }
        }

        /// <summary>Folds one row's tile segment into the running maximum and its row.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void Consider(float* row, int rowId, float* best, float* at, int width)
        {
            V id = V.Splat(BitConverter.Int32BitsToSingle(rowId));
            int j = 0;
            for (; j <= width - V.Count; j += V.Count)
            {
                V x = V.Load(row + j), m = V.Load(best + j);
                // x wins when larger, or NaN over a number; a NaN maximum keeps its place.
                V wins = V.GreaterThan(x, m) | (V.IsNaN(x) & ~V.IsNaN(m));
                V.Store(V.Select(wins, x, m), best + j);
                V.Store(V.Select(wins, id, V.Load(at + j)), at + j);
            }
            for (; j < width; j++)
            {
                float x = row[j], m = best[j];
                if (x > m || (float.IsNaN(x) && !float.IsNaN(m)))
                {
                    best[j] = x;
                    ((int*)at)[j] = rowId;
                }
            }
        }

        /// <summary>w = log(1 + max): log1p(0) = 0 leaves the columns no positive logit reached at 0.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void Finish(float* best, int width)
        {
            int j = 0;
            for (; j <= width - V.Count; j += V.Count) V.Store(VectorMath.Log1p(V.Load(best + j)), best + j);
            for (; j < width; j++) best[j] = ScalarMath.Log1p(best[j]);
        }
    }

    // Gradient, over every row r of logits [rows, V], with rowText[r] the text owning row r (-1 for
    // a row no text owns, such as padding):
    //   dlogits[r, j] = dw[b, j] / (1 + logits[r, j])   where b = rowText[r] and argmax[b, j] = r
    //                 = 0                               elsewhere
    // (d/dx log(1 + x) = 1 / (1 + x); only the maximising row of each output gets its gradient).
    // Rows in parallel; each row is written once, as a stream, comparing argmax[b, :] with r a
    // register at a time and reading the logits only where some lane matches.
    public static void Backward(float* logits, int* rowText, int* argmax, float* dw, float* dlogits, int rows, int vocab)
    {
        if (SimdWidth.Use512) Parallelism.ForRows(rows, vocab, new GradientRows<Vector512Float>(logits, rowText, argmax, dw, dlogits, vocab));
        else if (Vector256.IsHardwareAccelerated) Parallelism.ForRows(rows, vocab, new GradientRows<Vector256Float>(logits, rowText, argmax, dw, dlogits, vocab));
        else Parallelism.ForRows(rows, vocab, new GradientRows<Vector128Float>(logits, rowText, argmax, dw, dlogits, vocab));
    }

    private readonly struct GradientRows<V>(float* logits, int* rowText, int* argmax, float* dw, float* dlogits, int vocab) : IRowKernel
        where V : unmanaged, IFloatVector<V>
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int start, int end)
        {
            V zero = V.Splat(0f), one = V.Splat(1f);
            for (int r = start; r < end; r++)
            {
                float* destination = dlogits + (long)r * vocab;
                int b = rowText[r];
                if (b < 0)
                {
                    new Span<float>(destination, vocab).Clear();
                    continue;
                }
                float* x = logits + (long)r * vocab;
                float* at = (float*)(argmax + (long)b * vocab);
                float* g = dw + (long)b * vocab;
                V id = V.Splat(BitConverter.Int32BitsToSingle(r));
                int j = 0;
                for (; j <= vocab - V.Count; j += V.Count)
                {
                    V hit = V.EqualBits(V.Load(at + j), id);
                    V.Store(V.MaskBits(hit) == 0 ? zero : V.Select(hit, V.Load(g + j) / (one + V.Load(x + j)), zero), destination + j);
                }
                for (; j < vocab; j++) destination[j] = ((int*)at)[j] == r ? g[j] / (1f + x[j]) : 0f;
            }
        }
    }
}
