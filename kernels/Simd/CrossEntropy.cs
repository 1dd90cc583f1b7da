using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Engine.Kernels.Simd;

// Fused log-softmax + negative log-likelihood per row of logits [rows, cols], int32 targets [rows]:
//   loss[r]  = logsumexp(logits[r, :]) - logits[r, t] = (m - logits[r, t]) + log s,  t = targets[r]
//   valid[r] = 1
// with m = max_j logits[r, j] and s = sum_j exp(logits[r, j] - m) walked as in Softmax
// (Softmax.MaxAndSum). Rows whose target is ignoreIndex get loss = valid = 0 and are not read.
public static unsafe class CrossEntropy
{
    public static void Forward(float* logits, int* targets, float* loss, float* valid, int rows, int cols, int ignoreIndex)
    {
        if (SimdWidth.Use512) Parallelism.ForRows(rows, cols, new Rows<Vector512Float>(logits, targets, loss, valid, cols, ignoreIndex));
        else if (Vector256.IsHardwareAccelerated) Parallelism.ForRows(rows, cols, new Rows<Vector256Float>(logits, targets, loss, valid, cols, ignoreIndex));
        else Parallelism.ForRows(rows, cols, new Rows<Vector128Float>(logits, targets, loss, valid, cols, ignoreIndex));
    }

    private readonly struct Rows<V>(float* logits, int* targets, float* loss, float* valid, int cols, int ignoreIndex) : IRowKernel
        where V : unmanaged, IFloatVector<V>
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int start, int end)
        {
            for (int r = start; r < end; r++)
            {
                int target = targets[r];
                if (target == ignoreIndex)
                {
                    loss[r] = 0f;
                    valid[r] = 0f;
                    continue;
                }
                float* row = logits + (long)r * cols;
                Softmax.MaxAndSum<V>(row, cols, out float max, out float sum);
                loss[r] = (max - row[target]) + MathF.Log(sum);
                valid[r] = 1f;
            }
        }
    }

    // Gradient, row-wise over logits [rows, cols] with int32 targets and dloss [rows]:
    //   dlogits[r, c] = dloss[r] * (softmax(logits[r, :])_c - [c == t]),   t = targets[r]
    // and 0 for the whole row when t == ignoreIndex. The row is dloss[r] * softmax, written by
    // the walks of the softmax forward (Softmax.ScaledRow: one exponential per element), then
    // dloss[r] is taken off at the target; rows in parallel.
    public static void Backward(float* logits, int* targets, float* dloss, float* dlogits, int rows, int cols, int ignoreIndex)
    {
        if (SimdWidth.Use512) Parallelism.ForRows(rows, cols, new GradientRows<Vector512Float>(logits, targets, dloss, dlogits, cols, ignoreIndex));
        else if (Vector256.IsHardwareAccelerated) Parallelism.ForRows(rows, cols, new GradientRows<Vector256Float>(logits, targets, dloss, dlogits, cols, ignoreIndex));
        else Parallelism.ForRows(rows, cols, new GradientRows<Vector128Float>(logits, targets, dloss, dlogits, cols, ignoreIndex));
    }

    private readonly struct GradientRows<V>(float* logits, int* targets, float* dloss, float* dlogits, int cols, int ignoreIndex) : IRowKernel
        where V : unmanaged, IFloatVector<V>
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int start, int end)
        {
            for (int r = start; r < end; r++)
            {
                int target = targets[r];
                float* destination = dlogits + (long)r * cols;
                if (target == ignoreIndex)
                {
                    new Span<float>(destination, cols).Clear();
                    continue;
                }
                Softmax.ScaledRow<V>(logits + (long)r * cols, destination, cols, dloss[r]);
                destination[target] -= dloss[r];
            }
        }
    }
}
