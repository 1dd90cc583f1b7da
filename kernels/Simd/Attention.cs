using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Engine.Kernels.Simd;

// Fused scaled dot-product attention (flash-style), see AttentionDesc for the contract:
//
//   q [B, H, Tq, D], k and v [B, Hkv, Tk, D], out [B, H, Tq, D], lse [B, H, Tq]; query head h
//   reads kv head h / (H / Hkv). s_ij = Scale q_i . k_j + mask_ij, -inf where the causal mask
//   drops key j > i + Tk - Tq. Then lse_i = log sum_j exp(s_ij), out_i = sum_j exp(s_ij - lse_i) v_j.
//
// Every product below runs through one register-blocked micro-kernel: a 6 x 2W tile of C in
// twelve accumulators (W = floats per register; 6 x 16 on AVX2, written on Vector256 directly),
// and 6 x W tiles for the last columns. It reads A(r, k) = a[r * aRow + k * aDepth] by broadcasts
// and B(k, c) = b[k * ldb + c] by loads, so the same kernel serves A and A^T, and operands in
// place (rows of q, k, v, dout) or transposed into per-task scratch. Queries and keys go in
// blocks of 6W (48 on AVX2, whole 6-row and 2W-column tiles): a block's q or k, v, the scores and
// the accumulators (about 60 KiB at D = 64) stay in L1 and L2. Under the causal mask whole blocks
// above the diagonal are skipped, and inside a diagonal block so are the tiles above it and the
// masked part of each tile's depth.
//
// Forward, one task per (b, h, block of queries), keys in blocks, skipping blocks wholly above
// the causal diagonal (FlashAttention-2):
//   q^T is transposed once per task; per key block
//     S^T = Scale k_blk q^T              [keys, queries]: a query's scores lie down a column, so the
//                                       online softmax below is vertical, one query per lane
//     m' = max(m, max_j s_ij), a = exp(m - m'), p_ij = exp(s_ij - m'), l = a l + sum_j p_ij
//     O = a O + P v_blk                   (the rescale folded into the product's accumulators)
//   and at the end out = O / l, lse = m + log l. A row whose keys are all masked keeps m = -inf:
//   the exponentials are then taken against 0 instead of -inf (so exp(-inf - -inf) never makes a
//   NaN), l stays 0, and the row is written as zeros with lse = -inf.
//
// Backward, by recomputation (dout_i, D_i = dout_i . out_i):
//   p_ij = exp(s_ij - lse_i) (0 where masked, or where lse_i = -inf), ds_ij = p_ij (dout_i . v_j - D_i)
//   dv_j = sum_i p_ij dout_i,  dk_j = Scale sum_i ds_ij q_i,  dq_i = Scale sum_j ds_ij k_j
// A key span's pass (up to 4 key blocks, their k^T and v^T transposed once) loops over the query
// heads of its group and the query blocks that see the span, and for each over its key blocks:
//     S = Scale q_blk k^T, dP = dout_blk v^T          [queries, keys]
//     P, dS elementwise; dV += P^T dout_blk, dK += dS^T q_blk, and optionally dq_blk += dS k_blk
// Two schedules, neither with atomics:
// - By kv head, when the (b, kv head) pairs share well among the threads: one task
//   owns dk, dv of a kv head and dq of its query heads, and runs the key spans in order, adding
//   each dS k_blk into dq (FlashAttention-2's backward, with dq owned instead of atomic).
// - Split otherwise: tasks per (b, kv head, key span) write dk, dv; tasks per (b, h, query
//   block) recompute S^T = Scale k_blk q^T and dP^T = v_blk dout^T (q^T, dout^T transposed once)
//   key block by key block and accumulate dq. Both kinds run side by side.
// Every s_ij, p_ij and ds_ij is the same whichever layout computes it (one chain of fused
// multiply-adds over d), and every output element is summed in a fixed order: in registers over a
// block, then block by block (dq over key blocks in order, dk and dv over the query heads of the
// group, then query blocks in order). So results are bitwise reproducible, whatever the schedule
// or the number of threads.
[SkipLocalsInit]
public static unsafe class Attention
{
    /// <summary>Rows of C per register tile.</summary>
    private const int TileRows = 6;
    /// <summary>Queries per block, in registers (W floats each): a multiple of 6 rows and of 2W columns.</summary>
    private const int QueryBlockRegisters = 6;
    /// <summary>Keys per block, in registers: likewise.</summary>
    private const int KeyBlockRegisters = 6;
    /// <summary>Below this many floating-point operations a call runs on the calling thread.</summary>
    private const double ParallelMinFlops = 1 << 21;

    /// <summary>out and lse of the attention described by <paramref name="desc"/>; mask is read only when desc.HasMask.</summary>
    public static void Forward(in AttentionDesc desc, float* q, float* k, float* v, float* mask, float* output, float* lse)
    {
        var p = new Problem(desc, q, k, v, mask, output, lse, null, null, null, null);
        if (SimdWidth.Use512) Forward<Vector512Float>(p);
        else if (Vector256.IsHardwareAccelerated) Forward<Vector256Float>(p);
        else Forward<Vector128Float>(p);
    }

    /// <summary>The forward with a chosen register width (tests run every width on any CPU).</summary>
    internal static void Forward<V>(in AttentionDesc desc, float* q, float* k, float* v, float* mask, float* output, float* lse)
        where V : unmanaged, IFloatVector<V> =>
        Forward<V>(new Problem(desc, q, k, v, mask, output, lse, null, null, null, null));

    /// <summary>dq, dk, dv of <see cref="Forward"/> from dout, given its output and lse; overwrites all three.</summary>
    public static void Backward(in AttentionDesc desc, float* q, float* k, float* v, float* mask, float* output, float* lse,
        float* dout, float* dq, float* dk, float* dv)
    {
        var p = new Problem(desc, q, k, v, mask, output, lse, dout, dq, dk, dv);
        if (SimdWidth.Use512) Backward<Vector512Float>(p, SplitBackward(p));
        else if (Vector256.IsHardwareAccelerated) Backward<Vector256Float>(p, SplitBackward(p));
        else Backward<Vector128Float>(p, SplitBackward(p));
    }

    /// <summary>The backward with a chosen register width and schedule (tests run every width and compare the schedules).</summary>
    internal static void Backward<V>(in AttentionDesc desc, float* q, float* k, float* v, float* mask, float* output, float* lse,
        float* dout, float* dq, float* dk, float* dv, bool split) where V : unmanaged, IFloatVector<V> =>
        Backward<V>(new Problem(desc, q, k, v, mask, output, lse, dout, dq, dk, dv), split);

    /// <summary>
    /// Whether the split schedule finishes first: by kv head the busiest thread runs
    /// ceil(pairs / threads) (b, kv head) pairs of 5 products each, while split spreads the 7
    /// products of every pair (S and dP are computed twice) evenly over the threads.
    /// </summary>
    private static bool SplitBackward(in Problem p)
    {
        if (!RunsInParallel(p)) return false;
        long pairs = (long)p.Batch * p.KvHeads, threads = Environment.ProcessorCount;
        return 5.0 * ((pairs + threads - 1) / threads) > 7.0 * pairs / threads;
    }

    /// <summary>Whether the call is large enough to repay running over the thread pool.</summary>
    private static bool RunsInParallel(in Problem p) =>
        Environment.ProcessorCount > 1 && 4.0 * p.Batch * p.Heads * p.Tq * p.Tk * p.D >= ParallelMinFlops;

    /// <summary>Runs tasks [0, count) inline, or over the thread pool when the call is large.</summary>
    private static void Run<TKernel>(in Problem p, int count, in TKernel kernel) where TKernel : struct, IRowKernel
    {
        if (count < 2 || !RunsInParallel(p))
        {
            kernel.Run(0, count);
            return;
        }
        var copy = kernel;
        Parallel.For(0, count, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount },
            task => copy.Run(task, task + 1));
    }

    private static int QueryBlock<V>() where V : unmanaged, IFloatVector<V> => QueryBlockRegisters * V.Count;
    private static int KeyBlock<V>() where V : unmanaged, IFloatVector<V> => KeyBlockRegisters * V.Count;

    // ---------------------------------------------------------------- forward

    private static void Forward<V>(in Problem p) where V : unmanaged, IFloatVector<V>
    {
        if (p.Batch == 0 || p.Heads == 0 || p.Tq == 0) return;
        int blocks = CeilDiv(p.Tq, QueryBlock<V>());
        Run(p, p.Batch * p.Heads * blocks, new ForwardTasks<V>(p, blocks));
    }

    /// <summary>Tasks (b, h, query block), the blocks of each head in descending order so the longest causal ones start first.</summary>
    private readonly struct ForwardTasks<V>(Problem p, int blocks) : IRowKernel where V : unmanaged, IFloatVector<V>
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int start, int end)
        {
            int block = QueryBlock<V>();
            nint dp = RoundUp(p.D, V.Count);
            float* scratch = Scratch((nint)p.D * block + (nint)KeyBlock<V>() * block + block * dp + 3 * block + 64);
            for (int task = start; task < end; task++)
            {
                int head = task / blocks;
                int i0 = (blocks - 1 - task % blocks) * block;
                ForwardBlock<V>(p, head / p.Heads, head % p.Heads, i0, Math.Min(block, p.Tq - i0), scratch);
            }
        }
    }

    /// <summary>out and lse of queries [i0, i0 + m) of head (b, h).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ForwardBlock<V>(in Problem p, int b, int h, int i0, int m, float* scratch) where V : unmanaged, IFloatVector<V>
    {
        int queries = QueryBlock<V>(), keys = KeyBlock<V>(), d = p.D;
        nint dp = RoundUp(d, V.Count);
        int columns = RoundUp(m, V.Count);
        float* cursor = scratch;
        float* qT = Take(ref cursor, (nint)d * queries);
        float* sT = Take(ref cursor, (nint)keys * queries);
        float* o = Take(ref cursor, queries * dp);
        float* max = Take(ref cursor, queries);
        float* sum = Take(ref cursor, queries);
        float* rescale = Take(ref cursor, queries);

        float* q = p.QueryRows(p.Q, b, h) + (nint)i0 * d;
        Transpose<V>(q, m, d, qT, queries, columns);
        new Span<float>(max, queries).Fill(float.NegativeInfinity);
        new Span<float>(sum, queries).Clear();
        new Span<float>(o, (int)(m * dp)).Clear();

        float* k = p.KeyRows(p.K, b, p.KvHead(h));
        float* v = p.KeyRows(p.V, b, p.KvHead(h));
        int keyEnd = p.KeyLimit(i0 + m - 1);
        for (int j0 = 0; j0 < keyEnd; j0 += keys)
        {
            int nk = Math.Min(keys, keyEnd - j0);
            Product<V>(nk, columns, d, k + (nint)j0 * d, d, 1, qT, queries, sT, queries, Epilogue.Scaled(p.Scale), p.Band(i0, j0, Axis.Rows, Axis.Columns));
            OnlineSoftmax<V>(p, b, h, i0, m, j0, nk, sT, queries, max, sum, rescale);
            // A row tile whose keys in this block are all masked is skipped, rescale included: its
            // maximum did not rise, so its factor is 1 (or its output is still 0).
            Product<V>(m, d, nk, sT, 1, queries, v + (nint)j0 * d, d, o, dp, Epilogue.RescaleAdd(rescale), p.Band(i0, j0, Axis.Depth, Axis.Rows));
        }

        float* output = p.QueryRows(p.Out, b, h) + (nint)i0 * d;
        float* lse = p.LseRow(b, h) + i0;
        for (int r = 0; r < m; r++)
        {
            float l = sum[r];
            if (l == 0f)
            {
                new Span<float>(output + (nint)r * d, d).Clear();
                lse[r] = float.NegativeInfinity;
            }
            else
            {
                ScaleRow<V>(o + r * dp, output + (nint)r * d, d, 1f / l);
                lse[r] = max[r] + MathF.Log(l);
            }
        }
    }

    /// <summary>
    /// One key block of the online softmax over sT [nk keys, queries] (leading dimension ld),
    /// lane by lane: adds the mask, drops the keys beyond the causal diagonal, raises the running
    /// maxima, and replaces the scores by p = exp(s - max), adding them to the running sums;
    /// rescale receives the factors exp(old max - new max) for the accumulated outputs.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void OnlineSoftmax<V>(in Problem p, int b, int h, int i0, int m, int j0, int nk, float* sT, int ld,
        float* max, float* sum, float* rescale) where V : unmanaged, IFloatVector<V>
    {
        int w = V.Count;
        V negativeInfinity = V.Splat(float.NegativeInfinity);
        V iota = Iota<V>();
        for (int g = 0; g < m; g += w)
        {
            int lanes = Math.Min(w, m - g);
            float* column = sT + g;
            // Lane l (query i0 + g + l) sees the block's keys jl <= lastKey[l]; no lane sees those from `seen` on.
            int firstLastKey = i0 + g + p.Offset - j0;
            bool causal = p.Causal && firstLastKey < nk - 1;
            int seen = causal ? Math.Clamp(firstLastKey + lanes, 0, nk) : nk;
            V lastKey = iota + V.Splat(firstLastKey);
            float* mask = p.Mask == null ? null : p.MaskAt(b, h, i0 + g) + j0;

            V blockMax = negativeInfinity;
            for (int jl = 0; jl < seen; jl++)
            {
                float* at = column + (nint)jl * ld;
                V s = V.Load(at);
                if (mask != null) s += MaskLanes<V>(mask + jl, p.MaskRowStride, lanes);
                if (causal) s = V.Select(V.LessThan(lastKey, V.Splat(jl)), negativeInfinity, s);
                if (mask != null || causal) V.Store(s, at);
                blockMax = V.MaxFast(blockMax, s);
            }

            V oldMax = V.Load(max + g);
            V newMax = V.MaxFast(oldMax, blockMax);
            V shift = V.Select(V.Equal(newMax, negativeInfinity), V.Splat(0f), newMax);
            // Two rows at a time: two exponentials in flight hide each one's latency.
            V total = V.Splat(0f), total1 = total;
            int jl2 = 0;
            for (; jl2 + 1 < seen; jl2 += 2)
            {
                float* at = column + (nint)jl2 * ld;
                V e0 = VectorMath.Exp(V.Load(at) - shift);
                V e1 = VectorMath.Exp(V.Load(at + ld) - shift);
                V.Store(e0, at);
                V.Store(e1, at + ld);
                total += e0;
                total1 += e1;
            }
            if (jl2 < seen)
            {
                float* at = column + (nint)jl2 * ld;
                V e = VectorMath.Exp(V.Load(at) - shift);
                V.Store(e, at);
                total += e;
            }
            total += total1;
            for (int jl = seen; jl < nk; jl++) V.Store(V.Splat(0f), column + (nint)jl * ld);
            V factor = VectorMath.Exp(oldMax - shift);
            V.Store(factor, rescale + g);
            V.Store(newMax, max + g);
            V.Store(V.MultiplyAdd(V.Load(sum + g), factor, total), sum + g);
        }
    }

    // ---------------------------------------------------------------- backward

    private static void Backward<V>(in Problem p, bool split) where V : unmanaged, IFloatVector<V>
    {
        if (p.Batch == 0) return;
        if (split)
        {
            int keySpans = CeilDiv(p.Tk, SpanBlocks(p) * KeyBlock<V>()), queryBlocks = CeilDiv(p.Tq, QueryBlock<V>());
            int keyTasks = p.Batch * p.KvHeads * keySpans;
            Run(p, keyTasks + p.Batch * p.Heads * queryBlocks, new SplitTasks<V>(p, keySpans, queryBlocks, keyTasks));
        }
        else Run(p, p.Batch * p.KvHeads, new HeadTasks<V>(p));
    }

    /// <summary>
    /// Key blocks per key-span task: the span's k^T, v^T and dk, dv accumulators (about 200 KiB at
    /// D = 64) stay in L2 while one sweep over the query blocks serves all its key blocks, so q,
    /// dout and dq come from memory once per span rather than once per block.
    /// </summary>
    private static int SpanBlocks(in Problem p) => Math.Clamp(256 / Math.Max(1, p.D), 1, 4);

    private static nint KeySpanScratch<V>(in Problem p) where V : unmanaged, IFloatVector<V>
    {
        int queries = QueryBlock<V>(), keys = KeyBlock<V>(), span = SpanBlocks(p) * keys;
        return (nint)p.Group * p.Tq + 2 * (nint)p.D * span + 2 * (nint)queries * keys + 2 * span * RoundUp(p.D, V.Count) + 128;
    }

    /// <summary>Tasks (b, kv head): dk, dv of the kv head and dq of its query heads.</summary>
    private readonly struct HeadTasks<V>(Problem p) : IRowKernel where V : unmanaged, IFloatVector<V>
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int start, int end)
        {
            float* scratch = Scratch(KeySpanScratch<V>(p));
            int span = SpanBlocks(p) * KeyBlock<V>();
            for (int task = start; task < end; task++)
            {
                int b = task / p.KvHeads, kvh = task % p.KvHeads;
                long dqLength = (long)p.Group * p.Tq * p.D;
                float* dq = p.QueryRows(p.DQ, b, kvh * p.Group);
                Clear(dq, dqLength);
                GroupDeltas<V>(p, b, kvh, 0, scratch);
                for (int j0 = 0; j0 < p.Tk; j0 += span)
                    KeySpanBackward<V>(p, b, kvh, j0, accumulateDq: true, scratch);
                ScaleInPlace<V>(dq, dqLength, p.Scale);
            }
        }
    }

    /// <summary>
    /// Tasks (b, kv head, key span) for dk and dv, the longest (first) spans first, then tasks
    /// (b, h, query block) for dq, the longest (last) blocks first.
    /// </summary>
    private readonly struct SplitTasks<V>(Problem p, int keySpans, int queryBlocks, int keyTasks) : IRowKernel
        where V : unmanaged, IFloatVector<V>
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int start, int end)
        {
            int queries = QueryBlock<V>(), span = SpanBlocks(p) * KeyBlock<V>();
            float* scratch = Scratch(Math.Max(KeySpanScratch<V>(p), QueryBlockScratch<V>(p)));
            for (int task = start; task < end; task++)
            {
                if (task < keyTasks)
                {
                    int head = task / keySpans, b = head / p.KvHeads, kvh = head % p.KvHeads, j0 = task % keySpans * span;
                    GroupDeltas<V>(p, b, kvh, p.FirstQuery(j0), scratch);
                    KeySpanBackward<V>(p, b, kvh, j0, accumulateDq: false, scratch);
                }
                else
                {
                    int head = (task - keyTasks) / queryBlocks;
                    int i0 = (queryBlocks - 1 - (task - keyTasks) % queryBlocks) * queries;
                    QueryBlockBackward<V>(p, head / p.Heads, head % p.Heads, i0, Math.Min(queries, p.Tq - i0), scratch);
                }
            }
        }
    }

    /// <summary>
    /// delta_i = dout_i . out_i for the queries i &gt;= firstQuery of the query heads of kv head
    /// (b, kvh), into the start of the scratch as [group, Tq], where <see cref="KeySpanBackward"/> reads them.
    /// </summary>
    private static void GroupDeltas<V>(in Problem p, int b, int kvh, int firstQuery, float* scratch) where V : unmanaged, IFloatVector<V>
    {
        for (int g = 0; g < p.Group; g++)
        {
            int h = kvh * p.Group + g;
            nint rows = (nint)firstQuery * p.D;
            Deltas<V>(p.QueryRows(p.DOut, b, h) + rows, p.QueryRows(p.Out, b, h) + rows, p.Tq - firstQuery, p.D,
                scratch + (nint)g * p.Tq + firstQuery);
        }
    }

    /// <summary>
    /// dk, dv of the key blocks of the span from j0 of kv head (b, kvh), over the query heads of the
    /// group and the query blocks from the first query that sees the span (so a block's partition of
    /// the queries depends only on its span); with accumulateDq also dq += dS k_blk (unscaled), key
    /// blocks in order for each query block. The scratch starts with the deltas of <see cref="GroupDeltas"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void KeySpanBackward<V>(in Problem p, int b, int kvh, int j0, bool accumulateDq, float* scratch)
        where V : unmanaged, IFloatVector<V>
    {
        int queries = QueryBlock<V>(), keys = KeyBlock<V>(), d = p.D;
        nint dp = RoundUp(d, V.Count);
        int spanEnd = Math.Min(p.Tk, j0 + SpanBlocks(p) * keys), spanLength = spanEnd - j0;
        float* cursor = scratch;
        float* deltas = Take(ref cursor, (nint)p.Group * p.Tq);
        float* kT = Take(ref cursor, (nint)d * RoundUp(spanLength, keys));
        float* vT = Take(ref cursor, (nint)d * RoundUp(spanLength, keys));
        float* s = Take(ref cursor, (nint)queries * keys);
        float* dS = Take(ref cursor, (nint)queries * keys);
        float* dK = Take(ref cursor, spanLength * dp);
        float* dV = Take(ref cursor, spanLength * dp);

        // k^T and v^T of each key block [d, keys], one after the other.
        for (int jb = j0; jb < spanEnd; jb += keys)
        {
            int nk = Math.Min(keys, spanEnd - jb);
            nint at = (nint)(jb - j0) * d;
            Transpose<V>(p.KeyRows(p.K, b, kvh) + (nint)jb * d, nk, d, kT + at, keys, RoundUp(nk, V.Count));
            Transpose<V>(p.KeyRows(p.V, b, kvh) + (nint)jb * d, nk, d, vT + at, keys, RoundUp(nk, V.Count));
        }
        new Span<float>(dK, (int)(spanLength * dp)).Clear();
        new Span<float>(dV, (int)(spanLength * dp)).Clear();

        int firstQuery = p.FirstQuery(j0);
        for (int h = kvh * p.Group; h < (kvh + 1) * p.Group; h++)
        {
            float* headDeltas = deltas + (nint)(h - kvh * p.Group) * p.Tq;
            for (int i0 = firstQuery; i0 < p.Tq; i0 += queries)
            {
                int m = Math.Min(queries, p.Tq - i0);
                nint rows = (nint)i0 * d;
                float* q = p.QueryRows(p.Q, b, h) + rows;
                float* dout = p.QueryRows(p.DOut, b, h) + rows;
                float* dq = p.QueryRows(p.DQ, b, h) + rows;
                if (i0 + m < p.Tq)
                {
                    nint next = (nint)m * d, length = (nint)Math.Min(queries, p.Tq - i0 - m) * d;
                    Prefetch(q + next, length);
                    Prefetch(dout + next, length);
                    if (accumulateDq) Prefetch(dq + next, length);
                }
                int keyEnd = Math.Min(spanEnd, p.KeyLimit(i0 + m - 1));
                for (int jb = j0; jb < keyEnd; jb += keys)
                {
                    int nk = Math.Min(keys, spanEnd - jb), columns = RoundUp(nk, V.Count);
                    nint at = (nint)(jb - j0) * d;
                    float* k = p.KeyRows(p.K, b, kvh) + (nint)jb * d;
                    float* dKBlock = dK + (jb - j0) * dp, dVBlock = dV + (jb - j0) * dp;
                    Product<V>(m, columns, d, q, d, 1, kT + at, keys, s, keys, Epilogue.Scaled(p.Scale), p.Band(i0, jb, Axis.Columns, Axis.Rows));
                    Product<V>(m, columns, d, dout, d, 1, vT + at, keys, dS, keys, Epilogue.Scaled(1f), p.Band(i0, jb, Axis.Columns, Axis.Rows));
                    GradientsByRow<V>(p, b, h, i0, m, jb, nk, s, dS, keys, headDeltas + i0);
                    Product<V>(nk, d, m, s, 1, keys, dout, d, dVBlock, dp, Epilogue.Add, p.Band(i0, jb, Axis.Rows, Axis.Depth));
                    Product<V>(nk, d, m, dS, 1, keys, q, d, dKBlock, dp, Epilogue.Add, p.Band(i0, jb, Axis.Rows, Axis.Depth));
                    if (accumulateDq)
                        Product<V>(m, d, nk, dS, keys, 1, k, d, dq, d, Epilogue.Add, p.Band(i0, jb, Axis.Depth, Axis.Rows));
                }
            }
        }

        for (int r = 0; r < spanLength; r++)
        {
            nint row = (nint)(j0 + r) * d;
            ScaleRow<V>(dK + r * dp, p.KeyRows(p.DK, b, kvh) + row, d, p.Scale);
            ScaleRow<V>(dV + r * dp, p.KeyRows(p.DV, b, kvh) + row, d, 1f);
        }
    }

    private static nint QueryBlockScratch<V>(in Problem p) where V : unmanaged, IFloatVector<V>
    {
        int queries = QueryBlock<V>(), keys = KeyBlock<V>();
        return 2 * (nint)p.D * queries + 2 * (nint)keys * queries + queries * RoundUp(p.D, V.Count) + 2 * queries + 64;
    }

    /// <summary>dq of queries [i0, i0 + m) of head (b, h), key block by key block in order.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void QueryBlockBackward<V>(in Problem p, int b, int h, int i0, int m, float* scratch)
        where V : unmanaged, IFloatVector<V>
    {
        int queries = QueryBlock<V>(), keys = KeyBlock<V>(), d = p.D;
        nint dp = RoundUp(d, V.Count);
        int columns = RoundUp(m, V.Count);
        float* cursor = scratch;
        float* qT = Take(ref cursor, (nint)d * queries);
        float* doutT = Take(ref cursor, (nint)d * queries);
        float* sT = Take(ref cursor, (nint)keys * queries);
        float* dST = Take(ref cursor, (nint)keys * queries);
        float* dQ = Take(ref cursor, queries * dp);
        float* delta = Take(ref cursor, queries);
        float* shift = Take(ref cursor, queries);

        nint rows = (nint)i0 * d;
        float* dout = p.QueryRows(p.DOut, b, h) + rows;
        Transpose<V>(p.QueryRows(p.Q, b, h) + rows, m, d, qT, queries, columns);
        Transpose<V>(dout, m, d, doutT, queries, columns);
        Deltas<V>(dout, p.QueryRows(p.Out, b, h) + rows, m, d, delta);
        float* lse = p.LseRow(b, h) + i0;
        for (int r = 0; r < m; r++) shift[r] = ExponentShift(lse[r]);
        new Span<float>(dQ, (int)(m * dp)).Clear();

        float* k = p.KeyRows(p.K, b, p.KvHead(h));
        float* v = p.KeyRows(p.V, b, p.KvHead(h));
        int keyEnd = p.KeyLimit(i0 + m - 1);
        for (int j0 = 0; j0 < keyEnd; j0 += keys)
        {
            int nk = Math.Min(keys, keyEnd - j0);
            nint keyRows = (nint)j0 * d;
            Product<V>(nk, columns, d, k + keyRows, d, 1, qT, queries, sT, queries, Epilogue.Scaled(p.Scale), p.Band(i0, j0, Axis.Rows, Axis.Columns));
            Product<V>(nk, columns, d, v + keyRows, d, 1, doutT, queries, dST, queries, Epilogue.Scaled(1f), p.Band(i0, j0, Axis.Rows, Axis.Columns));
            GradientsByColumn<V>(p, b, h, i0, m, j0, nk, sT, dST, queries, shift, delta);
            Product<V>(m, d, nk, dST, 1, queries, k + keyRows, d, dQ, dp, Epilogue.Add, p.Band(i0, j0, Axis.Depth, Axis.Rows));
        }

        float* dq = p.QueryRows(p.DQ, b, h) + rows;
        for (int r = 0; r < m; r++) ScaleRow<V>(dQ + r * dp, dq + (nint)r * d, d, p.Scale);
    }

    /// <summary>
    /// s [m queries, keys] (leading dimension ld) becomes p = exp(s + mask - lse), 0 where masked,
    /// and dS [m, keys], holding dout . v_j, becomes ds = p (dout . v_j - delta); both are set to 0
    /// beyond the causal diagonal whatever they held (the products skip tiles there). Keys of the
    /// block's last register beyond nk are computed and ignored.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void GradientsByRow<V>(in Problem p, int b, int h, int i0, int m, int j0, int nk, float* s, float* dS, int ld,
        float* delta) where V : unmanaged, IFloatVector<V>
    {
        int w = V.Count;
        V negativeInfinity = V.Splat(float.NegativeInfinity);
        V iota = Iota<V>();
        float* lse = p.LseRow(b, h);
        for (int r = 0; r < m; r++)
        {
            int i = i0 + r;
            V shift = V.Splat(ExponentShift(lse[i]));
            V rowDelta = V.Splat(delta[r]);
            int limit = p.Causal ? p.KeyLimit(i) - j0 : nk;
            float* mask = p.Mask == null ? null : p.MaskAt(b, h, i) + j0;
            float* sRow = s + (nint)r * ld, dSRow = dS + (nint)r * ld;
            for (int c = 0; c < nk; c += w)
            {
                if (c >= limit)
                {
                    V.Store(V.Splat(0f), sRow + c);
                    V.Store(V.Splat(0f), dSRow + c);
                    continue;
                }
                V x = V.Load(sRow + c);
                if (mask != null) x += c + w <= nk ? V.Load(mask + c) : Lanes.LoadPartial<V>(mask + c, nk - c, 0f);
                V keep = V.LessThan(iota + V.Splat(c), V.Splat(limit));
                V probability = VectorMath.Exp(V.Select(keep, x, negativeInfinity) - shift);
                V.Store(probability, sRow + c);
                V.Store(V.Select(keep, probability * (V.Load(dSRow + c) - rowDelta), V.Splat(0f)), dSRow + c);
            }
        }
    }

    /// <summary>
    /// The transposed twin of <see cref="GradientsByRow"/> for the dq tasks: sT and dST are
    /// [nk keys, queries], one query per lane; dST becomes ds^T (p itself is not kept).
    /// shift[r] = lse of query i0 + r, -inf made +inf (<see cref="ExponentShift"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void GradientsByColumn<V>(in Problem p, int b, int h, int i0, int m, int j0, int nk, float* sT, float* dST, int ld,
        float* shift, float* delta) where V : unmanaged, IFloatVector<V>
    {
        int w = V.Count;
        V negativeInfinity = V.Splat(float.NegativeInfinity);
        V iota = Iota<V>();
        for (int g = 0; g < m; g += w)
        {
            int lanes = Math.Min(w, m - g);
            int firstLastKey = i0 + g + p.Offset - j0;
            bool causal = p.Causal && firstLastKey < nk - 1;
            int seen = causal ? Math.Clamp(firstLastKey + lanes, 0, nk) : nk;
            V lastKey = iota + V.Splat(firstLastKey);
            float* mask = p.Mask == null ? null : p.MaskAt(b, h, i0 + g) + j0;
            V laneShift = V.Load(shift + g), laneDelta = V.Load(delta + g);
            for (int jl = seen; jl < nk; jl++) V.Store(V.Splat(0f), dST + (nint)jl * ld + g);
            for (int jl = 0; jl < seen; jl++)
            {
                nint at = (nint)jl * ld + g;
                V x = V.Load(sT + at);
                if (mask != null) x += MaskLanes<V>(mask + jl, p.MaskRowStride, lanes);
                V dropped = causal ? V.LessThan(lastKey, V.Splat(jl)) : V.Splat(0f);
                V probability = VectorMath.Exp(V.Select(dropped, negativeInfinity, x) - laneShift);
                V.Store(V.Select(dropped, V.Splat(0f), probability * (V.Load(dST + at) - laneDelta)), dST + at);
            }
        }
    }

    /// <summary>What exp(s - shift) subtracts for p = exp(s - lse): lse, or +inf for a fully masked row (so p = 0, never NaN).</summary>
    private static float ExponentShift(float lse) => float.IsNegativeInfinity(lse) ? float.PositiveInfinity : lse;

    /// <summary>delta[r] = dout_r . out_r for m rows of length d; the padding up to a register is left as is.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Deltas<V>(float* dout, float* output, int m, int d, float* delta) where V : unmanaged, IFloatVector<V>
    {
        int w = V.Count;
        for (int r = 0; r < m; r++)
        {
            float* x = dout + (nint)r * d, y = output + (nint)r * d;
            V acc = V.Splat(0f);
            int c = 0;
            for (; c <= d - w; c += w) acc = V.MultiplyAdd(V.Load(x + c), V.Load(y + c), acc);
            if (c < d) acc = V.MultiplyAdd(Lanes.LoadPartial<V>(x + c, d - c, 0f), Lanes.LoadPartial<V>(y + c, d - c, 0f), acc);
            delta[r] = V.SumLanes(acc);
        }
    }

    // ---------------------------------------------------------------- products

    /// <summary>
    /// C [rows, columns] (leading dimension ldc) from A(r, k) = a[r * aRow + k * aDepth] and
    /// B(k, c) = b[k * ldb + c], k &lt; depth, stored through the epilogue (the products are summed
    /// by fused multiply-adds in order of k from 0, then stored). Columns go 2W at a time, then by
    /// registers; the last register may be partial (B's rows and C are then read and written lane
    /// by lane). Rows beyond A's last row are never read. Under a causal band, tiles wholly above
    /// the diagonal are not computed (C keeps what it held) and each row tile's depth is cut to the
    /// terms that are not masked (the masked ones are exact zeros).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Product<V>(int rows, int columns, int depth, float* a, nint aRow, nint aDepth, float* b, nint ldb,
        float* c, nint ldc, in Epilogue epilogue, in Band band) where V : unmanaged, IFloatVector<V>
    {
        int w = V.Count;
        for (int r0 = 0; r0 < rows; r0 += TileRows)
        {
            int tileRows = Math.Min(TileRows, rows - r0);
            band.Bounds(r0, r0 + tileRows, columns, depth, out int firstColumn, out int endColumn, out int firstDepth, out int endDepth);
            if (endDepth <= firstDepth) continue;
            float* aTile = a + r0 * aRow + firstDepth * aDepth, bTile = b + firstDepth * ldb, cTile = c + r0 * ldc;
            int tileDepth = endDepth - firstDepth;
            var tileEpilogue = epilogue.From(r0);
            int c0 = 0;
            for (; c0 <= columns - 2 * w; c0 += 2 * w)
            {
                if (c0 + 2 * w <= firstColumn || c0 >= endColumn) continue;
                if (typeof(V) == typeof(Vector256Float))
                    Tile6x16(tileDepth, aTile, aRow, aDepth, tileRows, bTile + c0, ldb, cTile + c0, ldc, tileEpilogue);
                else
                    Tile2<V>(tileDepth, aTile, aRow, aDepth, tileRows, bTile + c0, ldb, cTile + c0, ldc, tileEpilogue);
            }
            for (; c0 < columns; c0 += w)
            {
                if (c0 + w <= firstColumn || c0 >= endColumn) continue;
                Tile1<V>(tileDepth, aTile, aRow, aDepth, tileRows, bTile + c0, ldb, Math.Min(w, columns - c0), cTile + c0, ldc, tileEpilogue);
            }
        }
    }

    /// <summary>
    /// A 6 x 2W tile of C in twelve accumulators (AVX2: 12 of the 16 registers, plus 2 for B and 1
    /// broadcast). Per k: 2 loads, 6 broadcasts, 12 FMAs. Rows past <paramref name="rows"/> repeat
    /// A's last row and are not stored.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile2<V>(int depth, float* a, nint aRow, nint aDepth, int rows, float* b, nint ldb,
        float* c, nint ldc, in Epilogue e) where V : unmanaged, IFloatVector<V>
    {
        int w = V.Count, last = rows - 1;
        float* a0 = a, a1 = a + Math.Min(1, last) * aRow, a2 = a + Math.Min(2, last) * aRow;
        float* a3 = a + Math.Min(3, last) * aRow, a4 = a + Math.Min(4, last) * aRow, a5 = a + Math.Min(5, last) * aRow;
        V c00 = V.Splat(0f), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
        V c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
        nint o = 0;
        for (int k = 0; k < depth; k++)
        {
            V b0 = V.Load(b), b1 = V.Load(b + w);
            V x = V.Splat(a0[o]);
            c00 = V.MultiplyAdd(x, b0, c00); c01 = V.MultiplyAdd(x, b1, c01);
            x = V.Splat(a1[o]);
            c10 = V.MultiplyAdd(x, b0, c10); c11 = V.MultiplyAdd(x, b1, c11);
            x = V.Splat(a2[o]);
            c20 = V.MultiplyAdd(x, b0, c20); c21 = V.MultiplyAdd(x, b1, c21);
            x = V.Splat(a3[o]);
            c30 = V.MultiplyAdd(x, b0, c30); c31 = V.MultiplyAdd(x, b1, c31);
            x = V.Splat(a4[o]);
            c40 = V.MultiplyAdd(x, b0, c40); c41 = V.MultiplyAdd(x, b1, c41);
            x = V.Splat(a5[o]);
            c50 = V.MultiplyAdd(x, b0, c50); c51 = V.MultiplyAdd(x, b1, c51);
            b += ldb;
            o += aDepth;
        }
        e.Store(c00, c, 0); e.Store(c01, c + w, 0);
        if (rows > 1) { e.Store(c10, c + ldc, 1); e.Store(c11, c + ldc + w, 1); }
        if (rows > 2) { e.Store(c20, c + 2 * ldc, 2); e.Store(c21, c + 2 * ldc + w, 2); }
        if (rows > 3) { e.Store(c30, c + 3 * ldc, 3); e.Store(c31, c + 3 * ldc + w, 3); }
        if (rows > 4) { e.Store(c40, c + 4 * ldc, 4); e.Store(c41, c + 4 * ldc + w, 4); }
        if (rows > 5) { e.Store(c50, c + 5 * ldc, 5); e.Store(c51, c + 5 * ldc + w, 5); }
    }

    /// <summary>
    /// <see cref="Tile2"/> for AVX2 written on Vector256 directly: over the generic register struct
    /// the JIT spends a register copy on every second FMA, which costs a fifth of the speed.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Tile6x16(int depth, float* a, nint aRow, nint aDepth, int rows, float* b, nint ldb,
        float* c, nint ldc, in Epilogue e)
    {
        int last = rows - 1;
        float* a0 = a, a1 = a + Math.Min(1, last) * aRow, a2 = a + Math.Min(2, last) * aRow;
        float* a3 = a + Math.Min(3, last) * aRow, a4 = a + Math.Min(4, last) * aRow, a5 = a + Math.Min(5, last) * aRow;
        Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector256<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        nint o = 0;
        for (int k = 0; k < depth; k++)
        {
            var b0 = Vector256.Load(b);
            var b1 = Vector256.Load(b + 8);
            var x = Vector256.Create(a0[o]);
            c00 = Vector256.FusedMultiplyAdd(x, b0, c00); c01 = Vector256.FusedMultiplyAdd(x, b1, c01);
            x = Vector256.Create(a1[o]);
            c10 = Vector256.FusedMultiplyAdd(x, b0, c10); c11 = Vector256.FusedMultiplyAdd(x, b1, c11);
            x = Vector256.Create(a2[o]);
            c20 = Vector256.FusedMultiplyAdd(x, b0, c20); c21 = Vector256.FusedMultiplyAdd(x, b1, c21);
            x = Vector256.Create(a3[o]);
            c30 = Vector256.FusedMultiplyAdd(x, b0, c30); c31 = Vector256.FusedMultiplyAdd(x, b1, c31);
            x = Vector256.Create(a4[o]);
            c40 = Vector256.FusedMultiplyAdd(x, b0, c40); c41 = Vector256.FusedMultiplyAdd(x, b1, c41);
            x = Vector256.Create(a5[o]);
            c50 = Vector256.FusedMultiplyAdd(x, b0, c50); c51 = Vector256.FusedMultiplyAdd(x, b1, c51);
            b += ldb;
            o += aDepth;
        }
        e.Store<Vector256Float>(new(c00), c, 0); e.Store<Vector256Float>(new(c01), c + 8, 0);
        if (rows > 1) { e.Store<Vector256Float>(new(c10), c + ldc, 1); e.Store<Vector256Float>(new(c11), c + ldc + 8, 1); }
        if (rows > 2) { e.Store<Vector256Float>(new(c20), c + 2 * ldc, 2); e.Store<Vector256Float>(new(c21), c + 2 * ldc + 8, 2); }
        if (rows > 3) { e.Store<Vector256Float>(new(c30), c + 3 * ldc, 3); e.Store<Vector256Float>(new(c31), c + 3 * ldc + 8, 3); }
        if (rows > 4) { e.Store<Vector256Float>(new(c40), c + 4 * ldc, 4); e.Store<Vector256Float>(new(c41), c + 4 * ldc + 8, 4); }
        if (rows > 5) { e.Store<Vector256Float>(new(c50), c + 5 * ldc, 5); e.Store<Vector256Float>(new(c51), c + 5 * ldc + 8, 5); }
    }

    /// <summary>A 6 x <paramref name="columns"/> tile (at most one register wide), the same chains as <see cref="Tile2"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile1<V>(int depth, float* a, nint aRow, nint aDepth, int rows, float* b, nint ldb, int columns,
        float* c, nint ldc, in Epilogue e) where V : unmanaged, IFloatVector<V>
    {
        int last = rows - 1;
        bool full = columns == V.Count;
        float* a0 = a, a1 = a + Math.Min(1, last) * aRow, a2 = a + Math.Min(2, last) * aRow;
        float* a3 = a + Math.Min(3, last) * aRow, a4 = a + Math.Min(4, last) * aRow, a5 = a + Math.Min(5, last) * aRow;
        V c0 = V.Splat(0f), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0;
        nint o = 0;
        for (int k = 0; k < depth; k++)
        {
            V b0 = full ? V.Load(b) : Lanes.LoadPartial<V>(b, columns, 0f);
            c0 = V.MultiplyAdd(V.Splat(a0[o]), b0, c0);
            c1 = V.MultiplyAdd(V.Splat(a1[o]), b0, c1);
            c2 = V.MultiplyAdd(V.Splat(a2[o]), b0, c2);
            c3 = V.MultiplyAdd(V.Splat(a3[o]), b0, c3);
            c4 = V.MultiplyAdd(V.Splat(a4[o]), b0, c4);
            c5 = V.MultiplyAdd(V.Splat(a5[o]), b0, c5);
            b += ldb;
            o += aDepth;
        }
        if (full)
        {
            e.Store(c0, c, 0);
            if (rows > 1) e.Store(c1, c + ldc, 1);
            if (rows > 2) e.Store(c2, c + 2 * ldc, 2);
            if (rows > 3) e.Store(c3, c + 3 * ldc, 3);
            if (rows > 4) e.Store(c4, c + 4 * ldc, 4);
            if (rows > 5) e.Store(c5, c + 5 * ldc, 5);
            return;
        }
        float* tile = stackalloc float[TileRows * Lanes.MaxCount];
        V.Store(c0, tile); V.Store(c1, tile + Lanes.MaxCount); V.Store(c2, tile + 2 * Lanes.MaxCount);
        V.Store(c3, tile + 3 * Lanes.MaxCount); V.Store(c4, tile + 4 * Lanes.MaxCount); V.Store(c5, tile + 5 * Lanes.MaxCount);
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < columns; j++)
            {
                float value = tile[r * Lanes.MaxCount + j];
                float* at = c + r * ldc + j;
                *at = !e.Accumulate ? e.Alpha * value : e.RowScale == null ? *at + value : MathF.FusedMultiplyAdd(*at, e.RowScale[r], value);
            }
    }

    /// <summary>
    /// How a product stores its tiles: C = Alpha * acc, or with Accumulate C = C + acc, or
    /// C * RowScale[r] + acc (one rounding) when there is a row scale. Passed by reference so the
    /// k loops keep all sixteen registers for the tile.
    /// </summary>
    private readonly struct Epilogue(float* rowScale, bool accumulate, float alpha)
    {
        public readonly float* RowScale = rowScale;
        public readonly bool Accumulate = accumulate;
        public readonly float Alpha = alpha;

        public static Epilogue Scaled(float alpha) => new(null, false, alpha);
        public static Epilogue Add => new(null, true, 1f);
        public static Epilogue RescaleAdd(float* rowScale) => new(rowScale, true, 1f);

        /// <summary>The same epilogue for the rows from r0 on.</summary>
        public Epilogue From(int r0) => new(RowScale == null ? null : RowScale + r0, Accumulate, Alpha);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Store<V>(V acc, float* c, int r) where V : unmanaged, IFloatVector<V>
        {
            if (!Accumulate) V.Store(V.Splat(Alpha) * acc, c);
            else if (RowScale == null) V.Store(V.Load(c) + acc, c);
            else V.Store(V.MultiplyAdd(V.Load(c), V.Splat(RowScale[r]), acc), c);
        }
    }

    /// <summary>The axes of a product: rows and columns of C, and the summed depth.</summary>
    private enum Axis { None, Rows, Columns, Depth }

    /// <summary>
    /// The causal mask as a product sees it: block-local key index on one axis, query index on
    /// another, and key &gt; query + Diagonal masked (Diagonal = i0 + Tk - Tq - j0 for query block
    /// i0 and key block j0). Keys = Axis.None for no mask.
    /// </summary>
    private readonly struct Band(Axis keys, Axis queries, int diagonal)
    {
        private readonly Axis _keys = keys, _queries = queries;
        private readonly int _diagonal = diagonal;

        public static Band None => new(Axis.None, Axis.None, 0);

        /// <summary>
        /// For the row tile [r0, r1): the columns [firstColumn, endColumn) and depths
        /// [firstDepth, endDepth) outside which every term is masked.
        /// </summary>
        public void Bounds(int r0, int r1, int columns, int depth, out int firstColumn, out int endColumn,
            out int firstDepth, out int endDepth)
        {
            firstColumn = 0; endColumn = columns; firstDepth = 0; endDepth = depth;
            if (_keys == Axis.Rows && _queries == Axis.Columns) firstColumn = Math.Clamp(r0 - _diagonal, 0, columns);
            else if (_keys == Axis.Columns && _queries == Axis.Rows) endColumn = Math.Clamp(r1 + _diagonal, 0, columns);
            else if (_keys == Axis.Rows && _queries == Axis.Depth) firstDepth = Math.Clamp(r0 - _diagonal, 0, depth);
            else if (_keys == Axis.Depth && _queries == Axis.Rows) endDepth = Math.Clamp(r1 + _diagonal, 0, depth);
        }
    }

    // ---------------------------------------------------------------- helpers

    /// <summary>
    /// dst [d, ld]: dst[c, r] = src[r, c] for n rows of length d, columns [n, padTo) zeroed, so a
    /// product reading whole registers of dst sees zeros past the rows.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Transpose<V>(float* src, int n, int d, float* dst, int ld, int padTo) where V : unmanaged, IFloatVector<V>
    {
        int w = V.Count;
        for (int c = 0; c < d; c++)
        {
            float* row = dst + (nint)c * ld;
            int r = 0;
            for (; r <= n - w; r += w) V.Store(V.LoadStrided(src + (nint)r * d + c, d), row + r);
            for (; r < n; r++) row[r] = src[(nint)r * d + c];
            for (; r < padTo; r++) row[r] = 0f;
        }
    }

    /// <summary>
    /// Asks for the cache lines of x[0, length) ahead of use (into L2), so a sweep over rows that
    /// come from memory does not wait for each line in turn.
    /// </summary>
    private static void Prefetch(float* x, nint length)
    {
        if (!Sse.IsSupported) return;
        for (nint i = 0; i < length; i += 16) Sse.Prefetch1(x + i);
    }

    /// <summary>Mask values of `lanes` consecutive queries at one key (stride apart), 0 in the lanes beyond.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static V MaskLanes<V>(float* mask, long stride, int lanes) where V : unmanaged, IFloatVector<V>
    {
        if (stride == 0) return V.Splat(mask[0]);
        if (lanes == V.Count) return V.LoadStrided(mask, stride);
        return PartialStrided<V>(mask, stride, lanes);
    }

    private static V PartialStrided<V>(float* source, long stride, int lanes) where V : unmanaged, IFloatVector<V>
    {
        float* buffer = stackalloc float[Lanes.MaxCount];
        V.Store(V.Splat(0f), buffer);
        for (int l = 0; l < lanes; l++) buffer[l] = source[l * stride];
        return V.Load(buffer);
    }

    /// <summary>0, 1, 2, ... in the lanes.</summary>
    private static V Iota<V>() where V : unmanaged, IFloatVector<V>
    {
        float* lanes = stackalloc float[Lanes.MaxCount];
        for (int l = 0; l < Lanes.MaxCount; l++) lanes[l] = l;
        return V.Load(lanes);
    }

    /// <summary>destination[0, d) = source[0, d) * factor.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ScaleRow<V>(float* source, float* destination, int d, float factor) where V : unmanaged, IFloatVector<V>
    {
        int w = V.Count, c = 0;
        V f = V.Splat(factor);
        for (; c <= d - w; c += w) V.Store(V.Load(source + c) * f, destination + c);
        if (c < d) Lanes.StorePartial(V.Load(source + c) * f, destination + c, d - c);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ScaleInPlace<V>(float* x, long count, float factor) where V : unmanaged, IFloatVector<V>
    {
        for (long start = 0; start < count; start += int.MaxValue)
        {
            int length = (int)Math.Min(int.MaxValue, count - start);
            int w = V.Count, c = 0;
            float* at = x + start;
            V f = V.Splat(factor);
            for (; c <= length - w; c += w) V.Store(V.Load(at + c) * f, at + c);
            for (; c < length; c++) at[c] *= factor;
        }
    }

    private static void Clear(float* x, long count)
    {
        for (long start = 0; start < count; start += int.MaxValue)
            new Span<float>(x + start, (int)Math.Min(int.MaxValue, count - start)).Clear();
    }

    /// <summary>Per-task scratch: the thread's buffer, grown on demand and kept.</summary>
    [ThreadStatic] private static Matmul.PackBuffer? t_scratch;

    private static float* Scratch(nint floats) => (t_scratch ??= new Matmul.PackBuffer()).Reserve(floats);

    /// <summary>The next <paramref name="floats"/> floats of the scratch, each region starting on a 64-byte line.</summary>
    private static float* Take(ref float* cursor, nint floats)
    {
        float* region = cursor;
        cursor += RoundUp(floats, 16);
        return region;
    }

    private static int CeilDiv(int value, int divisor) => (value + divisor - 1) / divisor;
    private static int RoundUp(int value, int multiple) => CeilDiv(value, multiple) * multiple;
    private static nint RoundUp(nint value, int multiple) => (value + multiple - 1) / multiple * multiple;

    /// <summary>The call's sizes and tensors, with the addressing of AttentionDesc.</summary>
    private readonly struct Problem
    {
        public readonly int Batch, Heads, KvHeads, Group, Tq, Tk, D;
        public readonly float Scale;
        public readonly bool Causal;
        public readonly long MaskBatchStride, MaskHeadStride, MaskRowStride;
        public readonly float* Q, K, V, Mask, Out, Lse, DOut, DQ, DK, DV;

        public Problem(in AttentionDesc desc, float* q, float* k, float* v, float* mask, float* output, float* lse,
            float* dout, float* dq, float* dk, float* dv)
        {
            if (desc.Batch < 0 || desc.QueryHeads < 0 || desc.KvHeads < 0 || desc.QueryLength < 0 || desc.KeyLength < 0 || desc.HeadSize < 0)
                throw new ArgumentException($"Attention: negative size in batch {desc.Batch}, heads {desc.QueryHeads}/{desc.KvHeads}, lengths {desc.QueryLength}/{desc.KeyLength}, head size {desc.HeadSize}.");
            if (desc.QueryHeads > 0 && (desc.KvHeads == 0 || desc.QueryHeads % desc.KvHeads != 0))
                throw new ArgumentException($"Attention: {desc.QueryHeads} query heads are not a multiple of {desc.KvHeads} kv heads.");
            Batch = desc.Batch; Heads = desc.QueryHeads; KvHeads = desc.KvHeads;
            Group = KvHeads == 0 ? 1 : Heads / KvHeads;
            Tq = desc.QueryLength; Tk = desc.KeyLength; D = desc.HeadSize;
            Scale = desc.Scale;
            Causal = desc.Causal != 0;
            bool hasMask = desc.HasMask != 0;
            MaskBatchStride = desc.MaskBatchStride; MaskHeadStride = desc.MaskHeadStride; MaskRowStride = desc.MaskRowStride;
            Q = q; K = k; V = v; Mask = hasMask ? mask : null; Out = output; Lse = lse;
            DOut = dout; DQ = dq; DK = dk; DV = dv;
        }

        /// <summary>Tk - Tq: under the causal mask query i sees keys j &lt;= i + Offset.</summary>
        public int Offset => Tk - Tq;

        public int KvHead(int h) => h / Group;

        /// <summary>The causal band of a product over query block i0 and key block j0, keys and queries on the given axes.</summary>
        public Attention.Band Band(int i0, int j0, Axis keys, Axis queries) =>
            Causal ? new(keys, queries, i0 + Offset - j0) : Attention.Band.None;

        /// <summary>Keys [0, KeyLimit(i)) are the ones query i may see.</summary>
        public int KeyLimit(int i) => Causal ? Math.Clamp(i + Offset + 1, 0, Tk) : Tk;

        /// <summary>The first query that sees key j (Tq if none).</summary>
        public int FirstQuery(int j) => Causal ? Math.Clamp(j - Offset, 0, Tq) : 0;

        /// <summary>Row 0 of head (b, h) of a [B, H, Tq, D] tensor.</summary>
        public float* QueryRows(float* tensor, int b, int h) => tensor + ((long)b * Heads + h) * Tq * D;

        /// <summary>Row 0 of kv head (b, kvh) of a [B, Hkv, Tk, D] tensor.</summary>
        public float* KeyRows(float* tensor, int b, int kvh) => tensor + ((long)b * KvHeads + kvh) * Tk * D;

        public float* LseRow(int b, int h) => Lse + ((long)b * Heads + h) * Tq;

        /// <summary>The mask value of (b, h, query i, key 0).</summary>
        public float* MaskAt(int b, int h, int i) => Mask + b * MaskBatchStride + h * MaskHeadStride + i * MaskRowStride;
    }
}
