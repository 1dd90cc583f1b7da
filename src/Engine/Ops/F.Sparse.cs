namespace Engine;

// The ops of learned sparse representations (SPLADE with the FLOPs regularizer of Paria et al.
// 2020), composed from kernels that exist on every backend, so their gradients are the tape's:
//   SpladePool:        logits [B, T, V], mask [B, T] (1 token, 0 padding)
//                      w_bj = max over tokens t with mask_bt = 1 of log(1 + relu(logit_btj))     -> [B, V]
//                      (padding contributes 0, the floor of log(1 + relu)); the gradient goes to the
//                      first maximising token, as torch's max(dim) sends it.
//                      Packed form: token logits [R, V] of B texts stored one after another, text b
//                      owning lengths[b] consecutive rows (no padding rows at all).
//   FlopsRegularizer:  w [N, V] -> sum_j (mean_i |w_ij|)^2, gradient 2 mean_j sign(w_ij) / N
//   L1Regularizer:     w [N, V] -> mean_i sum_j |w_ij|
public static partial class F
{
    /// <summary>SPLADE pooling: the max over non-padding tokens of log(1 + relu(logits)), [B, T, V] -> [B, V].</summary>
    public static Tensor SpladePool(Tensor logits, Tensor mask)
    {
        const string op = "SpladePool";
        Checks.Float(op, logits, "logits");
        if (logits.Rank != 3 || mask.Rank != 2 || mask.Size(0) != logits.Size(0) || mask.Size(1) != logits.Size(1))
            throw new ArgumentException($"{op}: logits {ShapeMath.Format(logits.Shape)} must be [B, T, V] and the mask {ShapeMath.Format(mask.Shape)} [B, T].");
        using var scope = logits.Device.Scope();
        var keep = mask.DType == DType.Int32
            ? Tensor.FromArray(mask.Device, mask.ToInt32Array().Select(m => m != 0 ? 1f : 0f).ToArray(), mask.Shape)
            : mask;
        var activations = Log1p(Relu(logits)) * keep.Unsqueeze(-1);
        return scope.Keep(Max(activations, 1));
    }

    /// <summary>
    /// SPLADE pooling over packed token rows: <paramref name="tokenLogits"/> [R, V] holds the tokens of
    /// B texts one after another, text b owning <paramref name="lengths"/>[b] consecutive rows
    /// (R = sum of the lengths, each at least 1); returns w [B, V].
    /// </summary>
    public static Tensor SpladePool(Tensor tokenLogits, IReadOnlyList<int> lengths)
    {
        const string op = "SpladePool";
        Checks.Float(op, tokenLogits, "token logits");
        long rows = lengths.Sum(l => (long)l);
        if (tokenLogits.Rank != 2 || lengths.Count == 0 || lengths.Any(l => l < 1) || rows != tokenLogits.Size(0))
            throw new ArgumentException($"{op}: token logits {ShapeMath.Format(tokenLogits.Shape)} must be [R, V] with R = the sum of {lengths.Count} text lengths, each at least 1 (they sum to {rows}).");
        using var scope = tokenLogits.Device.Scope();
        int texts = lengths.Count, longest = lengths.Max();
        var rowOf = new int[texts * longest];
        var mask = new int[texts * longest];
        for (int b = 0, start = 0; b < texts; start += lengths[b], b++)
            for (int t = 0; t < lengths[b]; t++)
            {
                rowOf[b * longest + t] = start + t;
                mask[b * longest + t] = 1;
            }
        var padded = Embedding(tokenLogits, Tensor.FromArray(tokenLogits.Device, rowOf, [texts, longest]));
        return scope.Keep(SpladePool(padded, Tensor.FromArray(tokenLogits.Device, mask, [texts, longest])));
    }

    /// <summary>The FLOPs regularizer of a batch of vectors w [N, V]: sum over j of (mean over i of |w_ij|) squared.</summary>
    public static Tensor FlopsRegularizer(Tensor w)
    {
        if (w.Rank != 2) throw new ArgumentException($"FlopsRegularizer: w {ShapeMath.Format(w.Shape)} must be [N, V].");
        using var scope = w.Device.Scope();
        return scope.Keep(Sum(Square(Mean(Abs(w), 0))));
    }

    /// <summary>The L1 alternative: the mean over the batch of sum_j |w_ij|, for w [N, V].</summary>
    public static Tensor L1Regularizer(Tensor w)
    {
        if (w.Rank != 2) throw new ArgumentException($"L1Regularizer: w {ShapeMath.Format(w.Shape)} must be [N, V].");
        using var scope = w.Device.Scope();
        return scope.Keep(Mean(Sum(Abs(w), 1)));
    }

    /// <summary>
    /// The rows of w [N, V] as sparse vectors: entries above <paramref name="threshold"/>, and with
    /// <paramref name="topK"/> only the k largest of each row (as <see cref="Sparse.SparseMatrix.FromDense"/>).
    /// </summary>
    public static Sparse.SparseMatrix ToSparse(Tensor w, float threshold = 0f, int? topK = null)
    {
        if (w.Rank != 2) throw new ArgumentException($"ToSparse: w {ShapeMath.Format(w.Shape)} must be [N, V].");
        return Sparse.SparseMatrix.FromDense(w.ToArray(), w.Size(0), w.Size(1), threshold, topK);
    }
}
