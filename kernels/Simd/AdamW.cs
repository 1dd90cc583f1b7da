using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Engine.Kernels.Simd;

// One fused AdamW step over count contiguous parameters, in place (param, m and v [count],
// grad [count] read only), per element in the order of AdamWStep, which reproduces torch's
// rounding (no fused multiply-adds; a true division and square root):
//   g = grad * GradScale
//   p = p * Decay
//   m = m + FirstMomentWeight * (g - m)
//   v = v * Beta2 + (SecondMomentWeight * g) * g
//   p = p - (StepSize * m) / (sqrt(v) / BiasCorrection2Sqrt + Eps)
// Each element is read and written once: 16 bytes in, 12 out, so the step is
// bound by memory bandwidth. Blocks of BlockElements are the unit of parallel work.
public static unsafe class AdamW
{
    /// <summary>Parameters per unit of parallel work.</summary>
    private const int BlockElements = 16384;

    public static void Step(float* param, float* grad, float* m, float* v, long count, in AdamWStep step)
    {
        int blocks = (int)((count + BlockElements - 1) / BlockElements);
        if (SimdWidth.Use512) Parallelism.ForRows(blocks, BlockElements, new Blocks<Vector512Float>(param, grad, m, v, count, step));
        else if (Vector256.IsHardwareAccelerated) Parallelism.ForRows(blocks, BlockElements, new Blocks<Vector256Float>(param, grad, m, v, count, step));
        else Parallelism.ForRows(blocks, BlockElements, new Blocks<Vector128Float>(param, grad, m, v, count, step));
    }

    private readonly struct Blocks<V> : IRowKernel where V : unmanaged, IFloatVector<V>
    {
        private readonly float* _param, _grad, _m, _v;
        private readonly long _count;
        private readonly float _gradScale, _decay, _momentumWeight, _beta2, _varianceWeight, _stepSize, _biasCorrection2Sqrt, _eps;

        public Blocks(float* param, float* grad, float* m, float* v, long count, in AdamWStep step)
        {
            _param = param;
            _grad = grad;
            _m = m;
            _v = v;
            _count = count;
            _gradScale = step.GradScale;
            _decay = step.Decay;
            _momentumWeight = step.FirstMomentWeight;
            _beta2 = step.Beta2;
            _varianceWeight = step.SecondMomentWeight;
            _stepSize = step.StepSize;
            _biasCorrection2Sqrt = step.BiasCorrection2Sqrt;
            _eps = step.Eps;
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int start, int end)
        {
            V gradScale = V.Splat(_gradScale), decay = V.Splat(_decay), momentumWeight = V.Splat(_momentumWeight), beta2 = V.Splat(_beta2);
            V varianceWeight = V.Splat(_varianceWeight), stepSize = V.Splat(_stepSize), biasCorrection2Sqrt = V.Splat(_biasCorrection2Sqrt), eps = V.Splat(_eps);
            long last = Math.Min((long)end * BlockElements, _count);
            int w = V.Count;
            for (long i = (long)start * BlockElements; i < last; i += w)
            {
                int lanes = (int)Math.Min(w, last - i);
                V g = Read(_grad + i, lanes) * gradScale;
                V p = Read(_param + i, lanes) * decay;
                V m = Read(_m + i, lanes);
                m += momentumWeight * (g - m);
                V v = Read(_v + i, lanes) * beta2 + varianceWeight * g * g;
                p -= stepSize * m / (V.Sqrt(v) / biasCorrection2Sqrt + eps);
                Write(p, _param + i, lanes);
                Write(m, _m + i, lanes);
                Write(v, _v + i, lanes);
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static V Read(float* source, int lanes) => lanes == V.Count ? V.Load(source) : Lanes.LoadPartial<V>(source, lanes, 0f);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void Write(V value, float* destination, int lanes)
        {
            if (lanes == V.Count) V.Store(value, destination);
            else Lanes.StorePartial(value, destination, lanes);
        }
    }
}
