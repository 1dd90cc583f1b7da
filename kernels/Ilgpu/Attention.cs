using ILGPU;

namespace Engine.Kernels.Ilgpu;

/// <summary>
/// Fused scaled dot-product attention in the FlashAttention-2 scheme: the [Tq, Tk] score matrix
/// is produced and consumed tile by tile in shared memory and never stored. Shapes, the
/// grouped-query head mapping, the bottom-right causal diagonal and the additive mask are those of
/// <see cref="AttentionDesc"/>: q, out [B, Hq, Tq, D], k, v [B, Hkv, Tk, D], lse [B, Hq, Tq].
///
/// Every kernel takes its width from Group.DimX (a 1-D group of any size up to
/// <see cref="Threads"/>): each phase walks its elements with a stride of the group width, so the
/// CPU accelerator can run narrow groups of the same source. Tile sizes are compile-time
/// constants and the shared buffers are sized for <see cref="MaxHeadSize"/>; the backend refuses
/// larger heads. Rows of K and V tiles (and of the Q and dO tiles the backward reads across keys)
/// are padded to <see cref="MaxHeadSize"/> + 1 floats, so threads reading one column of
/// consecutive rows hit distinct banks. Elements past the sequence ends load as 0 and their scores
/// as -inf, so the inner loops have no ragged-edge case.
///
/// Masked scores are -inf and contribute p = 0. A row whose keys are all masked keeps its running
/// max at -inf; every exp that could see -inf - (-inf) is guarded, so such a row ends with
/// l = 0, lse = -inf and an output of zeros, and gets zero gradients in the backward.
/// No atomics: every output element is owned by one thread and summed in a fixed order, so the
/// results are bitwise reproducible.
/// </summary>
public static class Attention
{
    /// <summary>Largest head size the shared-memory tiles hold.</summary>
    public const int MaxHeadSize = 128;
    /// <summary>Threads per group on a GPU (four warps); narrower groups run the same kernels.</summary>
    public const int Threads = 128;

    /// <summary>Query rows per group of <see cref="Forward"/> (Br).</summary>
    public const int ForwardRows = 16;
    /// <summary>Keys per tile of <see cref="Forward"/> (Bc).</summary>
    public const int ForwardKeys = 32;
    /// <summary>Keys per group of <see cref="KeyValueBackward"/>.</summary>
    public const int KeyValueKeys = 16;
    /// <summary>Query rows per step of <see cref="KeyValueBackward"/>.</summary>
    public const int KeyValueRows = 8;
    /// <summary>Query rows per group of <see cref="QueryBackward"/>.</summary>
    public const int QueryRows = 16;
    /// <summary>Keys per tile of <see cref="QueryBackward"/>.</summary>
    public const int QueryKeys = 16;

    private const int Padded = MaxHeadSize + 1;
    private const int ForwardScoreStride = ForwardKeys + 1;
    private const int KeyValueScoreStride = KeyValueKeys + 1;
    private const int QueryScoreStride = QueryKeys + 1;

    /// <summary>Shared memory of <see cref="Forward"/> in bytes (35,200).</summary>
    public const int ForwardSharedBytes = sizeof(float) *
        (2 * ForwardRows * MaxHeadSize + ForwardKeys * Padded + ForwardRows * ForwardScoreStride + 3 * ForwardRows);
    /// <summary>Shared memory of <see cref="KeyValueBackward"/> in bytes (42,304).</summary>
    public const int KeyValueSharedBytes = sizeof(float) *
        (2 * KeyValueKeys * Padded + 2 * KeyValueKeys * MaxHeadSize + 2 * KeyValueRows * Padded
         + 2 * KeyValueRows * KeyValueScoreStride + 2 * KeyValueRows);
    /// <summary>Shared memory of <see cref="QueryBackward"/> in bytes (42,432).</summary>
    public const int QuerySharedBytes = sizeof(float) *
        (2 * QueryRows * Padded + 2 * QueryKeys * Padded + QueryRows * MaxHeadSize + QueryRows * QueryScoreStride
         + 2 * QueryRows);

    /// <summary>
    /// The forward kernel: out_i = sum_j p_ij v_j with p_ij = exp(s_ij - lse_i) and
    /// lse_i = log sum_j exp(s_ij), s_ij = Scale q_i . k_j (+ mask_ij), -inf where masked.
    /// </summary>
    /// <remarks>
    /// One group per (batch, query head, tile of <see cref="ForwardRows"/> queries). The Q tile
    /// [16][128] is staged once; the keys are walked in tiles of <see cref="ForwardKeys"/>, stopping
    /// after the last key the tile's bottom row sees under the causal mask. Per key tile:
    ///   1. stage K [32][129]; barrier;
    ///   2. every thread computes scores of (row, key) pairs e = tid, tid + width, ... into S [16][33]
    ///      (a warp shares a row: Q is read as a broadcast, K conflict-free); barrier;
    ///   3. stage V into the K buffer while one thread per row takes the online-softmax step:
    ///      m' = max(m, max_c s_c), p_c = exp(s_c - m') in place of s, alpha = exp(m - m'),
    ///      l = alpha l + sum_c p_c (alpha = 0 while m = -inf; p = 0, alpha = 1 while m' = -inf); barrier;
    ///   4. every thread updates the accumulator elements (row, d) it owns:
    ///      O[r][d] = alpha_r O[r][d] + sum_c p_rc V[c][d]; barrier.
    /// At the end out = O / l and lse = m + log l, or 0 and -inf when l = 0.
    /// Shared memory: Q 2048 + K/V 4128 + S 528 + O 2048 + (m, l, alpha) 48 floats = 35,200 bytes.
    /// Launch: 1-D groups of up to <see cref="Threads"/> threads; grid B * Hq * ceil(Tq / 16).
    /// mask is read only when desc.HasMask is nonzero.
    /// </remarks>
    public static void Forward(ArrayView<float> q, ArrayView<float> k, ArrayView<float> v, ArrayView<float> mask,
        ArrayView<float> output, ArrayView<float> lse, AttentionDesc desc)
    {
        var qTile = SharedMemory.Allocate<float>(ForwardRows * MaxHeadSize);
        var kvTile = SharedMemory.Allocate<float>(ForwardKeys * Padded);
        var scores = SharedMemory.Allocate<float>(ForwardRows * ForwardScoreStride);
        var acc = SharedMemory.Allocate<float>(ForwardRows * MaxHeadSize);
        var rowMax = SharedMemory.Allocate<float>(ForwardRows);
        var rowSum = SharedMemory.Allocate<float>(ForwardRows);
        var rowScale = SharedMemory.Allocate<float>(ForwardRows);

        int tid = Group.IdxX;
        int width = Group.DimX;
        int n = desc.HeadSize;
        int qTiles = (desc.QueryLength + ForwardRows - 1) / ForwardRows;
        int head = Grid.IdxX / qTiles;
        int q0 = (Grid.IdxX - head * qTiles) * ForwardRows;
        int rows = Math.Min(ForwardRows, desc.QueryLength - q0);
        long qBase = ((long)head * desc.QueryLength + q0) * n;
        long kBase = KvHead(desc, head) * desc.KeyLength * n;
        long maskBase = MaskBase(desc, head);

        for (int e = tid; e < ForwardRows * n; e += width)
        {
            int r = e / n;
            int d = e - r * n;
            qTile[r * MaxHeadSize + d] = r < rows ? q[qBase + e] : 0f;
            acc[r * MaxHeadSize + d] = 0f;
        }
        for (int r = tid; r < ForwardRows; r += width)
        {
            rowMax[r] = float.NegativeInfinity;
            rowSum[r] = 0f;
        }
        Group.Barrier();

        int keyEnd = KeyEnd(desc, q0 + rows);
        for (int k0 = 0; k0 < keyEnd; k0 += ForwardKeys)
        {
            LoadTile(k, kvTile, kBase, k0, Math.Min(ForwardKeys, desc.KeyLength - k0), ForwardKeys, n, tid, width);
            Group.Barrier();

            for (int e = tid; e < ForwardRows * ForwardKeys; e += width)
            {
                int r = e / ForwardKeys;
                int c = e - r * ForwardKeys;
                scores[r * ForwardScoreStride + c] = r < rows
                    ? Score(qTile, r * MaxHeadSize, kvTile, c * Padded, mask, desc, maskBase, q0 + r, k0 + c)
                    : float.NegativeInfinity;
            }
            Group.Barrier();

            LoadTile(v, kvTile, kBase, k0, Math.Min(ForwardKeys, desc.KeyLength - k0), ForwardKeys, n, tid, width);
            for (int r = tid; r < ForwardRows; r += width)
                OnlineSoftmaxStep(scores, r * ForwardScoreStride, rowMax, rowSum, rowScale, r);
            Group.Barrier();

            for (int e = tid; e < ForwardRows * n; e += width)
            {
                int r = e / n;
                int d = e - r * n;
                int s = r * ForwardScoreStride;
                float o = acc[r * MaxHeadSize + d] * rowScale[r];
                for (int c = 0; c < ForwardKeys; c++)
                    o += scores[s + c] * kvTile[c * Padded + d];
                acc[r * MaxHeadSize + d] = o;
            }
            Group.Barrier();
        }

        for (int e = tid; e < rows * n; e += width)
        {
            int r = e / n;
            int d = e - r * n;
            float l = rowSum[r];
            output[qBase + e] = l > 0f ? acc[r * MaxHeadSize + d] / l : 0f;
        }
        long lseBase = (long)head * desc.QueryLength + q0;
        for (int r = tid; r < rows; r += width)
        {
            float l = rowSum[r];
            lse[lseBase + r] = l > 0f ? rowMax[r] + MathF.Log(l) : float.NegativeInfinity;
        }
    }

    /// <summary>
    /// The backward kernel for dk and dv, per key j:
    /// dv_j = sum_i p_ij dout_i, dk_j = Scale sum_i ds_ij q_i, with p_ij = exp(s_ij - lse_i)
    /// (0 where masked or lse_i = -inf), ds_ij = p_ij (dout_i . v_j - D_i), D_i = dout_i . out_i,
    /// summed over every query head sharing the kv head.
    /// </summary>
    /// <remarks>
    /// One group per (batch, kv head, tile of <see cref="KeyValueKeys"/> keys): the group owns its
    /// rows of dk and dv, so no two groups write the same element. K and V [16][129] are staged once
    /// and the accumulators dK, dV [16][128] live in shared memory, each element owned by one
    /// thread. For each query head of the group, in order, the queries are walked in steps of
    /// <see cref="KeyValueRows"/>, starting at the first row that sees the tile under the causal
    /// mask. Per step:
    ///   1. stage Q and dO [8][129]; one thread per row reads lse_i and forms D_i from global
    ///      memory; barrier;
    ///   2. every thread computes p and ds of (row, key) pairs into P, dS [8][17]; barrier;
    ///   3. every thread adds sum_r P[r][c] dO[r][d] and sum_r dS[r][c] Q[r][d] to the (key, d)
    ///      elements of dV and dK it owns; barrier.
    /// At the end dk = Scale dK and dv = dV. Shared memory: K, V 4128 + dK, dV 4096 + Q, dO 2064
    /// + P, dS 272 + (lse, D) 16 floats = 42,304 bytes. Launch: 1-D groups of up to
    /// <see cref="Threads"/> threads; grid B * Hkv * ceil(Tk / 16). mask is read only when
    /// desc.HasMask is nonzero.
    /// </remarks>
    public static void KeyValueBackward(ArrayView<float> q, ArrayView<float> k, ArrayView<float> v, ArrayView<float> mask,
        ArrayView<float> output, ArrayView<float> lse, ArrayView<float> dout, ArrayView<float> dk, ArrayView<float> dv,
        AttentionDesc desc)
    {
        var kTile = SharedMemory.Allocate<float>(KeyValueKeys * Padded);
        var vTile = SharedMemory.Allocate<float>(KeyValueKeys * Padded);
        var dkAcc = SharedMemory.Allocate<float>(KeyValueKeys * MaxHeadSize);
        var dvAcc = SharedMemory.Allocate<float>(KeyValueKeys * MaxHeadSize);
        var qTile = SharedMemory.Allocate<float>(KeyValueRows * Padded);
        var doTile = SharedMemory.Allocate<float>(KeyValueRows * Padded);
        var probs = SharedMemory.Allocate<float>(KeyValueRows * KeyValueScoreStride);
        var dscores = SharedMemory.Allocate<float>(KeyValueRows * KeyValueScoreStride);
        var rowLse = SharedMemory.Allocate<float>(KeyValueRows);
        var rowDelta = SharedMemory.Allocate<float>(KeyValueRows);

        int tid = Group.IdxX;
        int width = Group.DimX;
        int n = desc.HeadSize;
        int kTiles = (desc.KeyLength + KeyValueKeys - 1) / KeyValueKeys;
        int kvHead = Grid.IdxX / kTiles;
        int k0 = (Grid.IdxX - kvHead * kTiles) * KeyValueKeys;
        int keys = Math.Min(KeyValueKeys, desc.KeyLength - k0);
        long kBase = (long)kvHead * desc.KeyLength * n;
        int batch = kvHead / desc.KvHeads;
        int group = desc.QueryHeads / desc.KvHeads;
        int firstHead = batch * desc.QueryHeads + (kvHead - batch * desc.KvHeads) * group;

        LoadTile(k, kTile, kBase, k0, keys, KeyValueKeys, n, tid, width);
        LoadTile(v, vTile, kBase, k0, keys, KeyValueKeys, n, tid, width);
        for (int e = tid; e < KeyValueKeys * n; e += width)
        {
            int c = e / n;
            int d = e - c * n;
            dkAcc[c * MaxHeadSize + d] = 0f;
            dvAcc[c * MaxHeadSize + d] = 0f;
        }

        // The first query row that sees key k0 under the causal mask, rounded down to a step.
        int qStart = desc.Causal != 0 ? Math.Max(0, k0 - (desc.KeyLength - desc.QueryLength)) : 0;
        qStart = Math.Min(qStart, desc.QueryLength) / KeyValueRows * KeyValueRows;
        for (int head = firstHead; head < firstHead + group; head++)
        {
            long maskBase = MaskBase(desc, head);
            for (int q0 = qStart; q0 < desc.QueryLength; q0 += KeyValueRows)
            {
                int rows = Math.Min(KeyValueRows, desc.QueryLength - q0);
                long qBase = ((long)head * desc.QueryLength + q0) * n;
                LoadTile(q, qTile, qBase, 0, rows, KeyValueRows, n, tid, width);
                LoadTile(dout, doTile, qBase, 0, rows, KeyValueRows, n, tid, width);
                for (int r = tid; r < KeyValueRows; r += width)
                    LoadRowStatistics(lse, output, dout, rowLse, rowDelta, desc, head, q0, r, rows);
                Group.Barrier();

                for (int e = tid; e < KeyValueRows * KeyValueKeys; e += width)
                {
                    int r = e / KeyValueKeys;
                    int c = e - r * KeyValueKeys;
                    float p = Probability(qTile, r * Padded, kTile, c * Padded, mask, desc, maskBase,
                        q0 + r, k0 + c, rowLse[r]);
                    float ds = p != 0f ? p * (Dot(doTile, r * Padded, vTile, c * Padded, n) - rowDelta[r]) : 0f;
                    probs[r * KeyValueScoreStride + c] = p;
                    dscores[r * KeyValueScoreStride + c] = ds;
                }
                Group.Barrier();

                for (int e = tid; e < KeyValueKeys * n; e += width)
                {
                    int c = e / n;
                    int d = e - c * n;
                    float gradV = dvAcc[c * MaxHeadSize + d];
                    float gradK = dkAcc[c * MaxHeadSize + d];
                    for (int r = 0; r < KeyValueRows; r++)
                    {
                        gradV += probs[r * KeyValueScoreStride + c] * doTile[r * Padded + d];
                        gradK += dscores[r * KeyValueScoreStride + c] * qTile[r * Padded + d];
                    }
                    dvAcc[c * MaxHeadSize + d] = gradV;
                    dkAcc[c * MaxHeadSize + d] = gradK;
                }
                Group.Barrier();
            }
        }

        long outBase = kBase + (long)k0 * n;
        for (int e = tid; e < keys * n; e += width)
        {
            int c = e / n;
            int d = e - c * n;
            dk[outBase + e] = desc.Scale * dkAcc[c * MaxHeadSize + d];
            dv[outBase + e] = dvAcc[c * MaxHeadSize + d];
        }
    }

    /// <summary>
    /// The backward kernel for dq, per query i: dq_i = Scale sum_j ds_ij k_j with p and ds as in
    /// <see cref="KeyValueBackward"/>.
    /// </summary>
    /// <remarks>
    /// One group per (batch, query head, tile of <see cref="QueryRows"/> queries). Q and dO
    /// [16][129] are staged once, lse_i and D_i = dout_i . out_i read or formed by one thread per
    /// row; the accumulator dQ [16][128] lives in shared memory, each element owned by one thread.
    /// The keys are walked in tiles of <see cref="QueryKeys"/> up to the causal limit of the
    /// tile's bottom row. Per key tile:
    ///   1. stage K and V [16][129]; barrier;
    ///   2. every thread computes ds of (row, key) pairs into dS [16][17]; barrier;
    ///   3. every thread adds sum_c dS[r][c] K[c][d] to the (row, d) elements of dQ it owns; barrier.
    /// At the end dq = Scale dQ. Shared memory: Q, dO 4128 + K, V 4128 + dQ 2048 + dS 272
    /// + (lse, D) 32 floats = 42,432 bytes. Launch: 1-D groups of up to <see cref="Threads"/>
    /// threads; grid B * Hq * ceil(Tq / 16). mask is read only when desc.HasMask is nonzero.
    /// </remarks>
    public static void QueryBackward(ArrayView<float> q, ArrayView<float> k, ArrayView<float> v, ArrayView<float> mask,
        ArrayView<float> output, ArrayView<float> lse, ArrayView<float> dout, ArrayView<float> dq, AttentionDesc desc)
    {
        var qTile = SharedMemory.Allocate<float>(QueryRows * Padded);
        var doTile = SharedMemory.Allocate<float>(QueryRows * Padded);
        var kTile = SharedMemory.Allocate<float>(QueryKeys * Padded);
        var vTile = SharedMemory.Allocate<float>(QueryKeys * Padded);
        var dqAcc = SharedMemory.Allocate<float>(QueryRows * MaxHeadSize);
        var dscores = SharedMemory.Allocate<float>(QueryRows * QueryScoreStride);
        var rowLse = SharedMemory.Allocate<float>(QueryRows);
        var rowDelta = SharedMemory.Allocate<float>(QueryRows);

        int tid = Group.IdxX;
        int width = Group.DimX;
        int n = desc.HeadSize;
        int qTiles = (desc.QueryLength + QueryRows - 1) / QueryRows;
        int head = Grid.IdxX / qTiles;
        int q0 = (Grid.IdxX - head * qTiles) * QueryRows;
        int rows = Math.Min(QueryRows, desc.QueryLength - q0);
        long qBase = ((long)head * desc.QueryLength + q0) * n;
        long kBase = KvHead(desc, head) * desc.KeyLength * n;
        long maskBase = MaskBase(desc, head);

        LoadTile(q, qTile, qBase, 0, rows, QueryRows, n, tid, width);
        LoadTile(dout, doTile, qBase, 0, rows, QueryRows, n, tid, width);
        for (int e = tid; e < QueryRows * n; e += width)
        {
            int r = e / n;
            dqAcc[r * MaxHeadSize + e - r * n] = 0f;
        }
        for (int r = tid; r < QueryRows; r += width)
            LoadRowStatistics(lse, output, dout, rowLse, rowDelta, desc, head, q0, r, rows);
        Group.Barrier();

        int keyEnd = KeyEnd(desc, q0 + rows);
        for (int k0 = 0; k0 < keyEnd; k0 += QueryKeys)
        {
            int keys = Math.Min(QueryKeys, desc.KeyLength - k0);
            LoadTile(k, kTile, kBase, k0, keys, QueryKeys, n, tid, width);
            LoadTile(v, vTile, kBase, k0, keys, QueryKeys, n, tid, width);
            Group.Barrier();

            for (int e = tid; e < QueryRows * QueryKeys; e += width)
            {
                int r = e / QueryKeys;
                int c = e - r * QueryKeys;
                float p = Probability(qTile, r * Padded, kTile, c * Padded, mask, desc, maskBase, q0 + r, k0 + c, rowLse[r]);
                dscores[r * QueryScoreStride + c] =
                    p != 0f ? p * (Dot(doTile, r * Padded, vTile, c * Padded, n) - rowDelta[r]) : 0f;
            }
            Group.Barrier();

            for (int e = tid; e < QueryRows * n; e += width)
            {
                int r = e / n;
                int d = e - r * n;
                int s = r * QueryScoreStride;
                float grad = dqAcc[r * MaxHeadSize + d];
                for (int c = 0; c < QueryKeys; c++)
                    grad += dscores[s + c] * kTile[c * Padded + d];
                dqAcc[r * MaxHeadSize + d] = grad;
            }
            Group.Barrier();
        }

        for (int e = tid; e < rows * n; e += width)
        {
            int r = e / n;
            dq[qBase + e] = desc.Scale * dqAcc[r * MaxHeadSize + e - r * n];
        }
    }

    /// <summary>The kv head (an index in [B * Hkv]) that query head <paramref name="head"/> (an index in [B * Hq]) reads.</summary>
    private static long KvHead(in AttentionDesc desc, int head)
    {
        int batch = head / desc.QueryHeads;
        int h = head - batch * desc.QueryHeads;
        return batch * desc.KvHeads + h / (desc.QueryHeads / desc.KvHeads);
    }

    /// <summary>Offset of query head <paramref name="head"/>'s (in [B * Hq]) mask rows: b * MaskBatchStride + h * MaskHeadStride.</summary>
    private static long MaskBase(in AttentionDesc desc, int head)
    {
        int batch = head / desc.QueryHeads;
        return batch * desc.MaskBatchStride + (head - batch * desc.QueryHeads) * desc.MaskHeadStride;
    }

    /// <summary>One past the last key any query before <paramref name="queryEnd"/> sees (the causal limit of the tile's bottom row).</summary>
    private static int KeyEnd(in AttentionDesc desc, int queryEnd) =>
        desc.Causal != 0
            ? Math.Max(0, Math.Min(desc.KeyLength, queryEnd + desc.KeyLength - desc.QueryLength))
            : desc.KeyLength;

    /// <summary>
    /// Stages <paramref name="count"/> rows of head size n, from row <paramref name="first"/> of the
    /// [rows, n] matrix at <paramref name="source"/>[<paramref name="start"/>], into a tile of
    /// <paramref name="tileRows"/> rows padded to <see cref="Padded"/>; rows past count are zeros.
    /// Consecutive threads take consecutive elements (coalesced).
    /// </summary>
    private static void LoadTile(ArrayView<float> source, ArrayView<float> tile, long start, int first, int count,
        int tileRows, int n, int tid, int width)
    {
        long offset = start + (long)first * n;
        for (int e = tid; e < tileRows * n; e += width)
        {
            int r = e / n;
            tile[r * Padded + e - r * n] = r < count ? source[offset + e] : 0f;
        }
    }

    /// <summary>
    /// The backward's per-row inputs of tile row <paramref name="r"/> (query q0 + r): lse_i and
    /// D_i = dout_i . out_i, or -inf and 0 past the last query.
    /// </summary>
    private static void LoadRowStatistics(ArrayView<float> lse, ArrayView<float> output, ArrayView<float> dout,
        ArrayView<float> rowLse, ArrayView<float> rowDelta, in AttentionDesc desc, int head, int q0, int r, int rows)
    {
        float rowLogSum = float.NegativeInfinity;
        float delta = 0f;
        if (r < rows)
        {
            long row = (long)head * desc.QueryLength + q0 + r;
            rowLogSum = lse[row];
            long start = row * desc.HeadSize;
            for (int d = 0; d < desc.HeadSize; d++)
                delta += dout[start + d] * output[start + d];
        }
        rowLse[r] = rowLogSum;
        rowDelta[r] = delta;
    }

    /// <summary>
    /// The online-softmax step of one row over a tile of scores (in place): with the running max m
    /// and sum l, m' = max(m, max_c s_c), s_c becomes p_c = exp(s_c - m'), l = alpha l + sum_c p_c
    /// and alpha = exp(m - m') is left for the accumulator update. While the row has seen only
    /// masked keys (m' = -inf) p = 0 and alpha = 1; the first unmasked tile gets alpha = 0.
    /// </summary>
    private static void OnlineSoftmaxStep(ArrayView<float> scores, int start, ArrayView<float> rowMax,
        ArrayView<float> rowSum, ArrayView<float> rowScale, int r)
    {
        float old = rowMax[r];
        float max = old;
        for (int c = 0; c < ForwardKeys; c++)
        {
            float s = scores[start + c];
            if (s > max)
                max = s;
        }
        float alpha = 1f;
        float sum = 0f;
        if (max == float.NegativeInfinity)
        {
            for (int c = 0; c < ForwardKeys; c++)
                scores[start + c] = 0f;
        }
        else
        {
            alpha = old == float.NegativeInfinity ? 0f : MathF.Exp(old - max);
            for (int c = 0; c < ForwardKeys; c++)
            {
                float p = MathF.Exp(scores[start + c] - max);
                scores[start + c] = p;
                sum += p;
            }
        }
        rowMax[r] = max;
        rowSum[r] = rowSum[r] * alpha + sum;
        rowScale[r] = alpha;
    }

    /// <summary>p_ij = exp(s_ij - lse_i), 0 where the key is masked or the row has no visible key (lse_i = -inf).</summary>
    private static float Probability(ArrayView<float> qTile, int qOffset, ArrayView<float> kTile, int kOffset,
        ArrayView<float> mask, in AttentionDesc desc, long maskBase, int i, int j, float rowLogSum)
    {
        if (rowLogSum == float.NegativeInfinity)
            return 0f;
        return MathF.Exp(Score(qTile, qOffset, kTile, kOffset, mask, desc, maskBase, i, j) - rowLogSum);
    }

    /// <summary>
    /// s_ij = Scale q_i . k_j (+ mask_ij) from the staged rows, or -inf when key j is past the end
    /// or after the causal limit of query i.
    /// </summary>
    private static float Score(ArrayView<float> qTile, int qOffset, ArrayView<float> kTile, int kOffset,
        ArrayView<float> mask, in AttentionDesc desc, long maskBase, int i, int j)
    {
        if (j >= desc.KeyLength || (desc.Causal != 0 && j > i + desc.KeyLength - desc.QueryLength))
            return float.NegativeInfinity;
        float s = desc.Scale * Dot(qTile, qOffset, kTile, kOffset, desc.HeadSize);
        if (desc.HasMask != 0)
            s += mask[maskBase + i * desc.MaskRowStride + j];
        return s;
    }

    /// <summary>Dot product of two staged rows of length n, summed in order.</summary>
    private static float Dot(ArrayView<float> a, int aOffset, ArrayView<float> b, int bOffset, int n)
    {
        float sum = 0f;
        for (int d = 0; d < n; d++)
            sum += a[aOffset + d] * b[bOffset + d];
        return sum;
    }
}
