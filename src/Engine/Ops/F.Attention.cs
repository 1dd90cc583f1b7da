namespace Engine;

// Scaled dot-product attention, composed from recorded ops (so its backward is theirs):
//   q [..., Tq, D], k [..., Tk, D], v [..., Tk, Dv]  ->  [..., Tq, Dv]
//   scores = scale * q k^T (+ mask) (-inf above the causal diagonal), p = softmax(scores), out = p v
// The causal diagonal is aligned bottom-right: query i sits at position Tk - Tq + i and sees keys
// 0..Tk - Tq + i, which is the usual causal mask when Tq = Tk and the right one for queries that
// extend a cache of Tk - Tq earlier keys. A row with every key masked gives NaN, as torch.
public static partial class F
{
    /// <summary>
    /// softmax(scale * q k^T + mask) v with an optional causal mask and an optional additive float
    /// mask broadcastable to [..., Tq, Tk] (0 to keep, -inf to drop). scale defaults to 1/sqrt(D).
    /// </summary>
    public static Tensor ScaledDotProductAttention(Tensor q, Tensor k, Tensor v, bool causal = false, Tensor? mask = null, float? scale = null)
    {
        const string op = "ScaledDotProductAttention";
        Checks.MinRank(op, q, 2, "q");
        Checks.MinRank(op, k, 2, "k");
        Checks.MinRank(op, v, 2, "v");
        int d = q.Size(-1), tq = q.Size(-2), tk = k.Size(-2);
        if (k.Size(-1) != d || v.Size(-2) != tk)
            throw new ArgumentException($"{op}: q {ShapeMath.Format(q.Shape)}, k {ShapeMath.Format(k.Shape)} and v {ShapeMath.Format(v.Shape)} must be [..., Tq, D], [..., Tk, D] and [..., Tk, Dv].");
        if (causal && tq > tk)
            throw new ArgumentException($"{op}: a causal mask needs at least as many keys as queries (q {ShapeMath.Format(q.Shape)}, k {ShapeMath.Format(k.Shape)}).");

        using var scope = q.Device.Scope();
        using var kT = k.Transpose(-1, -2);
        var scores = MatMul(q, kT, null, scale ?? 1f / MathF.Sqrt(d));
        if (mask is not null)
            scores = Add(scores, mask);
        if (causal)
            scores = ApplyMask(scores, CausalMask(q.Device, tq, tk));
        var probabilities = Softmax(scores, -1);
        return scope.Keep(MatMul(probabilities, v));
    }

    /// <summary>scores + mask for a constant mask of 0 and -inf: the gradient passes through unchanged.</summary>
    private static Tensor ApplyMask(Tensor scores, Tensor mask)
    {
        var masked = Binary(Kernels.BinaryOp.Add, scores, mask, "AttentionMask");
        if (Autograd.Needs(scores))
            Autograd.Record("AttentionMask", masked, [scores], g => [g], maskOp: true);
        return masked;
    }

    /// <summary>[tq, tk] with 0 where query i may see key j (j &lt;= tk - tq + i) and -inf elsewhere.</summary>
    private static Tensor CausalMask(Device device, int tq, int tk)
    {
        var values = new float[tq * tk];
        for (int i = 0; i < tq; i++)
            for (int j = tk - tq + i + 1; j < tk; j++)
                values[i * tk + j] = float.NegativeInfinity;
        return Tensor.FromArray(device, values, [tq, tk]);
    }
}
