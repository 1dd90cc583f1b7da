using ILGPU;

namespace Engine.Kernels.Ilgpu;

/// <summary>
/// SPLADE pooling over lists of rows of logits [rows, V]: text b owns the rows
/// rowIds[offsets[b] .. offsets[b + 1]) (int32, in the text's order; no row belongs to two texts):
///   w[b, j]      = max over its rows r of log(1 + relu(logits[r, j]))              -> [texts, V]
///   argmax[b, j] = the first of its rows where logits[r, j] is that maximum, -1 when w[b, j] = 0.
/// log1p is increasing, so the maximum is taken over the raw logits from the floor 0 that relu
/// sets, and log1p is applied once per output; a NaN logit counts as the maximum (the first NaN
/// wins), so it reaches w as in torch.
///
/// <see cref="Forward"/> is laid out as the column reduction of <see cref="Reduction.Columns"/>:
/// a group (W, H) covers W consecutive columns of one text (coalesced loads along V) and H slices
/// of its rows; thread (tx, ty) walks the text's rows ty, ty + H, ..., keeping its maximum and
/// the position of the first row reaching it, and the H partials of each column meet in a
/// shared-memory argmax tree (<see cref="GroupReduce.ArgMax"/>: larger value, NaN largest, ties to
/// the earlier position). The result is the same for any launch shape.
/// Grid: texts * ceil(V / W), flattened into x.
/// </summary>
public static class SpladePool
{
    /// <summary>The pooling kernel; see the class comment.</summary>
    /// <param name="logits">Row logits [rows, vocab].</param>
    /// <param name="rowIds">The rows of every text, one text after another (int32).</param>
    /// <param name="offsets">Text b's rows are rowIds[offsets[b] .. offsets[b + 1]) ([texts + 1]).</param>
    /// <param name="w">Output [texts, vocab].</param>
    /// <param name="argmax">Output [texts, vocab] (int32): the maximising row, or -1.</param>
    /// <param name="texts">Number of texts.</param>
    /// <param name="vocab">Columns.</param>
    public static void Forward(ArrayView<float> logits, ArrayView<int> rowIds, ArrayView<int> offsets, ArrayView<float> w,
        ArrayView<int> argmax, int texts, int vocab)
    {
        var values = SharedMemory.Allocate<float>(GroupReduce.MaxGroupSize);
        var positions = SharedMemory.Allocate<int>(GroupReduce.MaxGroupSize);
        int width = Group.DimX;
        int slices = Group.DimY;
        int slice = Group.IdxY;
        int tiles = (vocab + width - 1) / width;
        int text = Grid.IdxX / tiles;
        int column = (Grid.IdxX - text * tiles) * width + Group.IdxX;
        bool active = column < vocab;

        // The floor: relu maps every logit to at least 0; a zero logit may take the position, but
        // only a positive maximum keeps it below.
        float best = 0f;
        int at = int.MaxValue;
        if (active)
        {
            int end = offsets[text + 1];
            for (int k = offsets[text] + slice; k < end; k += slices)
            {
                float x = logits[(long)rowIds[k] * vocab + column];
                if (GroupReduce.Beats(x, k, best, at))
                {
                    best = x;
                    at = k;
                }
            }
        }
        GroupReduce.ArgMax(values, positions, ref best, ref at, slice, slices, Group.IdxX, width);
        if (active && slice == 0)
        {
            long o = (long)text * vocab + column;
            bool positive = best > 0f || float.IsNaN(best);
            w[o] = positive ? Elementwise.Log1p(best) : 0f;
            argmax[o] = positive ? rowIds[at] : -1;
        }
    }

    /// <summary>
    /// The gradient, for every row r of logits [rows, V] with rowText[r] the text owning it (-1 for
    /// a row no text owns, such as padding):
    ///   dlogits[r, j] = dw[b, j] / (1 + logits[r, j])   where b = rowText[r] and argmax[b, j] = r,
    ///                 = 0                               elsewhere
    /// (d/dx log(1 + x) = 1 / (1 + x)), so every element of dlogits is written exactly once.
    /// </summary>
    /// <remarks>
    /// Launch: 1-D, any group size; group g takes rows g, g + grid, ... and its threads sweep the
    /// row's columns (coalesced reads of argmax and dw, coalesced writes of dlogits; a logit is
    /// read only where its row is the argmax). Pure writes, no atomics: deterministic.
    /// </remarks>
    public static void Backward(ArrayView<float> logits, ArrayView<int> rowText, ArrayView<int> argmax, ArrayView<float> dw,
        ArrayView<float> dlogits, long rows, int vocab)
    {
        for (long r = Grid.IdxX; r < rows; r += Grid.DimX)
        {
            int text = rowText[r];
            long row = r * vocab;
            long outputs = (long)text * vocab;
            for (int j = Group.IdxX; j < vocab; j += Group.DimX)
            {
                float g = 0f;
                if (text >= 0 && argmax[outputs + j] == r)
                    g = dw[outputs + j] / (1f + logits[row + j]);
                dlogits[row + j] = g;
            }
        }
    }
}
