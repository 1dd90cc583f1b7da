using Engine.Backends;
using Engine.Kernels;

namespace Engine.GpuCheck;

/// <summary>
/// Checks of the matmul kernel and of attention composed from it. Square products up to 8192^3,
/// ragged edges, the three products of a linear layer (forward with bias, weight gradient with
/// A transposed), the batched products of attention, and accumulation. Up to 2048 (and for every
/// product the SIMD backend finishes in seconds) the whole output is compared; 4096^3 and 8192^3
/// are compared on one row in every 64 (a different row of each 64-row tile) so the reference
/// stays a few GFLOP on the host.
/// </summary>
internal static class MatmulCases
{
    /// <summary>Rows per sampled block of a large product: the kernel's tile height, so every row tile is checked.</summary>
    private const int SampleStep = 64;

    public static IEnumerable<KernelCase> Create(bool gpu)
    {
        if (gpu)
        {
            yield return MatMul(1, 512, 512, 512);
            yield return MatMul(1, 2048, 2048, 2048);
            yield return MatMul(1, 4096, 4096, 4096, sampled: true);
            yield return MatMul(1, 8192, 8192, 8192, sampled: true);
            yield return MatMul(1, 1023, 1025, 1027);
            yield return MatMul(1, 8192, 3072, 768, transB: true, bias: true, note: "linear forward x W^T + b (GPT-2 MLP)");
            yield return MatMul(1, 768, 3072, 8192, transA: true, note: "linear weight gradient x^T dy");
            yield return MatMul(96, 1024, 1024, 64, transB: true, alpha: 0.125f, note: "attention scores Q K^T / sqrt(d), 8 x 12 heads");
            yield return MatMul(96, 1024, 64, 1024, note: "attention output P V, 8 x 12 heads");
            yield return MatMul(1, 1024, 1024, 1024, accumulate: true, alpha: 0.5f, note: "C += 0.5 A B");
            yield return Attention(1, 16, 4096, 64);
            yield return Attention(8, 12, 1024, 64);
            yield return FusedAttention(8, 12, 1024, 64, backward: false);
            yield return FusedAttention(8, 12, 1024, 64, backward: true);
            yield return FusedAttention(1, 16, 4096, 64, backward: false);
        }
        else
        {
            yield return MatMul(1, 16, 16, 16);
            yield return MatMul(1, 40, 40, 40, sampled: true, sampleStep: 8);
            yield return MatMul(1, 33, 17, 40);
            yield return MatMul(1, 37, 40, 24, transB: true, bias: true, note: "linear forward x W^T + b");
            yield return MatMul(1, 31, 23, 29, transA: true, note: "linear weight gradient x^T dy");
            yield return MatMul(3, 19, 21, 13, transB: true, alpha: 0.25f, note: "batched scores");
            yield return MatMul(1, 24, 24, 24, accumulate: true, alpha: 0.5f, note: "C += 0.5 A B");
            yield return Attention(1, 2, 24, 16);
            yield return Attention(2, 1, 33, 8);
            yield return FusedAttention(2, 2, 33, 16, backward: false);
            yield return FusedAttention(2, 2, 33, 16, backward: true);
        }
    }

    private static KernelCase MatMul(int batch, int m, int n, int k, bool transA = false, bool transB = false,
        bool bias = false, float alpha = 1f, bool accumulate = false, bool sampled = false, int sampleStep = SampleStep,
        string note = "")
    {
        var desc = new MatMulDesc
        {
            Batch = batch, M = m, N = n, K = k, TransA = transA, TransB = transB,
            Lda = transA ? m : k, Ldb = transB ? k : n,
            BatchStrideA = batch > 1 ? (long)m * k : 0, BatchStrideB = batch > 1 ? (long)k * n : 0,
            Alpha = alpha, HasBias = bias, Accumulate = accumulate,
        };
        long outputs = (long)batch * m * n;
        Action<IBackend, float[][], BufferView[]>? prepare = accumulate
            ? (backend, inputs, outs) => backend.Upload(inputs[3], outs[0])
            : null;
        string shape = (batch > 1 ? $"{batch} x " : "") + Matrix(transA ? (k, m) : (m, k), transA) + " @ " +
            Matrix(transB ? (n, k) : (k, n), transB) + (bias ? " + bias" : "");
        return new KernelCase
        {
            Op = "matmul",
            Shape = shape,
            CreateInputs = () =>
            [
                HostData.Uniform((long)batch * m * k, 101, -1f, 1f),
                HostData.Uniform((long)batch * k * n, 102, -1f, 1f),
                HostData.Uniform(n, 103, -1f, 1f),
                accumulate ? HostData.Uniform(outputs, 104, -1f, 1f) : [],
            ],
            Outputs = [new("c", outputs)],
            Launch = (backend, inputs, outs) => backend.MatMul(desc, inputs[0], inputs[1], inputs[2], outs[0]),
            Prepare = prepare,
            Tolerance = Tolerance.Matmul,
            Unit = RateUnit.GflopPerSecond,
            Work = desc.Flops,
            Sample = sampled ? SampledRows(desc, sampleStep) : null,
            Sgemm = batch == 1 ? new SgemmShape(m, n, k, transA, transB) : null,
            Torch = new TorchSpec("matmul", new Dictionary<string, object>
            {
                ["batch"] = batch, ["m"] = m, ["n"] = n, ["k"] = k, ["trans_a"] = transA, ["trans_b"] = transB,
                ["bias"] = bias, ["alpha"] = alpha, ["accumulate"] = accumulate,
            }),
            Note = note,
        };
    }

    private static string Matrix((int Rows, int Cols) dims, bool transposed) => $"[{dims.Rows}x{dims.Cols}]" + (transposed ? "^T" : "");

    /// <summary>
    /// The reference for rows r_t = t * step + (37 t mod step) of a single product with A not
    /// transposed: those rows of A times B on the SIMD backend, against the same rows of C.
    /// </summary>
    private static SampledReference SampledRows(MatMulDesc desc, int step)
    {
        if (desc.Batch != 1 || desc.TransA || desc.Accumulate)
            throw new ArgumentException("Row sampling covers single products with A not transposed and no accumulation.");
        int[] rows = Enumerable.Range(0, (desc.M + step - 1) / step)
            .Select(t => Math.Min(desc.M - 1, t * step + 37 * t % step))
            .ToArray();
        int m = desc.M, n = desc.N, k = desc.K;
        var sampleDesc = desc with { M = rows.Length };
        return new SampledReference(
            $"{rows.Length} of {m} rows",
            (reference, inputs) =>
            {
                var a = new float[(long)rows.Length * k];
                for (int i = 0; i < rows.Length; i++)
                    Array.Copy(inputs[0], (long)rows[i] * k, a, (long)i * k, k);
                return BackendRun.Evaluate(reference, [a, inputs[1], inputs[2]], [new OutputSpec("c", (long)rows.Length * n)],
                    (backend, ins, outs) => backend.MatMul(sampleDesc, ins[0], ins[1], ins[2], outs[0]));
            },
            outputs =>
            {
                var c = new float[(long)rows.Length * n];
                for (int i = 0; i < rows.Length; i++)
                    Array.Copy(outputs[0], (long)rows[i] * n, c, (long)i * n, n);
                return [c];
            });
    }

    /// <summary>
    /// Causal attention composed from the kernels we have, as a model runs it until a fused
    /// F.ScaledDotProductAttention exists: S = Q K^T / sqrt(d) (batched matmul, K transposed),
    /// S + mask (broadcast add of a [T, T] matrix of 0 and -inf), P = softmax(S), O = P V.
    /// Q, K, V, O are [B, H, T, D]; S and P [B, H, T, T] live in device memory. The rate counts the
    /// two products in full (4 B H T^2 D), as if the causal half were not skipped.
    /// </summary>
    private static KernelCase Attention(int batch, int heads, int t, int d)
    {
        int bh = batch * heads;
        long qkv = (long)bh * t * d;
        long scores = (long)bh * t * t;
        var scoresDesc = new MatMulDesc
        {
            Batch = bh, M = t, N = t, K = d, TransB = true, Lda = d, Ldb = d,
            BatchStrideA = (long)t * d, BatchStrideB = (long)t * d, Alpha = 1f / MathF.Sqrt(d),
        };
        var outputDesc = new MatMulDesc
        {
            Batch = bh, M = t, N = d, K = t, Lda = t, Ldb = d,
            BatchStrideA = (long)t * t, BatchStrideB = (long)t * d, Alpha = 1f,
        };
        var maskLayout = new ElementwiseLayout { Rank = 2 };
        maskLayout.Shape.Set(0, bh);
        maskLayout.Shape.Set(1, t * t);
        maskLayout.StridesA.Set(0, t * t);
        maskLayout.StridesA.Set(1, 1);
        maskLayout.StridesB.Set(0, 0);
        maskLayout.StridesB.Set(1, 1);
        return new KernelCase
        {
            Op = "attention (composed)",
            Shape = $"[{batch}x{heads}x{t}x{d}] causal",
            CreateInputs = () =>
            [
                HostData.Uniform(qkv, 111, -1f, 1f), HostData.Uniform(qkv, 112, -1f, 1f), HostData.Uniform(qkv, 113, -1f, 1f),
                CausalMask(t),
            ],
            Outputs = [new("scores", scores, OutputKind.Scratch), new("masked", scores, OutputKind.Scratch), new("o", qkv)],
            Launch = (backend, inputs, outputs) =>
            {
                backend.MatMul(scoresDesc, inputs[0], inputs[1], inputs[0], outputs[0]);
                backend.Binary(BinaryOp.Add, outputs[0], inputs[3], outputs[1], maskLayout);
                backend.Softmax(outputs[1], outputs[0], bh * t, t, log: false);
                backend.MatMul(outputDesc, outputs[0], inputs[2], inputs[2], outputs[2]);
            },
            Tolerance = Tolerance.Matmul,
            Unit = RateUnit.GflopPerSecond,
            Work = 4.0 * bh * t * (double)t * d,
            Torch = new TorchSpec("attention", new Dictionary<string, object>
            {
                ["batch"] = batch, ["heads"] = heads, ["t"] = t, ["d"] = d, ["causal"] = true,
            }),
            Note = "QK^T, mask add, softmax, PV; scores materialised",
        };
    }

    private static float[] CausalMask(int t)
    {
        var mask = new float[(long)t * t];
        for (int row = 0; row < t; row++)
            Array.Fill(mask, float.NegativeInfinity, row * t + row + 1, t - row - 1);
        return mask;
    }

    /// <summary>
    /// The fused causal attention (IBackend.AttentionForward, and with <paramref name="backward"/>
    /// the forward followed by AttentionBackward for dout = a fixed random tensor): Q, K, V, O, dQ,
    /// dK, dV [B, H, T, D], lse [B, H, T]; no [T, T] matrix exists. The rate counts the causal half
    /// of the products: 2 B H T^2 D forward, 5 B H T^2 D more for the backward.
    /// </summary>
    private static KernelCase FusedAttention(int batch, int heads, int t, int d, bool backward)
    {
        long qkv = (long)batch * heads * t * d;
        long rows = (long)batch * heads * t;
        var desc = new AttentionDesc
        {
            Batch = batch, QueryHeads = heads, KvHeads = heads, QueryLength = t, KeyLength = t, HeadSize = d,
            Scale = 1f / MathF.Sqrt(d), Causal = 1,
        };
        double forwardFlops = 2.0 * batch * heads * t * (double)t * d;
        OutputSpec[] outputs = backward
            ? [new("o", qkv, OutputKind.Scratch), new("lse", rows, OutputKind.Scratch), new("dq", qkv), new("dk", qkv), new("dv", qkv)]
            : [new("o", qkv), new("lse", rows)];
        return new KernelCase
        {
            Op = backward ? "attention (fused) fwd+bwd" : "attention (fused)",
            Shape = $"[{batch}x{heads}x{t}x{d}] causal",
            CreateInputs = () =>
            [
                HostData.Uniform(qkv, 121, -1f, 1f), HostData.Uniform(qkv, 122, -1f, 1f), HostData.Uniform(qkv, 123, -1f, 1f),
                HostData.Uniform(qkv, 124, -1f, 1f),
            ],
            Outputs = outputs,
            Launch = (backend, inputs, outs) =>
            {
                backend.AttentionForward(desc, inputs[0], inputs[1], inputs[2], inputs[0], outs[0], outs[1]);
                if (backward)
                    backend.AttentionBackward(desc, inputs[0], inputs[1], inputs[2], inputs[0], outs[0], outs[1], inputs[3], outs[2], outs[3], outs[4]);
            },
            Tolerance = Tolerance.Matmul,
            Unit = RateUnit.GflopPerSecond,
            Work = backward ? 3.5 * forwardFlops : forwardFlops,
            Torch = new TorchSpec(backward ? "sdpa_backward" : "sdpa", new Dictionary<string, object>
            {
                ["batch"] = batch, ["heads"] = heads, ["t"] = t, ["d"] = d, ["causal"] = true,
            }),
            Note = backward ? "flash-style: forward, then dq, dk, dv recomputed from the log-sum-exp" : "flash-style: online softmax, no scores stored",
        };
    }
}
