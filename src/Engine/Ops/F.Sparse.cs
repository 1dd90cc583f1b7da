namespace Engine;

// The ops of learned sparse representations (SPLADE with the FLOPs regularizer of Paria et al.
// 2020), composed from kernels that exist on every backend, so their gradients are the tape's:
//   SpladePool:        logits [B, T, V], mask [B, T] (1 token, 0 padding)
//                      w_bj = max over tokens t with mask_bt = 1 of log(1 + relu(logit_btj))     -> [B, V]
//                      (padding contributes 0, the floor of log(1 + relu)); the gradient goes to the
//                      first maximising token, as torch's max(dim) sends it.
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
}
