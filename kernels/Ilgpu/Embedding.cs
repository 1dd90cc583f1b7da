using ILGPU;

namespace Engine.Kernels.Ilgpu;

/// <summary>
/// Embedding gather: y[i, :] = table[ids[i], :] for int32 ids [n] (already checked to lie in
/// [0, vocab)), table [vocab, dim], y [n, dim].
///
/// Launch: 1-D groups of any size; group g copies rows g, g + gridSize, ... and its threads
/// stride over the dim columns of a row, so every load and store is coalesced and no thread
/// divides by dim. A pure copy: deterministic. <see cref="Backward"/> is its scatter-add.
/// </summary>
public static class Embedding
{
    /// <summary>The gather kernel.</summary>
    public static void Forward(ArrayView<float> table, ArrayView<int> ids, ArrayView<float> y, int n, int dim)
    {
        for (int i = Grid.IdxX; i < n; i += Grid.DimX)
        {
            long source = (long)ids[i] * dim;
            long target = (long)i * dim;
            for (int j = Group.IdxX; j < dim; j += Group.DimX)
                y[target + j] = table[source + j];
        }
    }

    /// <summary>
    /// The scatter-add of the gather: dtable[ids[i], d] += dy[i, d] for positions i = 0, 1, ..., n - 1
    /// in order, into a dtable [vocab, dim] the backend has filled with zeros first
    /// (<see cref="Elementwise.Fill"/>), so each row ends as the in-order sum of its positions' dy.
    /// </summary>
    /// <remarks>
    /// Shapes: ids [n] int32 in [0, vocab), dy [n, dim], dtable [vocab, dim]. Launch: 1-D, any
    /// group size, one thread per column d in a grid-stride loop, walking all positions. Every
    /// element dtable[v, d] is touched by the one thread of column d, so there is no race and no
    /// atomic: bitwise reproducible. Consecutive threads touch consecutive elements of a row.
    /// </remarks>
    public static void Backward(ArrayView<int> ids, ArrayView<float> dy, ArrayView<float> dtable, int n, int dim)
    {
        int stride = Grid.DimX * Group.DimX;
        for (int d = Grid.GlobalIndex.X; d < dim; d += stride)
            for (int i = 0; i < n; i++)
            {
                long target = (long)ids[i] * dim + d;
                dtable[target] = dtable[target] + dy[(long)i * dim + d];
            }
    }
}
