using ILGPU;

namespace Engine.Kernels.Ilgpu;

/// <summary>
/// Reductions of contiguous x viewed as [outer, n, inner] over the middle axis into
/// y [outer, inner]: sum, mean = sum / n, max (NaN propagates), argmax (int32, first maximum
/// wins, NaN counts as the maximum, as torch).
///
/// Two kernels, by memory layout:
/// - <see cref="Rows"/> (inner == 1, each reduction runs along a contiguous row of n): the
///   group is (T, R): T threads per row (a power of two) and R rows per group. Thread tx
///   accumulates x[row, tx], x[row, tx + T], ... (coalesced), then the T partials meet in a
///   shared-memory tree (<see cref="GroupReduce"/>). Grid: ceil(outer / R).
/// - <see cref="Columns"/> (inner &gt; 1, the reduced elements are inner apart): the group is
///   (W, H): W consecutive output columns j (coalesced loads) times H slices of the n axis
///   (a power of two); thread (tx, ty) accumulates k = ty, ty + H, ..., then the H partials of
///   each column meet in a tree. Grid: outer * ceil(inner / W), flattened into x.
/// Each thread's running sum is compensated (<see cref="GroupReduce.CompensatedSum"/>). Every
/// partial is combined in a fixed order, so results are bitwise reproducible.
/// <see cref="MaxBackward"/> scatters the gradient of a max back to its argmax.
/// </summary>
public static class Reduction
{
    /// <summary>Reduces each of the <paramref name="rows"/> contiguous rows of length <paramref name="n"/>.</summary>
    /// <param name="x">Input [rows, n].</param>
    /// <param name="y">Output [rows] for Sum, Mean, Max.</param>
    /// <param name="yIndex">The same memory as <paramref name="y"/> viewed as int32, written by ArgMax.</param>
    /// <param name="op">The reduction.</param>
    /// <param name="rows">Number of rows (outer).</param>
    /// <param name="n">Row length.</param>
    public static void Rows(ArrayView<float> x, ArrayView<float> y, ArrayView<int> yIndex, ReduceOp op, int rows, int n)
    {
        var values = SharedMemory.Allocate<float>(GroupReduce.MaxGroupSize);
        var indices = SharedMemory.Allocate<int>(GroupReduce.MaxGroupSize);
        int lanes = Group.DimX;
        int lane = Group.IdxX;
        int first = Group.IdxY * lanes;
        int row = Grid.IdxX * Group.DimY + Group.IdxY;
        bool active = row < rows;
        long start = (long)row * n;

        if (op == ReduceOp.Sum || op == ReduceOp.Mean)
        {
            var partial = new GroupReduce.CompensatedSum();
            if (active)
                for (int k = lane; k < n; k += lanes)
                    partial.Add(x[start + k]);
            float sum = GroupReduce.Sum(values, partial.Value, lane, lanes, first, 1);
            if (active && lane == 0)
                y[row] = op == ReduceOp.Mean ? sum / n : sum;
        }
        else
        {
            float best = float.NegativeInfinity;
            int at = int.MaxValue;
            if (active)
                for (int k = lane; k < n; k += lanes)
                    Consider(x[start + k], k, ref best, ref at);
            GroupReduce.ArgMax(values, indices, ref best, ref at, lane, lanes, first, 1);
            if (active && lane == 0)
            {
                if (op == ReduceOp.Max)
                    y[row] = best;
                else
                    yIndex[row] = at;
            }
        }
    }

    /// <summary>Reduces x [outer, n, inner] over n where inner &gt; 1.</summary>
    /// <param name="x">Input [outer, n, inner].</param>
    /// <param name="y">Output [outer, inner] for Sum, Mean, Max.</param>
    /// <param name="yIndex">The same memory as <paramref name="y"/> viewed as int32, written by ArgMax.</param>
    /// <param name="op">The reduction.</param>
    /// <param name="n">Length of the reduced axis.</param>
    /// <param name="inner">Product of the dimensions after the reduced axis.</param>
    public static void Columns(ArrayView<float> x, ArrayView<float> y, ArrayView<int> yIndex, ReduceOp op, int n, int inner)
    {
        var values = SharedMemory.Allocate<float>(GroupReduce.MaxGroupSize);
        var indices = SharedMemory.Allocate<int>(GroupReduce.MaxGroupSize);
        int width = Group.DimX;
        int slices = Group.DimY;
        int slice = Group.IdxY;
        int tiles = (inner + width - 1) / width;
        int outer = Grid.IdxX / tiles;
        int column = (Grid.IdxX - outer * tiles) * width + Group.IdxX;
        bool active = column < inner;
        long start = (long)outer * n * inner + column;

        if (op == ReduceOp.Sum || op == ReduceOp.Mean)
        {
            var partial = new GroupReduce.CompensatedSum();
            if (active)
                for (int k = slice; k < n; k += slices)
                    partial.Add(x[start + (long)k * inner]);
            float sum = GroupReduce.Sum(values, partial.Value, slice, slices, Group.IdxX, width);
            if (active && slice == 0)
                y[(long)outer * inner + column] = op == ReduceOp.Mean ? sum / n : sum;
        }
        else
        {
            float best = float.NegativeInfinity;
            int at = int.MaxValue;
            if (active)
                for (int k = slice; k < n; k += slices)
                    Consider(x[start + (long)k * inner], k, ref best, ref at);
            GroupReduce.ArgMax(values, indices, ref best, ref at, slice, slices, Group.IdxX, width);
            if (active && slice == 0)
            {
                long o = (long)outer * inner + column;
                if (op == ReduceOp.Max)
                    y[o] = best;
                else
                    yIndex[o] = at;
            }
        }
    }

    /// <summary>
    /// The gradient of a max over the middle axis: dx[o, j, k] = dy[o, k] where j = index[o, k]
    /// (the int32 ArgMax) and 0 elsewhere, so every element of dx is written.
    /// </summary>
    /// <remarks>
    /// Shapes: index and dy [outer, inner], dx [outer, n, inner] contiguous, count = outer * n * inner.
    /// Launch: 1-D, any group size, one thread per element of dx in a grid-stride loop; element i
    /// decodes as k = i mod inner, j = (i / inner) mod n, o = i / (n inner), so consecutive threads
    /// write consecutive elements. Pure writes: deterministic.
    /// </remarks>
    public static void MaxBackward(ArrayView<int> index, ArrayView<float> dy, ArrayView<float> dx, int n, int inner, int count)
    {
        int stride = Grid.DimX * Group.DimX;
        for (int i = Grid.GlobalIndex.X; i < count; i += stride)
        {
            int slab = i / inner;
            int k = i - slab * inner;
            int o = slab / n;
            int j = slab - o * n;
            int source = o * inner + k;
            dx[i] = index[source] == j ? dy[source] : 0f;
        }
    }

    /// <summary>Running argmax of one thread, which sees indices in increasing order.</summary>
    private static void Consider(float v, int k, ref float best, ref int at)
    {
        if (GroupReduce.Beats(v, k, best, at))
        {
            best = v;
            at = k;
        }
    }
}
