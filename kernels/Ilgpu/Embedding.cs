using ILGPU;

namespace Engine.Kernels.Ilgpu;

/// <summary>
/// Embedding gather: y[i, :] = table[ids[i], :] for int32 ids [n] (already checked to lie in
/// [0, vocab)), table [vocab, dim], y [n, dim].
///
/// Launch: 1-D groups of any size; group g copies rows g, g + gridSize, ... and its threads
/// stride over the dim columns of a row, so every load and store is coalesced and no thread
/// divides by dim. A pure copy: deterministic.
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
}
