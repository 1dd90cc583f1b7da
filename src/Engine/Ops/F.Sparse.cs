using Engine.Kernels;
using Engine.Sparse;

namespace Engine;

// The ops of learned sparse representations (SPLADE with the FLOPs regularizer of Paria et al.
// 2020), each one fused kernel per backend with its backward beside it:
//   SpladePool:        logits [B, T, V], mask [B, T] (1 token, 0 padding)
//                      w_bj = max over tokens t with mask_bt = 1 of log(1 + relu(logit_btj))     -> [B, V]
//                      (0 when no token's logit is positive). Packed form: token logits [R, V] of
//                      B texts stored one after another, text b owning lengths[b] consecutive rows.
//                      Both reach the kernel as lists of rows per text; the kernel keeps, per
//                      output, the first row reaching the maximum (the order of torch's max(dim)),
//                      and the backward sends dw_bj / (1 + logit) to that row alone:
//                      dlogit_rj = dw_bj / (1 + logit_rj) where r = argmax_bj, 0 elsewhere.
//   FlopsRegularizer:  w [N, V] -> sum_j (mean_i |w_ij|)^2, gradient 2 mean_j sign(w_ij) / N
//   L1Regularizer:     w [N, V] -> mean_i sum_j |w_ij| = sum_j mean_i |w_ij|, gradient sign(w_ij) / N
//                      (both keep the column means mean_i |w_ij| [V] for the backward)
//   ToSparse:          w [N, V] -> CSR rows of the entries with |w| > threshold, at most topK of them
//                      (largest |w| first, ties to the lower column), selected on the device.
public static partial class F
{
    /// <summary>SPLADE pooling: the max over non-padding tokens of log(1 + relu(logits)), [B, T, V] -> [B, V].</summary>
    /// <param name="logits">Token logits [B, T, V].</param>
    /// <param name="mask">[B, T]: int32 (nonzero marks a token) or float32 (1 a token, 0 padding; other values are rejected).</param>
    public static Tensor SpladePool(Tensor logits, Tensor mask)
    {
        const string op = "SpladePool";
        Checks.Float(op, logits, "logits");
        Checks.SameDevice(op, logits, mask);
        if (logits.Rank != 3 || mask.Rank != 2 || mask.Size(0) != logits.Size(0) || mask.Size(1) != logits.Size(1))
            throw new ArgumentException($"{op}: logits {ShapeMath.Format(logits.Shape)} must be [B, T, V] and the mask {ShapeMath.Format(mask.Shape)} [B, T].");
        int texts = logits.Size(0), tokens = logits.Size(1);
        bool[] keep;
        if (mask.DType == DType.Int32)
            keep = mask.ToInt32Array().Select(m => m != 0).ToArray();
        else
        {
            var values = mask.ToArray();
            int bad = Array.FindIndex(values, m => m != 0f && m != 1f);
            if (bad >= 0)
                throw new ArgumentException($"{op}: the float mask {ShapeMath.Format(mask.Shape)} holds {values[bad]} at flat position {bad}; it must be 1 (token) or 0 (padding) (logits {ShapeMath.Format(logits.Shape)}).");
            keep = values.Select(m => m != 0f).ToArray();
        }
        var rowIds = new List<int>(keep.Length);
        var offsets = new int[texts + 1];
        var rowText = new int[keep.Length];
        for (int b = 0; b < texts; b++)
        {
            for (int t = 0; t < tokens; t++)
            {
                int row = b * tokens + t;
                rowText[row] = keep[row] ? b : -1;
                if (keep[row]) rowIds.Add(row);
            }
            offsets[b + 1] = rowIds.Count;
        }
        return SpladePoolCore(op, logits, rowIds.ToArray(), offsets, rowText);
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
        int texts = lengths.Count;
        var rowIds = new int[rows];
        var offsets = new int[texts + 1];
        var rowText = new int[rows];
        for (int b = 0; b < texts; b++)
        {
            offsets[b + 1] = offsets[b] + lengths[b];
            for (int r = offsets[b]; r < offsets[b + 1]; r++)
            {
                rowIds[r] = r;
                rowText[r] = b;
            }
        }
        return SpladePoolCore(op, tokenLogits, rowIds, offsets, rowText);
    }

    /// <summary>Pools the rows rowIds[offsets[b] .. offsets[b + 1]) of each text b; rowText maps each row to its text or -1.</summary>
    private static Tensor SpladePoolCore(string op, Tensor logits, int[] rowIds, int[] offsets, int[] rowText)
    {
        int texts = offsets.Length - 1, vocab = logits.Size(-1);
        var device = logits.Device;
        using var scope = device.Scope();
        Tensor w, argmax, dense;
        using (Autograd.Pause())
        {
            dense = Dense(logits, out _);
            w = Tensor.Empty(device, [texts, vocab]);
            argmax = Tensor.Empty(device, [texts, vocab], DType.Int32);
            if (vocab > 0)
                logits.Backend.SpladePool(dense.Buffer, Tensor.FromArray(device, rowIds).Buffer, Tensor.FromArray(device, offsets).Buffer,
                    w.Buffer, argmax.Buffer, texts, vocab);
        }
        if (Autograd.Needs(logits))
        {
            var savedLogits = Autograd.Save(dense);
            var savedArgmax = Autograd.Save(argmax);
            var savedRowText = Autograd.Save(Tensor.FromArray(device, rowText));
            Autograd.Record(op, w, [logits], g => [SpladePoolGrad(savedLogits, savedRowText, savedArgmax, g, texts)],
                savedLogits, savedArgmax, savedRowText);
        }
        return scope.Keep(w);
    }

    private static Tensor SpladePoolGrad(Tensor logits, Tensor rowText, Tensor argmax, Tensor dw, int texts)
    {
        var dlogits = Tensor.Empty(logits.Device, logits.Shape);
        int vocab = logits.Size(-1);
        if (dlogits.Count == 0) return dlogits;
        var dwDense = Dense(dw, out bool copied);
        logits.Backend.SpladePoolBackward(logits.Buffer, rowText.Buffer, argmax.Buffer, dwDense.Buffer, dlogits.Buffer,
            logits.Count / vocab, texts, vocab);
        if (copied) dwDense.Dispose();
        return dlogits;
    }

    /// <summary>The FLOPs regularizer of a batch of vectors w [N, V]: sum over j of (mean over i of |w_ij|) squared.</summary>
    public static Tensor FlopsRegularizer(Tensor w) => SparsityRegularizer("FlopsRegularizer", SparsityPenalty.Flops, w);

    /// <summary>The L1 alternative: the mean over the batch of sum_j |w_ij|, for w [N, V].</summary>
    public static Tensor L1Regularizer(Tensor w) => SparsityRegularizer("L1Regularizer", SparsityPenalty.L1, w);

    private static Tensor SparsityRegularizer(string op, SparsityPenalty penalty, Tensor w)
    {
        Checks.Float(op, w, "w");
        if (w.Rank != 2) throw new ArgumentException($"{op}: w {ShapeMath.Format(w.Shape)} must be [N, V].");
        int n = w.Size(0), vocab = w.Size(1);
        var device = w.Device;
        using var scope = device.Scope();
        Tensor loss, means, dense;
        using (Autograd.Pause())
        {
            dense = Dense(w, out _);
            means = Tensor.Empty(device, [vocab]);
            loss = Tensor.Empty(device, []);
            w.Backend.SparsityRegularizer(penalty, dense.Buffer, means.Buffer, loss.Buffer, n, vocab);
        }
        if (Autograd.Needs(w))
        {
            var savedW = Autograd.Save(dense);
            var savedMeans = Autograd.Save(means);
            Autograd.Record(op, loss, [w], g => [SparsityRegularizerGrad(penalty, savedW, savedMeans, g)], savedW, savedMeans);
        }
        return scope.Keep(loss);
    }

    private static Tensor SparsityRegularizerGrad(SparsityPenalty penalty, Tensor w, Tensor means, Tensor dloss)
    {
        var dw = Tensor.Empty(w.Device, w.Shape);
        if (dw.Count == 0) return dw;
        var dlossDense = Dense(dloss, out bool copied);
        w.Backend.SparsityRegularizerBackward(penalty, w.Buffer, means.Buffer, dlossDense.Buffer, dw.Buffer, w.Size(0), w.Size(1));
        if (copied) dlossDense.Dispose();
        return dw;
    }

    /// <summary>
    /// The sparse (CSR) form of the rows of <paramref name="w"/> [N, V], such as a SPLADE encoder's
    /// output, selected on the device: per row, the entries whose absolute value is above
    /// <paramref name="threshold"/>, then at most <paramref name="topK"/> of them (largest absolute
    /// value first, ties to the lower column) when given, in ascending column order. The same
    /// matrix as <see cref="SparseMatrix.FromDense"/> of the downloaded values. Not recorded for autograd.
    /// </summary>
    /// <exception cref="ArgumentException">w is not a float32 matrix, the threshold is negative or NaN,
    /// topK is negative, or w holds a value that is not finite.</exception>
    public static SparseMatrix ToSparse(Tensor w, float threshold = 0f, int? topK = null)
    {
        const string op = "ToSparse";
        Checks.Float(op, w, "w");
        if (w.Rank != 2) throw new ArgumentException($"{op}: w {ShapeMath.Format(w.Shape)} must be [N, V].");
        if (!(threshold >= 0))
            throw new ArgumentException($"{op}: the threshold must be >= 0, not {threshold} (w {ShapeMath.Format(w.Shape)}).");
        if (topK < 0)
            throw new ArgumentException($"{op}: topK must be >= 0, not {topK} (w {ShapeMath.Format(w.Shape)}).");
        int rows = w.Size(0), vocab = w.Size(1);
        int capacity = Math.Min(topK ?? vocab, vocab);
        var device = w.Device;
        using var scope = device.Scope();
        using var pause = Autograd.Pause();
        var dense = Dense(w, out _);
        var counts = Tensor.Empty(device, [rows], DType.Int32);
        var columns = Tensor.Empty(device, [rows, capacity], DType.Int32);
        var values = Tensor.Empty(device, [rows, capacity]);
        if (rows > 0)
            w.Backend.ToSparse(dense.Buffer, counts.Buffer, columns.Buffer, values.Buffer, rows, vocab, threshold, capacity);
        var perRow = counts.ToInt32Array();
        var offsets = new int[rows + 1];
        long total = 0;
        for (int r = 0; r < rows; r++)
        {
            if (perRow[r] < 0)
            {
                int column = -1 - perRow[r];
                Span<float> value = stackalloc float[1];
                w.Backend.Download(dense.Buffer with { Offset = dense.Buffer.Offset + (long)r * vocab + column }, value);
                throw new ArgumentException($"{op}: w {ShapeMath.Format(w.Shape)} holds {value[0]} at row {r}, column {column}; every value must be finite.");
            }
            total += perRow[r];
            if (total > Array.MaxLength)
                throw new ArgumentException($"{op}: w {ShapeMath.Format(w.Shape)} has more than {Array.MaxLength} selected entries.");
            offsets[r + 1] = (int)total;
        }
        var allIds = columns.ToInt32Array();
        var allValues = values.ToArray();
        var ids = new int[total];
        var weights = new float[total];
        for (int r = 0; r < rows; r++)
        {
            Array.Copy(allIds, (long)r * capacity, ids, offsets[r], perRow[r]);
            Array.Copy(allValues, (long)r * capacity, weights, offsets[r], perRow[r]);
        }
        return new SparseMatrix(vocab, offsets, ids, weights);
    }
}
