namespace Engine.Tests.Conformance;

/// <summary>
/// Attention (opset 23/24) on F.ScaledDotProductAttention. Q [B, Hq, Tq, D] (or 3-D [B, Tq, Hq*D]
/// with q_num_heads/kv_num_heads), K and V [B, Hkv, S, D]; past_key/past_value [B, Hkv, P, D] are
/// prepended to K and V (present_key/present_value outputs), so Tk = P + S. The whole additive
/// bias is built here, as the operator defines it: attn_mask (boolean: false drops; float: added)
/// padded with -inf to Tk; with is_causal, query i sees keys j &lt;= i + offset, offset = P with a
/// cache, nonpad_kv_seqlen[b] - Tq with only that input, else 0 (so it is top-left aligned when
/// Tq != Tk without a cache, unlike the kernel's own causal flag); nonpad_kv_seqlen drops keys
/// j &gt;= its value. Grouped-query heads map as the kernel's (query head h on kv head h / (Hq / Hkv)).
/// Not covered: softcap, the qk_matmul_output output, and a V head size different from Q's.
/// </summary>
internal sealed class AttentionOnnxOp : OnnxOp
{
    public override double Tolerance => 1e-5;

    public override string? Unsupported(OnnxCase c)
    {
        if (c.Float("softcap", 0f) != 0f) return "softcap is not implemented";
        if (c.WantsOutput(3)) return "the qk_matmul_output output is not produced";
        if (HeadSizes(c) is var (dq, dv) && dq != dv) return $"V head size {dv} differs from Q's {dq}; the fused kernel takes one head size";
        return base.Unsupported(c);
    }

    private static (int Q, int V) HeadSizes(OnnxCase c)
    {
        var q = c.Input(0).Shape;
        var v = c.Input(2).Shape;
        if (q.Length == 4) return (q[3], v[3]);
        return (q[2] / (int)c.Int("q_num_heads", 1), v[2] / (int)c.Int("kv_num_heads", 1));
    }

    public override Tensor?[] Run(OnnxCase c, Device device)
    {
        bool threeD = c.Input(0).Shape.Length == 3;
        var q = Heads(c.Input(0).ToFloatTensor(device), threeD, (int)c.Int("q_num_heads", 1));
        var k = Heads(c.Input(1).ToFloatTensor(device), threeD, (int)c.Int("kv_num_heads", 1));
        var v = Heads(c.Input(2).ToFloatTensor(device), threeD, (int)c.Int("kv_num_heads", 1));
        int past = 0;
        if (c.OptionalInput(4) is { } pastKey && c.OptionalInput(5) is { } pastValue)
        {
            past = pastKey.Shape[2];
            k = Concat(pastKey.ToFloatTensor(device), k);
            v = Concat(pastValue.ToFloatTensor(device), v);
        }
        int batch = q.Size(0), tq = q.Size(2), tk = k.Size(2);
        var bias = Bias(c, batch, tq, tk, past);
        var biasTensor = bias is null ? null : OnnxTensor.Upload(device, bias.Value.Values, bias.Value.Shape);
        float? scale = c.Has("scale") ? c.Float("scale", 1f) : null;
        var y = F.ScaledDotProductAttention(q, k, v, causal: false, mask: biasTensor, scale: scale);
        if (threeD)
            y = y.Permute(0, 2, 1, 3).Reshape(batch, tq, -1);
        return [y, c.WantsOutput(1) ? k : null, c.WantsOutput(2) ? v : null];
    }

    /// <summary>[B, H, T, D] from 4-D input, or from 3-D [B, T, H*D] split into heads.</summary>
    private static Tensor Heads(Tensor t, bool threeD, int heads) =>
        threeD ? t.Reshape(t.Size(0), t.Size(1), heads, t.Size(2) / heads).Permute(0, 2, 1, 3).Contiguous() : t;

    /// <summary>[past; current] along the sequence dimension, written with in-place copies into one tensor.</summary>
    private static Tensor Concat(Tensor past, Tensor current)
    {
        var all = Tensor.Empty(past.Device, [past.Size(0), past.Size(1), past.Size(2) + current.Size(2), past.Size(3)]);
        all.Narrow(2, 0, past.Size(2)).CopyFrom(past);
        all.Narrow(2, past.Size(2), current.Size(2)).CopyFrom(current);
        return all;
    }

    /// <summary>The additive bias [Bm, Hm, Tq, Tk] (Bm, Hm each 1 or full), or null when nothing is masked.</summary>
    private static (float[] Values, int[] Shape)? Bias(OnnxCase c, int batch, int tq, int tk, int past)
    {
        var mask = c.OptionalInput(3);
        var nonpad = c.OptionalInput(6)?.ToInt32s();
        bool causal = c.Int("is_causal", 0) != 0;
        if (mask is null && nonpad is null && !causal) return null;

        // The mask as [Mb, Mh, Tq, Tm] (numpy broadcasting of a 2-D or 3-D mask), Tm <= Tk.
        int[] m = mask is null ? [1, 1, tq, tk] : mask.Shape.Length switch
        {
            2 => [1, 1, mask.Shape[0], mask.Shape[1]],
            3 => [1, mask.Shape[0], mask.Shape[1], mask.Shape[2]],
            _ => mask.Shape,
        };
        bool perBatch = m[0] > 1 || nonpad is not null;
        int bm = perBatch ? batch : 1, hm = m[1];
        var values = new float[bm * hm * tq * tk];
        var maskValues = mask?.DType == OnnxDType.Bool ? mask.Longs.Select(x => x != 0 ? 0f : float.NegativeInfinity).ToArray() : mask?.ToFloats();
        for (int b = 0; b < bm; b++)
            for (int h = 0; h < hm; h++)
                for (int i = 0; i < tq; i++)
                    for (int j = 0; j < tk; j++)
                    {
                        float value = 0f;
                        if (maskValues is not null)
                            value = j < m[3] ? maskValues[((Math.Min(b, m[0] - 1) * m[1] + h) * m[2] + Math.Min(i, m[2] - 1)) * m[3] + j] : float.NegativeInfinity;
                        if (causal)
                        {
                            int offset = past > 0 || nonpad is null ? past : nonpad[b] - tq;
                            if (j > i + offset) value = float.NegativeInfinity;
                        }
                        if (nonpad is not null && j >= nonpad[b]) value = float.NegativeInfinity;
                        values[((b * hm + h) * tq + i) * tk + j] = value;
                    }
        return (values, [bm, hm, tq, tk]);
    }
}
