using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Engine.Kernels;
using Engine.Kernels.Simd;

namespace Engine.Backends;

/// <summary>Host memory for the SIMD backend: 64-byte aligned native memory.</summary>
internal sealed unsafe class HostStorage : Storage
{
    public readonly float* Pointer;
    private readonly long _length;

    public HostStorage(long length)
    {
        _length = length;
        Pointer = (float*)NativeMemory.AlignedAlloc((nuint)(length * sizeof(float)), 64);
    }

    public override long Length => _length;

    public void Free() => NativeMemory.AlignedFree(Pointer);
}

/// <summary>
/// The CPU backend: kernels written with System.Runtime.Intrinsics (Vector512 where the CPU has
/// AVX-512, Vector256 otherwise) and Parallel.For over the cores. Work runs synchronously.
/// </summary>
public sealed unsafe class SimdBackend : IBackend
{
    private readonly SizeClassPool<HostStorage> _pool = new(length => new HostStorage(length), s => s.Free());

    /// <inheritdoc />
    public string Name =>
        $"Simd ({(SimdWidth.Use512 ? "Vector512" : Vector256.IsHardwareAccelerated ? "Vector256" : "scalar")}, {Environment.ProcessorCount} threads)";

    private static float* P(BufferView v) => ((HostStorage)v.Storage).Pointer + v.Offset;

    /// <inheritdoc />
    public Storage Allocate(long length) => _pool.Rent(length);
    /// <inheritdoc />
    public void Release(Storage storage) => _pool.Return((HostStorage)storage);
    /// <inheritdoc />
    public void TrimPool() => _pool.Trim();
    /// <inheritdoc />
    public long PooledBytes => _pool.Bytes;

    /// <inheritdoc />
    public void Upload(ReadOnlySpan<float> src, BufferView dst) => src.CopyTo(new Span<float>(P(dst), src.Length));
    /// <inheritdoc />
    public void Download(BufferView src, Span<float> dst) => new ReadOnlySpan<float>(P(src), dst.Length).CopyTo(dst);

    /// <inheritdoc />
    public void Fill(BufferView dst, long count, float value)
    {
        float* p = P(dst);
        for (long start = 0; start < count; start += int.MaxValue)
            new Span<float>(p + start, (int)Math.Min(int.MaxValue, count - start)).Fill(value);
    }

    /// <inheritdoc />
    public void Synchronize() { }

    /// <inheritdoc />
    public void Unary(UnaryOp op, BufferView x, BufferView y, in ElementwiseLayout layout) =>
        Elementwise.Unary(op, P(x), P(y), layout);

    /// <inheritdoc />
    public void Binary(BinaryOp op, BufferView a, BufferView b, BufferView y, in ElementwiseLayout layout) =>
        Elementwise.Binary(op, P(a), P(b), P(y), layout);

    /// <inheritdoc />
    public void MatMul(in MatMulDesc desc, BufferView a, BufferView b, BufferView bias, BufferView c, BufferView? packedB = null) =>
        Matmul.Forward(desc, P(a), P(b), desc.HasBias ? P(bias) : null, P(c), packedB is { } packed ? P(packed) : null);

    /// <inheritdoc />
    public long PackedMatMulOperandLength(int k, int n) => Matmul.PackedRightLength(k, n);

    /// <inheritdoc />
    public void PackMatMulOperand(BufferView b, int k, int n, bool transB, int ldb, BufferView packed) =>
        Matmul.PackRight(P(b), k, n, transB, ldb, P(packed));

    /// <inheritdoc />
    public void Reduce(ReduceOp op, BufferView x, BufferView y, int outer, int n, int inner) =>
        Kernels.Simd.Reduction.Forward(op, P(x), P(y), outer, n, inner);

    /// <inheritdoc />
    public void Softmax(BufferView x, BufferView y, int rows, int cols, bool log) =>
        Kernels.Simd.Softmax.Forward(P(x), P(y), rows, cols, log);

    /// <inheritdoc />
    public void LayerNorm(BufferView x, BufferView gamma, BufferView beta, BufferView y, BufferView mean, BufferView rstd,
        int rows, int cols, float eps, bool hasGamma, bool hasBeta) =>
        Kernels.Simd.LayerNorm.Forward(P(x), hasGamma ? P(gamma) : null, hasBeta ? P(beta) : null, P(y), P(mean), P(rstd), rows, cols, eps);

    /// <inheritdoc />
    public void Embedding(BufferView table, BufferView ids, BufferView y, int n, int dim) =>
        Kernels.Simd.Embedding.Forward(P(table), (int*)P(ids), P(y), n, dim);

    /// <inheritdoc />
    public void CrossEntropy(BufferView logits, BufferView targets, BufferView loss, BufferView valid, int rows, int cols, int ignoreIndex) =>
        Kernels.Simd.CrossEntropy.Forward(P(logits), (int*)P(targets), P(loss), P(valid), rows, cols, ignoreIndex);

    /// <inheritdoc />
    public void UnaryBackward(UnaryOp op, BufferView x, BufferView dy, BufferView dx, long count) =>
        Elementwise.UnaryBackward(op, P(x), P(dy), P(dx), count);

    /// <inheritdoc />
    public void BinaryBackward(BinaryOp op, BufferView a, BufferView b, BufferView dy, BufferView da, BufferView db,
        in ElementwiseLayout layout, bool needA, bool needB) =>
        Elementwise.BinaryBackward(op, P(a), P(b), P(dy), needA ? P(da) : null, needB ? P(db) : null, layout);

    /// <inheritdoc />
    public void Copy(BufferView src, BufferView dst, in ElementwiseLayout layout) =>
        Elementwise.Copy(P(src), P(dst), layout);

    /// <inheritdoc />
    public void ReduceMaxBackward(BufferView index, BufferView dy, BufferView dx, int outer, int n, int inner) =>
        Kernels.Simd.Reduction.MaxBackward((int*)P(index), P(dy), P(dx), outer, n, inner);

    /// <inheritdoc />
    public void SoftmaxBackward(BufferView y, BufferView dy, BufferView dx, int rows, int cols, bool log) =>
        Kernels.Simd.Softmax.Backward(P(y), P(dy), P(dx), rows, cols, log);

    /// <inheritdoc />
    public void LayerNormBackward(BufferView x, BufferView gamma, BufferView mean, BufferView rstd, BufferView dy,
        BufferView dx, BufferView dgamma, BufferView dbeta, int rows, int cols, bool hasGamma, bool hasBeta) =>
        Kernels.Simd.LayerNorm.Backward(P(x), hasGamma ? P(gamma) : null, P(mean), P(rstd), P(dy), P(dx),
            hasGamma ? P(dgamma) : null, hasBeta ? P(dbeta) : null, rows, cols);

    /// <inheritdoc />
    public void EmbeddingBackward(BufferView ids, BufferView dy, BufferView dtable, int n, int dim, int vocab) =>
        Kernels.Simd.Embedding.Backward((int*)P(ids), P(dy), P(dtable), n, dim, vocab);

    /// <inheritdoc />
    public void CrossEntropyBackward(BufferView logits, BufferView targets, BufferView dloss, BufferView dlogits,
        int rows, int cols, int ignoreIndex) =>
        Kernels.Simd.CrossEntropy.Backward(P(logits), (int*)P(targets), P(dloss), P(dlogits), rows, cols, ignoreIndex);

    /// <inheritdoc />
    public void SpladePool(BufferView logits, BufferView rowIds, BufferView offsets, BufferView w, BufferView argmax, int texts, int vocab) =>
        Kernels.Simd.SpladePool.Forward(P(logits), (int*)P(rowIds), (int*)P(offsets), P(w), (int*)P(argmax), texts, vocab);

    /// <inheritdoc />
    public void SpladePoolBackward(BufferView logits, BufferView rowText, BufferView argmax, BufferView dw, BufferView dlogits,
        long rows, int texts, int vocab)
    {
        if (rows > int.MaxValue)
            throw new NotSupportedException($"SpladePoolBackward over {rows} rows exceeds the int32 row count of {Name}.");
        Kernels.Simd.SpladePool.Backward(P(logits), (int*)P(rowText), (int*)P(argmax), P(dw), P(dlogits), (int)rows, vocab);
    }

    /// <inheritdoc />
    public void SparsityRegularizer(SparsityPenalty penalty, BufferView w, BufferView means, BufferView loss, int n, int vocab) =>
        Kernels.Simd.FlopsRegularizer.Forward(penalty, P(w), P(means), P(loss), n, vocab);

    /// <inheritdoc />
    public void SparsityRegularizerBackward(SparsityPenalty penalty, BufferView w, BufferView means, BufferView dloss, BufferView dw,
        int n, int vocab) =>
        Kernels.Simd.FlopsRegularizer.Backward(penalty, P(w), P(means), P(dloss), P(dw), n, vocab);

    /// <inheritdoc />
    public void ToSparse(BufferView w, BufferView counts, BufferView columns, BufferView values, int rows, int vocab,
        float threshold, int capacity) =>
        Kernels.Simd.ToSparse.Select(P(w), (int*)P(counts), (int*)P(columns), P(values), rows, vocab, threshold, capacity);

    /// <inheritdoc />
    public void AdamW(BufferView param, BufferView grad, BufferView m, BufferView v, long count, in AdamWStep step) =>
        Kernels.Simd.AdamW.Step(P(param), P(grad), P(m), P(v), count, step);

    /// <inheritdoc />
    public void AttentionForward(in AttentionDesc desc, BufferView q, BufferView k, BufferView v, BufferView mask,
        BufferView output, BufferView lse) =>
        Kernels.Simd.Attention.Forward(desc, P(q), P(k), P(v), desc.HasMask != 0 ? P(mask) : null, P(output), P(lse));

    /// <inheritdoc />
    public void AttentionBackward(in AttentionDesc desc, BufferView q, BufferView k, BufferView v, BufferView mask,
        BufferView output, BufferView lse, BufferView dout, BufferView dq, BufferView dk, BufferView dv) =>
        Kernels.Simd.Attention.Backward(desc, P(q), P(k), P(v), desc.HasMask != 0 ? P(mask) : null, P(output), P(lse),
            P(dout), P(dq), P(dk), P(dv));

    /// <summary>Frees all pooled memory.</summary>
    public void Dispose() => _pool.Dispose();
}
