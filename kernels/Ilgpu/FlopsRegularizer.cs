using ILGPU;

namespace Engine.Kernels.Ilgpu;

/// <summary>
/// Sparsity regularizers of a batch of vectors w [n, V] (SPLADE's FLOPs regularizer, Paria et al.
/// 2020, and its L1 alternative), both through the column means of |w|:
///   means[j] = (1/n) sum_i |w[i, j]|                                              -> [V]
///   Flops:   loss = sum_j means[j]^2          L1: loss = sum_j means[j] = (1/n) sum_ij |w[i, j]|
/// Backward: dw[i, j] = dloss * 2 means[j] sign(w[i, j]) / n (Flops), dloss * sign(w[i, j]) / n (L1).
///
/// Two forward kernels, neither with atomics, so the same inputs give the same bits:
/// <see cref="ColumnMeans"/> is a column reduction laid out as <see cref="Reduction.Columns"/>
/// (a group (W, H): W consecutive columns, coalesced along V, times H slices of the rows, whose
/// compensated partials meet in a shared-memory tree), and <see cref="Loss"/> is one group that
/// sums the V means (or their squares) in a fixed tree.
/// </summary>
public static class FlopsRegularizer
{
    /// <summary>means[j] = (1/n) sum_i |w[i, j]| for w [n, vocab] (n = 0 gives NaN, torch's mean of nothing).</summary>
    /// <remarks>Launch: group (W, H), W a power of two up to 32, H a power of two; grid ceil(vocab / W).</remarks>
    public static void ColumnMeans(ArrayView<float> w, ArrayView<float> means, int n, int vocab)
    {
        var scratch = SharedMemory.Allocate<float>(GroupReduce.MaxGroupSize);
        int width = Group.DimX;
        int slices = Group.DimY;
        int slice = Group.IdxY;
        int column = Grid.IdxX * width + Group.IdxX;
        bool active = column < vocab;
        var partial = new GroupReduce.CompensatedSum();
        if (active)
            for (int i = slice; i < n; i += slices)
                partial.Add(MathF.Abs(w[(long)i * vocab + column]));
        float sum = GroupReduce.Sum(scratch, partial.Value, slice, slices, Group.IdxX, width);
        if (active && slice == 0)
            means[column] = sum / n;
    }

    /// <summary>loss[0] = sum_j means[j]^2 (Flops) or sum_j means[j] (L1) over the vocab means.</summary>
    /// <remarks>
    /// Launch: one 1-D group of T threads (a power of two); thread t adds j = t, t + T, ... with a
    /// compensated sum, and the T partials meet in a shared-memory tree.
    /// </remarks>
    public static void Loss(ArrayView<float> means, ArrayView<float> loss, SparsityPenalty penalty, int vocab)
    {
        var scratch = SharedMemory.Allocate<float>(GroupReduce.MaxGroupSize);
        int lanes = Group.DimX;
        int lane = Group.IdxX;
        var partial = new GroupReduce.CompensatedSum();
        for (int j = lane; j < vocab; j += lanes)
        {
            float m = means[j];
            partial.Add(penalty == SparsityPenalty.Flops ? m * m : m);
        }
        float sum = GroupReduce.Sum(scratch, partial.Value, lane, lanes, 0, 1);
        if (lane == 0)
            loss[0] = sum;
    }

    /// <summary>
    /// dw[i, j] = dloss[0] * 2 means[j] sign(w[i, j]) / n (Flops) or dloss[0] * sign(w[i, j]) / n (L1),
    /// with sign(0) = 0 (torch's |x|'(0)) and NaN where w is NaN. means is read only for Flops.
    /// </summary>
    /// <remarks>
    /// Launch: 1-D, any group size; group g takes rows g, g + grid, ... and its threads sweep the
    /// row's columns (coalesced). Pure writes: deterministic.
    /// </remarks>
    public static void Backward(ArrayView<float> w, ArrayView<float> means, ArrayView<float> dloss, ArrayView<float> dw,
        SparsityPenalty penalty, int n, int vocab)
    {
        bool flops = penalty == SparsityPenalty.Flops;
        float scale = (flops ? 2f : 1f) * dloss[0] / n;
        for (int i = Grid.IdxX; i < n; i += Grid.DimX)
        {
            long row = (long)i * vocab;
            for (int j = Group.IdxX; j < vocab; j += Group.DimX)
            {
                float v = w[row + j];
                float magnitude = flops ? means[j] * scale : scale;
                dw[row + j] = v > 0f ? magnitude : v < 0f ? -magnitude : v == 0f ? 0f : v;
            }
        }
    }
}
