using Engine.Kernels;

namespace Engine.Backends;

/// <summary>
/// A block of backend memory of <see cref="Length"/> 4-byte elements (float32, or int32 stored
/// bit-for-bit). Storages come from the backend's caching pool and go back to it on release.
/// </summary>
public abstract class Storage
{
    /// <summary>Capacity in 4-byte elements (at least what was asked for).</summary>
    public abstract long Length { get; }
}

/// <summary>A position inside a storage, in elements.</summary>
public readonly record struct BufferView(Storage Storage, long Offset);

/// <summary>
/// What a compute backend does. The op layer (<c>F</c>) checks shapes and makes operands
/// contiguous where a method says so; a backend trusts its arguments. All sizes are in elements.
/// Methods may run asynchronously with respect to the host; <see cref="Download"/> and
/// <see cref="Synchronize"/> wait for queued work. Implementations are thread-safe.
/// </summary>
public interface IBackend : IDisposable
{
    /// <summary>Human-readable name, e.g. "Simd (AVX-512, 2 threads)".</summary>
    string Name { get; }

    /// <summary>Takes a storage of at least <paramref name="length"/> elements from the pool; contents undefined.</summary>
    Storage Allocate(long length);
    /// <summary>Returns a storage to the pool.</summary>
    void Release(Storage storage);
    /// <summary>Frees every pooled storage not in use.</summary>
    void TrimPool();
    /// <summary>Bytes held by the pool, in use or cached.</summary>
    long PooledBytes { get; }

    /// <summary>Copies host data into the storage at <paramref name="dst"/>.</summary>
    void Upload(ReadOnlySpan<float> src, BufferView dst);
    /// <summary>Copies <c>dst.Length</c> elements from the storage into host memory (waits for queued work).</summary>
    void Download(BufferView src, Span<float> dst);
    /// <summary>Sets <paramref name="count"/> elements to <paramref name="value"/>.</summary>
    void Fill(BufferView dst, long count, float value);
    /// <summary>Waits until all queued work is done.</summary>
    void Synchronize();

    /// <summary>y = op(x) over <paramref name="layout"/> (x strided by StridesA; y contiguous).</summary>
    void Unary(UnaryOp op, BufferView x, BufferView y, in ElementwiseLayout layout);
    /// <summary>y = a op b over <paramref name="layout"/> (a by StridesA, b by StridesB, 0 = broadcast; y contiguous).</summary>
    void Binary(BinaryOp op, BufferView a, BufferView b, BufferView y, in ElementwiseLayout layout);

    /// <summary>
    /// Batched matrix product, see <see cref="MatMulDesc"/>. <paramref name="bias"/> is read only when desc.HasBias.
    /// <paramref name="packedB"/>, when given, holds op(B) as <see cref="PackMatMulOperand"/> wrote it
    /// (B shared by the batch); the backend may read it instead of B, with the same result.
    /// </summary>
    void MatMul(in MatMulDesc desc, BufferView a, BufferView b, BufferView bias, BufferView c, BufferView? packedB = null);

    /// <summary>
    /// Elements that op(B) [K, N] takes packed for <see cref="MatMul"/>, or 0 when this backend
    /// reads its operands as they are and gains nothing from packing them beforehand.
    /// </summary>
    long PackedMatMulOperandLength(int k, int n);

    /// <summary>
    /// Packs op(B) [K, N] (B^T when <paramref name="transB"/>, rows <paramref name="ldb"/> apart) into
    /// <paramref name="packed"/> (<see cref="PackedMatMulOperandLength"/> elements), for products that reuse it.
    /// </summary>
    void PackMatMulOperand(BufferView b, int k, int n, bool transB, int ldb, BufferView packed);

    /// <summary>
    /// Reduces contiguous x viewed as [outer, n, inner] over the middle axis into y [outer, inner].
    /// ArgMax writes int32 indices.
    /// </summary>
    void Reduce(ReduceOp op, BufferView x, BufferView y, int outer, int n, int inner);

    /// <summary>Row-wise softmax (or log-softmax) of contiguous x [rows, cols]; -inf inputs allowed (a row of all -inf gives NaN, as torch).</summary>
    void Softmax(BufferView x, BufferView y, int rows, int cols, bool log);

    /// <summary>
    /// Layer norm over the last axis of contiguous x [rows, cols]: y = (x - mean) * rstd * gamma + beta,
    /// rstd = 1 / sqrt(var + eps) with the biased variance. Writes mean [rows] and rstd [rows] for the backward.
    /// gamma and beta [cols] are read only when the flags say so.
    /// </summary>
    void LayerNorm(BufferView x, BufferView gamma, BufferView beta, BufferView y, BufferView mean, BufferView rstd,
        int rows, int cols, float eps, bool hasGamma, bool hasBeta);

    /// <summary>Gathers rows: y[i, :] = table[ids[i], :] for int32 ids [n] already checked to be in [0, vocab).</summary>
    void Embedding(BufferView table, BufferView ids, BufferView y, int n, int dim);

    /// <summary>
    /// Fused log-softmax + negative log-likelihood per row of logits [rows, cols] with int32 targets [rows]:
    /// loss[r] = logsumexp(logits[r]) - logits[r, t] and valid[r] = 1, or loss[r] = valid[r] = 0 when t == ignoreIndex.
    /// Targets are already checked to be in [0, cols) or equal to ignoreIndex.
    /// </summary>
    void CrossEntropy(BufferView logits, BufferView targets, BufferView loss, BufferView valid, int rows, int cols, int ignoreIndex);
    // ---- gradients: each backward kernel overwrites its outputs (no accumulation, no atomics) ----

    /// <summary>
    /// dx = dy * f'(x) for f = <paramref name="op"/> over <paramref name="count"/> contiguous
    /// elements, with torch's conventions at the kinks: relu'(0) = 0, |x|'(0) = 0, sign' = 0.
    /// </summary>
    void UnaryBackward(UnaryOp op, BufferView x, BufferView dy, BufferView dx, long count);

    /// <summary>
    /// For y = a (op) b over <paramref name="layout"/> (a by StridesA, b by StridesB, as in
    /// <see cref="Binary"/>): da = dy * dy/da and db = dy * dy/db, each contiguous in the output
    /// shape like dy (the op layer sums over broadcast dimensions). Written only when asked for.
    /// Max/Min split a tie evenly; Pow masks as torch (da = 0 where b = 0; db = 0 where a = 0 and b >= 0).
    /// </summary>
    void BinaryBackward(BinaryOp op, BufferView a, BufferView b, BufferView dy, BufferView da, BufferView db,
        in ElementwiseLayout layout, bool needA, bool needB);

    /// <summary>
    /// dst = src over layout.Shape, src read through StridesA and dst written through StridesB:
    /// the one elementwise kernel with a strided output (slice gradients, writes into views).
    /// </summary>
    void Copy(BufferView src, BufferView dst, in ElementwiseLayout layout);

    /// <summary>
    /// The gradient of a max along an axis: dx [outer, n, inner] = dy[o, i] at j = index[o, i]
    /// (int32, from ArgMax) and 0 elsewhere.
    /// </summary>
    void ReduceMaxBackward(BufferView index, BufferView dy, BufferView dx, int outer, int n, int inner);

    /// <summary>
    /// Row-wise over [rows, cols], from the forward output y: softmax dx = y * (dy - sum_j dy_j y_j);
    /// log-softmax dx = dy - exp(y) * sum_j dy_j.
    /// </summary>
    void SoftmaxBackward(BufferView y, BufferView dy, BufferView dx, int rows, int cols, bool log);

    /// <summary>
    /// Layer norm backward over [rows, cols] from the saved mean and rstd [rows]: with
    /// xhat = (x - mean) * rstd and g = dy * gamma (dy without gamma),
    /// dx = rstd * (g - mean_c g - xhat * mean_c(g * xhat)); dgamma_c = sum_r dy * xhat and
    /// dbeta_c = sum_r dy, written when hasGamma / hasBeta, summed over rows in a fixed order.
    /// </summary>
    void LayerNormBackward(BufferView x, BufferView gamma, BufferView mean, BufferView rstd, BufferView dy,
        BufferView dx, BufferView dgamma, BufferView dbeta, int rows, int cols, bool hasGamma, bool hasBeta);

    /// <summary>
    /// Scatter-add of the embedding gather: dtable [vocab, dim] = sum of dy[i, :] over the positions
    /// i with ids[i] = v (rows no id selects are 0), positions added in increasing order.
    /// </summary>
    void EmbeddingBackward(BufferView ids, BufferView dy, BufferView dtable, int n, int dim, int vocab);

    /// <summary>
    /// dlogits[r, c] = dloss[r] * (softmax(logits[r])_c - [c = t_r]) for logits [rows, cols], int32
    /// targets and dloss [rows]; rows whose target is <paramref name="ignoreIndex"/> get 0.
    /// </summary>
    void CrossEntropyBackward(BufferView logits, BufferView targets, BufferView dloss, BufferView dlogits,
        int rows, int cols, int ignoreIndex);

    // ---- learned sparse representations (SPLADE) ----

    /// <summary>
    /// SPLADE pooling over lists of rows of contiguous logits [rows, vocab]: text b owns the rows
    /// rowIds[offsets[b] .. offsets[b + 1]) (int32 rowIds, int32 offsets [texts + 1], rows in the
    /// text's order; no row belongs to two texts). Writes w [texts, vocab] with
    /// w[b, j] = max over its rows r of log(1 + relu(logits[r, j])), and int32 argmax [texts, vocab]:
    /// the first of its rows where logits[r, j] reaches that maximum, or -1 where w[b, j] = 0 (no rows,
    /// or none positive). A NaN logit counts as the maximum, so it reaches w.
    /// </summary>
    void SpladePool(BufferView logits, BufferView rowIds, BufferView offsets, BufferView w, BufferView argmax, int texts, int vocab);

    /// <summary>
    /// The gradient of <see cref="SpladePool"/> over every row r of logits [rows, vocab], with int32
    /// rowText [rows] the text owning row r (-1 for rows no text owns, e.g. padding):
    /// dlogits[r, j] = dw[b, j] / (1 + logits[r, j]) where b = rowText[r] and argmax[b, j] = r, else 0.
    /// Every element of dlogits is written once (no fill needed, no atomics).
    /// </summary>
    void SpladePoolBackward(BufferView logits, BufferView rowText, BufferView argmax, BufferView dw, BufferView dlogits,
        long rows, int texts, int vocab);

    /// <summary>
    /// A sparsity regularizer of contiguous w [n, vocab]: means [vocab] = (1/n) sum_i |w_ij| (kept for the
    /// backward) and the scalar loss [1] = sum_j means_j^2 (<see cref="SparsityPenalty.Flops"/>) or
    /// sum_j means_j (<see cref="SparsityPenalty.L1"/>), every sum in a fixed order (bitwise reproducible).
    /// </summary>
    void SparsityRegularizer(SparsityPenalty penalty, BufferView w, BufferView means, BufferView loss, int n, int vocab);

    /// <summary>
    /// The gradient of <see cref="SparsityRegularizer"/> from the upstream scalar dloss [1] (read on the
    /// device): dw = dloss * 2 means_j sign(w_ij) / n (Flops) or dloss * sign(w_ij) / n (L1), sign(0) = 0.
    /// means is read only for Flops.
    /// </summary>
    void SparsityRegularizerBackward(SparsityPenalty penalty, BufferView w, BufferView means, BufferView dloss, BufferView dw,
        int n, int vocab);

    /// <summary>
    /// Sparse selection from contiguous w [rows, vocab], per row: the columns with |w| &gt; threshold
    /// (threshold &gt;= 0), of those at most <paramref name="capacity"/> with the largest |w| (ties to the lower
    /// column), written ascending into columns [rows, capacity] (int32) with their values into values
    /// [rows, capacity], and their number into counts [rows] (int32). A row holding a non-finite value
    /// gets counts = -1 - (its first such column) instead.
    /// </summary>
    void ToSparse(BufferView w, BufferView counts, BufferView columns, BufferView values, int rows, int vocab,
        float threshold, int capacity);

    /// <summary>One fused AdamW update of <paramref name="count"/> contiguous parameters in place; see <see cref="AdamWStep"/>.</summary>
    void AdamW(BufferView param, BufferView grad, BufferView m, BufferView v, long count, in AdamWStep step);

    // ---- fused attention (flash-style: memory linear in the sequence length) ----

    /// <summary>
    /// out = softmax(scores) v per (batch, query head), see <see cref="AttentionDesc"/>, computed
    /// block by block with an online softmax (running max and sum) so the [Tq, Tk] score matrix
    /// is never stored; also writes lse_i = log sum_j exp(s_ij) for the backward. mask is read
    /// only when desc.HasMask.
    /// </summary>
    void AttentionForward(in AttentionDesc desc, BufferView q, BufferView k, BufferView v, BufferView mask,
        BufferView output, BufferView lse);

    /// <summary>
    /// Gradients of <see cref="AttentionForward"/> from dout, recomputing p_ij = exp(s_ij - lse_i)
    /// block by block: with D_i = sum_d dout_id out_id and ds_ij = p_ij (dout_i . v_j - D_i),
    /// dq_i = Scale sum_j ds_ij k_j, dk_j = Scale sum_i ds_ij q_i, dv_j = sum_i p_ij dout_i; dk and dv
    /// sum over the query heads sharing a kv head. Overwrites dq, dk, dv; deterministic (no atomics).
    /// </summary>
    void AttentionBackward(in AttentionDesc desc, BufferView q, BufferView k, BufferView v, BufferView mask,
        BufferView output, BufferView lse, BufferView dout, BufferView dq, BufferView dk, BufferView dv);
}
