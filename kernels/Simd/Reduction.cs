using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Engine.Kernels.Simd;

// Reductions of contiguous x [outer, n, inner] over the middle axis into y [outer, inner]:
//   Sum:    y[o, j] = sum_i x[o, i, j]          Mean: Sum / n
//   Max:    y[o, j] = max_i x[o, i, j]          (NaN if any element is NaN, as torch)
//   ArgMax: y[o, j] = first i where x[o, i, j] is the maximum (int32 written over y; a NaN
//           counts as the maximum, so the first NaN wins, as torch)
// inner == 1 reduces contiguous rows, one register of lanes per step; inner > 1 reduces
// register-wide blocks of columns, stepping down the rows with stride inner.
// Sums are pairwise: leaves (2048 elements of a row, or 64 rows of a column block) are summed
// into four register accumulators, and leaves combine in a binary tree whose shape depends only
// on n. Each lane's rounding error then grows with log n, and the result is bitwise the same
// for any thread count: when there are fewer outputs than cores, the top levels of the same
// tree run in parallel; otherwise whole outputs are spread over the cores. ArgMax finds the
// maximum first and then scans for its first occurrence.
public static unsafe class Reduction
{
    /// <summary>Contiguous elements per leaf of a row reduction.</summary>
    private const int RowLeafLength = 2048;
    /// <summary>Rows per leaf of a column-block reduction.</summary>
    private const int ColumnLeafRows = 64;
    /// <summary>Tree nodes covering fewer elements than this do not split across threads.</summary>
    private const long MinParallelNodeElements = 1 << 16;

    public static void Forward(ReduceOp op, float* x, float* y, int outer, int n, int inner)
    {
        if (Vector512.IsHardwareAccelerated) Forward<Vector512Float>(op, x, y, outer, n, inner);
        else if (Vector256.IsHardwareAccelerated) Forward<Vector256Float>(op, x, y, outer, n, inner);
        else Forward<Vector128Float>(op, x, y, outer, n, inner);
    }

    private static void Forward<V>(ReduceOp op, float* x, float* y, int outer, int n, int inner) where V : unmanaged, IFloatVector<V>
    {
        int blocks = inner == 1 ? 1 : (inner + V.Count - 1) / V.Count;
        int outputs = outer * blocks;
        bool spreadOutputs = outputs >= Environment.ProcessorCount || (long)outer * n * inner < Parallelism.MinParallelElements;
        int treeDepth = spreadOutputs ? 0 : BitOperations.Log2((uint)Environment.ProcessorCount - 1) + 2;
        if (inner == 1)
        {
            var rows = new Rows<V>(op, x, y, n, treeDepth);
            if (spreadOutputs) Parallelism.ForRows(outer, n, rows);
            else rows.Run(0, outer);
        }
        else
        {
            var columns = new ColumnBlocks<V>(op, x, y, n, inner, blocks, treeDepth);
            if (spreadOutputs) Parallelism.ForRows(outputs, (long)n * V.Count, columns);
            else columns.Run(0, outputs);
        }
    }

    /// <summary>Reduces whole contiguous rows [start, end).</summary>
    private readonly struct Rows<V>(ReduceOp op, float* x, float* y, int n, int treeDepth) : IRowKernel where V : unmanaged, IFloatVector<V>
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int start, int end)
        {
            for (int o = start; o < end; o++)
            {
                float* row = x + (long)o * n;
                switch (op)
                {
                    case ReduceOp.Sum: y[o] = V.SumLanes(Tree<V, RowSum<V>>(default, row, n, treeDepth)); break;
                    case ReduceOp.Mean: y[o] = V.SumLanes(Tree<V, RowSum<V>>(default, row, n, treeDepth)) / n; break;
                    case ReduceOp.Max: y[o] = V.MaxLane(Tree<V, RowMax<V>>(default, row, n, treeDepth)); break;
                    default: ((int*)y)[o] = FirstIndexOf(row, n, V.MaxLane(Tree<V, RowMax<V>>(default, row, n, treeDepth))); break;
                }
            }
        }

        /// <summary>First i with row[i] == target (or row[i] NaN when target is NaN); 0 if none (empty row).</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private static int FirstIndexOf(float* row, int n, float target)
        {
            V wanted = V.Splat(target);
            bool nan = float.IsNaN(target);
            for (int i = 0; i < n; i += V.Count)
            {
                int count = Math.Min(V.Count, n - i);
                V values = count == V.Count ? V.Load(row + i) : Lanes.LoadPartial<V>(row + i, count, 0f);
                ulong hits = V.MaskBits(nan ? V.IsNaN(values) : V.Equal(values, wanted)) & LaneMask(count);
                if (hits != 0) return i + BitOperations.TrailingZeroCount(hits);
            }
            return 0;
        }
    }

    /// <summary>Reduces register-wide column blocks: output unit u is block u % blocks of outer index u / blocks.</summary>
    private readonly struct ColumnBlocks<V>(ReduceOp op, float* x, float* y, int n, int inner, int blocks, int treeDepth) : IRowKernel
        where V : unmanaged, IFloatVector<V>
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int start, int end)
        {
            for (int unit = start; unit < end; unit++)
            {
                int o = unit / blocks, j = unit % blocks * V.Count;
                int lanes = Math.Min(V.Count, inner - j);
                float* column = x + (long)o * n * inner + j;
                float* output = y + (long)o * inner + j;
                switch (op)
                {
                    case ReduceOp.Sum: Store(Tree<V, ColumnSum<V>>(new(inner, lanes), column, n, treeDepth), output, lanes); break;
                    case ReduceOp.Mean: Store(Tree<V, ColumnSum<V>>(new(inner, lanes), column, n, treeDepth) / V.Splat(n), output, lanes); break;
                    case ReduceOp.Max: Store(Tree<V, ColumnMax<V>>(new(inner, lanes), column, n, treeDepth), output, lanes); break;
                    default: WriteFirstIndices(column, (int*)output, lanes, Tree<V, ColumnMax<V>>(new(inner, lanes), column, n, treeDepth)); break;
                }
            }
        }

        private static void Store(V value, float* output, int lanes)
        {
            if (lanes == V.Count) V.Store(value, output);
            else Lanes.StorePartial(value, output, lanes);
        }

        /// <summary>For each lane, the first row whose value is the lane's maximum (or NaN when the maximum is NaN).</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void WriteFirstIndices(float* column, int* output, int lanes, V max)
        {
            ulong pending = LaneMask(lanes);
            for (int lane = 0; lane < lanes; lane++) output[lane] = 0;
            V nanMax = V.IsNaN(max);
            for (int i = 0; i < n && pending != 0; i++)
            {
                V values = Load<V>(column + (long)i * inner, lanes, 0f);
                ulong hits = V.MaskBits(V.Select(nanMax, V.IsNaN(values), V.Equal(values, max))) & pending;
                pending &= ~hits;
                for (; hits != 0; hits &= hits - 1) output[BitOperations.TrailingZeroCount(hits)] = i;
            }
        }
    }

    /// <summary>
    /// Pairwise reduction of <paramref name="count"/> items (elements or rows) starting at
    /// <paramref name="start"/>: leaves reduced by <typeparamref name="R"/>, then combined in a
    /// binary tree split at whole leaves. With <paramref name="parallelDepth"/> &gt; 0 the top
    /// levels run their halves in parallel; the tree, and so the result, is the same either way.
    /// </summary>
    private static V Tree<V, R>(R reducer, float* start, int count, int parallelDepth)
        where V : unmanaged, IFloatVector<V> where R : struct, ILeafReducer<V>
    {
        if (count <= reducer.LeafItems) return reducer.Leaf(start, count);
        int leaves = (count + reducer.LeafItems - 1) / reducer.LeafItems;
        int half = leaves / 2 * reducer.LeafItems;
        float* second = start + (long)half * reducer.ItemStride;
        if (parallelDepth > 0 && (long)count * reducer.ItemElements >= 2 * MinParallelNodeElements)
            return ParallelHalves<V, R>(reducer, start, half, second, count - half, parallelDepth - 1);
        return reducer.Combine(Tree<V, R>(reducer, start, half, 0), Tree<V, R>(reducer, second, count - half, 0));
    }

    private static V ParallelHalves<V, R>(R reducer, float* first, int firstCount, float* second, int secondCount, int depth)
        where V : unmanaged, IFloatVector<V> where R : struct, ILeafReducer<V>
    {
        V left = default, right = default;
        nint firstAddress = (nint)first, secondAddress = (nint)second;
        Parallel.Invoke(
            () => left = Tree<V, R>(reducer, (float*)firstAddress, firstCount, depth),
            () => right = Tree<V, R>(reducer, (float*)secondAddress, secondCount, depth));
        return reducer.Combine(left, right);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong LaneMask(int lanes) => lanes >= 64 ? ulong.MaxValue : (1UL << lanes) - 1;

    /// <summary>Loads the first <paramref name="lanes"/> floats, the rest filled.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static V Load<V>(float* source, int lanes, float fill) where V : unmanaged, IFloatVector<V> =>
        lanes == V.Count ? V.Load(source) : Lanes.LoadPartial<V>(source, lanes, fill);

    /// <summary>Reduces one leaf of items to a register of partial results, and combines two such registers.</summary>
    private interface ILeafReducer<V> where V : unmanaged, IFloatVector<V>
    {
        /// <summary>Items per leaf.</summary>
        int LeafItems { get; }
        /// <summary>Floats between consecutive items.</summary>
        int ItemStride { get; }
        /// <summary>Elements read per item (to size parallel work).</summary>
        int ItemElements { get; }
        V Leaf(float* start, int count);
        V Combine(V a, V b);
    }

    /// <summary>Lane sums over contiguous elements.</summary>
    private readonly struct RowSum<V> : ILeafReducer<V> where V : unmanaged, IFloatVector<V>
    {
        public int LeafItems => RowLeafLength;
        public int ItemStride => 1;
        public int ItemElements => 1;
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public V Combine(V a, V b) => a + b;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public V Leaf(float* start, int count)
        {
            V s0 = V.Splat(0f), s1 = s0, s2 = s0, s3 = s0;
            int w = V.Count, i = 0;
            for (; i <= count - 4 * w; i += 4 * w)
            {
                s0 += V.Load(start + i);
                s1 += V.Load(start + i + w);
                s2 += V.Load(start + i + 2 * w);
                s3 += V.Load(start + i + 3 * w);
            }
            for (; i <= count - w; i += w) s0 += V.Load(start + i);
            if (i < count) s1 += Lanes.LoadPartial<V>(start + i, count - i, 0f);
            return (s0 + s1) + (s2 + s3);
        }
    }

    /// <summary>Lane maxima over contiguous elements (NaN where the lane saw a NaN).</summary>
    private readonly struct RowMax<V> : ILeafReducer<V> where V : unmanaged, IFloatVector<V>
    {
        public int LeafItems => RowLeafLength;
        public int ItemStride => 1;
        public int ItemElements => 1;
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public V Combine(V a, V b) => V.Max(a, b);

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public V Leaf(float* start, int count)
        {
            V m0 = V.Splat(float.NegativeInfinity), m1 = m0, m2 = m0, m3 = m0;
            V nan = V.Splat(0f);
            int w = V.Count, i = 0;
            for (; i <= count - 4 * w; i += 4 * w)
            {
                V x0 = V.Load(start + i), x1 = V.Load(start + i + w), x2 = V.Load(start + i + 2 * w), x3 = V.Load(start + i + 3 * w);
                m0 = V.MaxFast(m0, x0);
                m1 = V.MaxFast(m1, x1);
                m2 = V.MaxFast(m2, x2);
                m3 = V.MaxFast(m3, x3);
                nan |= (V.IsNaN(x0) | V.IsNaN(x1)) | (V.IsNaN(x2) | V.IsNaN(x3));
            }
            for (; i < count; i += w)
            {
                V x0 = i <= count - w ? V.Load(start + i) : Lanes.LoadPartial<V>(start + i, count - i, float.NegativeInfinity);
                m0 = V.MaxFast(m0, x0);
                nan |= V.IsNaN(x0);
            }
            return V.Select(nan, V.Splat(float.NaN), V.Max(V.Max(m0, m1), V.Max(m2, m3)));
        }
    }

    /// <summary>Per-lane sums down a block of <c>lanes</c> columns, rows <c>stride</c> floats apart.</summary>
    private readonly struct ColumnSum<V>(int stride, int lanes) : ILeafReducer<V> where V : unmanaged, IFloatVector<V>
    {
        public int LeafItems => ColumnLeafRows;
        public int ItemStride => stride;
        public int ItemElements => V.Count;
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public V Combine(V a, V b) => a + b;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public V Leaf(float* start, int count)
        {
            V s0 = V.Splat(0f), s1 = s0, s2 = s0, s3 = s0;
            int i = 0;
            for (; i <= count - 4; i += 4)
            {
                s0 += Load<V>(start + (long)i * stride, lanes, 0f);
                s1 += Load<V>(start + (long)(i + 1) * stride, lanes, 0f);
                s2 += Load<V>(start + (long)(i + 2) * stride, lanes, 0f);
                s3 += Load<V>(start + (long)(i + 3) * stride, lanes, 0f);
            }
            for (; i < count; i++) s0 += Load<V>(start + (long)i * stride, lanes, 0f);
            return (s0 + s1) + (s2 + s3);
        }
    }

    /// <summary>Per-lane maxima down a block of <c>lanes</c> columns, rows <c>stride</c> floats apart (NaN where a lane saw a NaN).</summary>
    private readonly struct ColumnMax<V>(int stride, int lanes) : ILeafReducer<V> where V : unmanaged, IFloatVector<V>
    {
        public int LeafItems => ColumnLeafRows;
        public int ItemStride => stride;
        public int ItemElements => V.Count;
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public V Combine(V a, V b) => V.Max(a, b);

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public V Leaf(float* start, int count)
        {
            V m0 = V.Splat(float.NegativeInfinity), m1 = m0;
            V nan = V.Splat(0f);
            int i = 0;
            for (; i <= count - 2; i += 2)
            {
                V x0 = Load<V>(start + (long)i * stride, lanes, float.NegativeInfinity);
                V x1 = Load<V>(start + (long)(i + 1) * stride, lanes, float.NegativeInfinity);
                m0 = V.MaxFast(m0, x0);
                m1 = V.MaxFast(m1, x1);
                nan |= V.IsNaN(x0) | V.IsNaN(x1);
            }
            if (i < count)
            {
                V x0 = Load<V>(start + (long)i * stride, lanes, float.NegativeInfinity);
                m0 = V.MaxFast(m0, x0);
                nan |= V.IsNaN(x0);
            }
            return V.Select(nan, V.Splat(float.NaN), V.Max(m0, m1));
        }
    }
}
