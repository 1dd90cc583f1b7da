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
/// columns tx, tx + T, ... (coalesced). Grid: ceil(rows / R).
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
}
