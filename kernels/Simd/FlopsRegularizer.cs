using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Engine.Kernels.Simd;

// Sparsity regularizers of a batch of vectors w [n, V] (SPLADE's FLOPs regularizer, Paria et al.
// 2020, and its L1 alternative), both through the column means of |w|:
//   means[j] = (1/n) sum_i |w[i, j]|                                               -> [V]
//   Flops:   loss = sum_j means[j]^2          L1: loss = sum_j means[j] = (1/n) sum_ij |w[i, j]|
// Column tiles of TileColumns run in parallel: each walks the rows in order, adding |w| into
// its slice of means with a compensated (Kahan) sum per column, the compensation in a stack
// buffer, so the rows stream contiguously and the error stays near one rounding for any n. The
// loss is then summed over j on the calling thread, one compensated register of lanes in a fixed
// order: the same inputs give the same bits for any thread count.
public static unsafe class FlopsRegularizer
{
    /// <summary>Columns per unit of work (the sums and their compensations stay in L1).</summary>
    private const int TileColumns = 1024;

    public static void Forward(SparsityPenalty penalty, float* w, float* means, float* loss, int n, int vocab)
    {
        if (SimdWidth.Use512) Forward<Vector512Float>(penalty, w, means, loss, n, vocab);
        else if (Vector256.IsHardwareAccelerated) Forward<Vector256Float>(penalty, w, means, loss, n, vocab);
        else Forward<Vector128Float>(penalty, w, means, loss, n, vocab);
    }

    private static void Forward<V>(SparsityPenalty penalty, float* w, float* means, float* loss, int n, int vocab)
        where V : unmanaged, IFloatVector<V>
    {
        int tiles = (vocab + TileColumns - 1) / TileColumns;
        Parallelism.ForRows(tiles, (long)n * TileColumns, new ColumnMeans<V>(w, means, n, vocab));
        loss[0] = SumOfPowers<V>(means, vocab, penalty == SparsityPenalty.Flops);
    }

    /// <summary>means over the column tiles [start, end).</summary>
    private readonly struct ColumnMeans<V>(float* w, float* means, int n, int vocab) : IRowKernel where V : unmanaged, IFloatVector<V>
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int start, int end)
        {
            float* lost = stackalloc float[TileColumns];
            for (int tile = start; tile < end; tile++)
            {
                int first = tile * TileColumns, width = Math.Min(TileColumns, vocab - first);
                float* sum = means + first;
                new Span<float>(sum, width).Clear();
                new Span<float>(lost, width).Clear();
                for (int i = 0; i < n; i++)
                {
                    float* row = w + (long)i * vocab + first;
                    int j = 0;
                    for (; j <= width - V.Count; j += V.Count)
                    {
                        V s = V.Load(sum + j), c = V.Load(lost + j);
                        V y = V.Abs(V.Load(row + j)) - c;
                        V t = s + y;
                        // Once the sum is infinite the compensation would turn it into NaN: drop it.
                        V.Store(((t - s) - y) & V.Equal(t - t, V.Splat(0f)), lost + j);
                        V.Store(t, sum + j);
                    }
                    for (; j < width; j++)
                    {
                        float y = MathF.Abs(row[j]) - lost[j];
                        float t = sum[j] + y;
                        lost[j] = t - t == 0f ? (t - sum[j]) - y : 0f;
                        sum[j] = t;
                    }
                }
                // n = 0 gives 0 / 0 = NaN, torch's mean of nothing.
                float scale = 1f / n;
                for (int j = 0; j < width; j++) sum[j] = (sum[j] - lost[j]) * scale;
            }
        }
    }

    /// <summary>sum_j x[j]^2 (or sum_j x[j]), compensated per lane, lanes added in a fixed order.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float SumOfPowers<V>(float* x, int count, bool squared) where V : unmanaged, IFloatVector<V>
    {
        V sum = V.Splat(0f), lost = V.Splat(0f), zero = V.Splat(0f);
        for (int j = 0; j < count; j += V.Count)
        {
            V v = j <= count - V.Count ? V.Load(x + j) : Lanes.LoadPartial<V>(x + j, count - j, 0f);
            V y = (squared ? v * v : v) - lost;
            V t = sum + y;
            lost = ((t - sum) - y) & V.Equal(t - t, zero);
            sum = t;
        }
        return V.SumLanes(sum - lost);
    }

    // Gradient, for each element of w [n, V] with the saved means and the upstream scalar dloss:
    //   Flops: dw[i, j] = dloss * 2 means[j] sign(w[i, j]) / n       L1: dw[i, j] = dloss * sign(w[i, j]) / n
    // with sign(0) = 0 (torch's |x|'(0)) and NaN where w is NaN. Rows in parallel.
    public static void Backward(SparsityPenalty penalty, float* w, float* means, float* dloss, float* dw, int n, int vocab)
    {
        float scale = (penalty == SparsityPenalty.Flops ? 2f : 1f) * dloss[0] / n;
        bool flops = penalty == SparsityPenalty.Flops;
        if (SimdWidth.Use512) Parallelism.ForRows(n, vocab, new GradientRows<Vector512Float>(w, means, dw, vocab, scale, flops));
        else if (Vector256.IsHardwareAccelerated) Parallelism.ForRows(n, vocab, new GradientRows<Vector256Float>(w, means, dw, vocab, scale, flops));
        else Parallelism.ForRows(n, vocab, new GradientRows<Vector128Float>(w, means, dw, vocab, scale, flops));
    }

    private readonly struct GradientRows<V>(float* w, float* means, float* dw, int vocab, float scale, bool flops) : IRowKernel
        where V : unmanaged, IFloatVector<V>
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int start, int end)
        {
            V zero = V.Splat(0f), factor = V.Splat(scale);
            for (int i = start; i < end; i++)
            {
                float* x = w + (long)i * vocab;
                float* g = dw + (long)i * vocab;
                int j = 0;
                for (; j <= vocab - V.Count; j += V.Count)
                {
                    V v = V.Load(x + j);
                    V magnitude = flops ? V.Load(means + j) * factor : factor;
                    V signed = V.Select(V.Equal(v, zero), zero, V.Select(V.IsNegative(v), -magnitude, magnitude));
                    V.Store(V.Select(V.IsNaN(v), v, signed), g + j);
                }
                for (; j < vocab; j++)
                {
                    float v = x[j];
                    float magnitude = flops ? means[j] * scale : scale;
                    g[j] = v > 0f ? magnitude : v < 0f ? -magnitude : v == 0f ? 0f : v;
                }
            }
        }
    }
}
