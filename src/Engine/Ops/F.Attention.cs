using Engine.Kernels;

namespace Engine;

// Scaled dot-product attention as one fused kernel per backend (flash-style):
//   q [B, Hq, Tq, D], k and v [B, Hkv, Tk, D]  ->  out [B, Hq, Tq, D]      (Hq a multiple of Hkv)
//   s_ij = scale * q_i . k_j + mask_ij  (-inf above the causal diagonal),  p = softmax_j(s),  out_i = sum_j p_ij v_j
// The kernels walk key blocks with an online softmax and keep only out and the per-row
// log-sum-exp lse_i; the backward recomputes p_ij = exp(s_ij - lse_i) block by block, so memory
// is linear in the sequence length. The causal diagonal is aligned bottom-right: query i sits at
// position Tk - Tq + i and sees keys up to it (the usual mask when Tq = Tk, and the right one for
// queries extending a KV cache). A query whose keys are all masked gets an output of zeros.
// Leading dimensions beyond [H, T, D] are flattened into the batch; q of rank 2 is one head.
public static partial class F
{
    /// <summary>
    /// softmax(scale * q k^T + mask) v, fused. <paramref name="mask"/> is additive float (0 keeps,
    /// -inf drops) or int32 boolean (nonzero keeps), broadcastable to [B, Hq, Tq, Tk]; it takes no
    /// gradient. <paramref name="scale"/> defaults to 1/sqrt(D). Grouped-query attention when k and
    /// v have fewer heads than q. A fully masked query row gives zeros, not NaN.
    /// </summary>
    public static Tensor ScaledDotProductAttention(Tensor q, Tensor k, Tensor v, bool causal = false, Tensor? mask = null, float? scale = null)
    {
        const string op = "ScaledDotProductAttention";
        foreach (var (t, role) in new[] { (q, "q"), (k, "k"), (v, "v") })
        {
            Checks.SameDevice(op, q, t);
            Checks.Float(op, t, role);
            Checks.MinRank(op, t, 2, role);
        }
        if (q.Rank != k.Rank || q.Rank != v.Rank || !k.Shape.SequenceEqual(v.Shape) || !q.Shape[..^3].SequenceEqual(k.Shape[..^3]) || k.Size(-1) != q.Size(-1))
            throw new ArgumentException($"{op}: q {ShapeMath.Format(q.Shape)}, k {ShapeMath.Format(k.Shape)} and v {ShapeMath.Format(v.Shape)} must be [..., Hq, Tq, D], [..., Hkv, Tk, D] and [..., Hkv, Tk, D] with the same leading dimensions.");
        int d = q.Size(-1), tq = q.Size(-2), tk = k.Size(-2);
        int hq = q.Rank > 2 ? q.Size(-3) : 1, hkv = k.Rank > 2 ? k.Size(-3) : 1;
        if (hkv == 0 || hq % hkv != 0)
            throw new ArgumentException($"{op}: q has {hq} heads and k, v {hkv}; the query heads must be a multiple of the key/value heads (q {ShapeMath.Format(q.Shape)}, k {ShapeMath.Format(k.Shape)}).");
        if (causal && tq > tk)
            throw new ArgumentException($"{op}: a causal mask needs at least as many keys as queries (q {ShapeMath.Format(q.Shape)}, k {ShapeMath.Format(k.Shape)}).");
        int batch = q.Rank > 3 ? (int)ShapeMath.Count(q.Shape[..^3]) : 1;

        var desc = new AttentionDesc
        {
            Batch = batch, QueryHeads = hq, KvHeads = hkv, QueryLength = tq, KeyLength = tk, HeadSize = d,
            Scale = scale ?? 1f / MathF.Sqrt(d), Causal = causal ? 1 : 0,
        };
        Tensor output;
        using (var scope = q.Device.Scope())
        {
            Tensor? maskView;
            Tensor qd, kd, vd, lse;
            using (Autograd.Pause())
            {
                maskView = mask is null ? null : AttentionMask(mask, ref desc, op);
                qd = Dense(q, out _);
                kd = Dense(k, out _);
                vd = Dense(v, out _);
                output = scope.Keep(Tensor.Empty(q.Device, q.Shape));
                lse = Tensor.Empty(q.Device, [batch, hq, tq]);
                if (output.Count > 0)
                    q.Backend.AttentionForward(desc, qd.Buffer, kd.Buffer, vd.Buffer, (maskView ?? qd).Buffer, output.Buffer, lse.Buffer);
                else
                    q.Backend.Fill(lse.Buffer, lse.Count, float.NegativeInfinity);
            }
            if (Autograd.Needs(q, k, v))
            {
                var (sq, sk, sv, so, sl) = (Autograd.Save(qd), Autograd.Save(kd), Autograd.Save(vd), Autograd.Save(output), Autograd.Save(lse));
                var sm = maskView is null ? null : Autograd.Save(maskView);
                bool needQ = q.RequiresGrad, needK = k.RequiresGrad, needV = v.RequiresGrad;
                var capturedDesc = desc;
                Autograd.Record(op, output, [q, k, v], g => AttentionGrad(capturedDesc, sq, sk, sv, sm, so, sl, g, needQ, needK, needV),
                    sm is null ? [sq, sk, sv, so, sl] : [sq, sk, sv, so, sl, sm]);
            }
        }
        return output;
    }

    private static Tensor?[] AttentionGrad(AttentionDesc desc, Tensor q, Tensor k, Tensor v, Tensor? mask, Tensor output, Tensor lse,
        Tensor dout, bool needQ, bool needK, bool needV)
    {
        using var scope = q.Device.Scope();
        var dq = Tensor.Empty(q.Device, q.Shape);
        var dk = Tensor.Empty(q.Device, k.Shape);
        var dv = Tensor.Empty(q.Device, v.Shape);
        var doutDense = Dense(dout, out _);
        if (q.Count > 0 && k.Count > 0)
            q.Backend.AttentionBackward(desc, q.Buffer, k.Buffer, v.Buffer, (mask ?? q).Buffer, output.Buffer, lse.Buffer,
                doutDense.Buffer, dq.Buffer, dk.Buffer, dv.Buffer);
        else
        {
            q.Backend.Fill(dq.Buffer, dq.Count, 0f);
            q.Backend.Fill(dk.Buffer, dk.Count, 0f);
            q.Backend.Fill(dv.Buffer, dv.Count, 0f);
        }
        return [needQ ? scope.Keep(dq) : null, needK ? scope.Keep(dk) : null, needV ? scope.Keep(dv) : null];
    }

    /// <summary>
    /// The mask as an additive float tensor the kernel reads through (batch, head, row) strides with
    /// unit column stride, filling those strides into <paramref name="desc"/>. A boolean (int32) mask
    /// becomes 0 / -inf; a mask whose columns are not contiguous is copied.
    /// </summary>
    private static Tensor AttentionMask(Tensor mask, ref AttentionDesc desc, string op)
    {
        int[] full = [desc.Batch, desc.QueryHeads, desc.QueryLength, desc.KeyLength];
        Tensor additive;
        if (mask.DType == DType.Int32)
        {
            var keep = mask.ToInt32Array();
            additive = Tensor.FromArray(mask.Device, keep.Select(m => m != 0 ? 0f : float.NegativeInfinity).ToArray(), mask.Shape);
        }
        else
        {
            additive = mask.Contiguous();
        }
        // Leading dimensions of a mask of rank > 4 are the flattened batch.
        var shape = additive.ShapeArray;
        int[] m4 = shape.Length switch
        {
            0 => [1, 1, 1, 1],
            1 => [1, 1, 1, shape[0]],
            2 => [1, 1, shape[0], shape[1]],
            3 => [1, shape[0], shape[1], shape[2]],
            4 => shape,
            _ => [(int)ShapeMath.Count(shape.AsSpan(0, shape.Length - 3)), shape[^3], shape[^2], shape[^1]],
        };
        for (int i = 0; i < 4; i++)
            if (m4[i] != 1 && m4[i] != full[i])
                throw new ArgumentException($"{op}: mask {ShapeMath.Format(mask.Shape)} does not broadcast to [B, Hq, Tq, Tk] = {ShapeMath.Format(full)}.");
        var dense = additive.Reshape(m4);
        if (m4[3] != full[3]) dense = dense.Expand([m4[0], m4[1], m4[2], full[3]]).Contiguous();
        var strides = ShapeMath.ContiguousStrides(dense.ShapeArray);
        desc.HasMask = 1;
        desc.MaskBatchStride = dense.Size(0) == 1 ? 0 : strides[0];
        desc.MaskHeadStride = dense.Size(1) == 1 ? 0 : strides[1];
        desc.MaskRowStride = dense.Size(2) == 1 ? 0 : strides[2];
        return dense;
    }
}
