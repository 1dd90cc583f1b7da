using ILGPU;

namespace Engine.Kernels.Ilgpu;

/// <summary>
/// Cross-entropy fused with log-softmax, per row of logits [rows, cols] with int32 targets [rows]:
///   loss[r] = logsumexp_j(logits[r, j]) - logits[r, t] = (m - logits[r, t]) + log s,
///   with m = max_j logits[r, j], s = sum_j exp(logits[r, j] - m), and valid[r] = 1;
///   loss[r] = valid[r] = 0 when t == ignoreIndex.
/// (m, s) come from one online pass and a shared-memory tree as in <see cref="Softmax"/>;
/// the softmax itself is never written.
///
/// Launch: group (T, R), T threads per row (power of two), R rows per group; thread tx handles
/// columns tx, tx + T, ... (coalesced). Grid: ceil(rows / R). <see cref="Backward"/> runs the
/// same shape.
/// </summary>
public static class CrossEntropy
{
    /// <summary>The fused loss kernel.</summary>
    public static void Forward(ArrayView<float> logits, ArrayView<int> targets, ArrayView<float> loss,
        ArrayView<float> valid, int rows, int cols, int ignoreIndex)
    {
        var maxima = SharedMemory.Allocate<float>(GroupReduce.MaxGroupSize);
        var sums = SharedMemory.Allocate<float>(GroupReduce.MaxGroupSize);
        int lanes = Group.DimX;
        int lane = Group.IdxX;
        int row = Grid.IdxX * Group.DimY + Group.IdxY;
        bool active = row < rows;
        long start = (long)row * cols;
        int target = active ? targets[row] : ignoreIndex;

        float max = float.NegativeInfinity;
        float sum = 0f;
        if (target != ignoreIndex)
            for (int j = lane; j < cols; j += lanes)
                GroupReduce.AccumulateMaxSumExp(logits[start + j], ref max, ref sum);
        GroupReduce.MaxSumExp(maxima, sums, ref max, ref sum, lane, lanes, Group.IdxY * lanes, 1);

        if (!active || lane != 0)
            return;
        if (target == ignoreIndex)
        {
            loss[row] = 0f;
            valid[row] = 0f;
        }
        else
        {
            loss[row] = (max - logits[start + target]) + MathF.Log(sum);
            valid[row] = 1f;
        }
    }

    /// <summary>
    /// The gradient of the loss, per row r with target t:
    ///   dlogits[r, j] = dloss[r] * (exp(logits[r, j] - m) / s - [j == t]),
    /// (m, s) as in <see cref="Forward"/>; rows with t == ignoreIndex get 0.
    /// </summary>
    /// <remarks>
    /// Shapes: logits, dlogits [rows, cols]; targets (int32), dloss [rows]. Launch as
    /// <see cref="Forward"/>: group (T, R), T threads per row (power of two), R rows per group,
    /// thread tx handles columns tx, tx + T, ...; the online (max, sum) states meet in a
    /// shared-memory tree, then the whole row is written. Grid: ceil(rows / R).
    /// </remarks>
    public static void Backward(ArrayView<float> logits, ArrayView<int> targets, ArrayView<float> dloss,
        ArrayView<float> dlogits, int rows, int cols, int ignoreIndex)
    {
        var maxima = SharedMemory.Allocate<float>(GroupReduce.MaxGroupSize);
        var sums = SharedMemory.Allocate<float>(GroupReduce.MaxGroupSize);
        int lanes = Group.DimX;
        int lane = Group.IdxX;
        int row = Grid.IdxX * Group.DimY + Group.IdxY;
        bool active = row < rows;
        long start = (long)row * cols;
        int target = active ? targets[row] : ignoreIndex;

        float max = float.NegativeInfinity;
        float sum = 0f;
        if (target != ignoreIndex)
            for (int j = lane; j < cols; j += lanes)
                GroupReduce.AccumulateMaxSumExp(logits[start + j], ref max, ref sum);
        GroupReduce.MaxSumExp(maxima, sums, ref max, ref sum, lane, lanes, Group.IdxY * lanes, 1);

        if (!active)
            return;
        if (target == ignoreIndex)
        {
            for (int j = lane; j < cols; j += lanes)
                dlogits[start + j] = 0f;
        }
        else
        {
            float scale = dloss[row];
            for (int j = lane; j < cols; j += lanes)
            {
                float p = MathF.Exp(logits[start + j] - max) / sum;
                dlogits[start + j] = scale * (j == target ? p - 1f : p);
            }
        }
    }
}
