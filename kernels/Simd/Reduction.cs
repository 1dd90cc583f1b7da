using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Engine.Kernels.Simd;

// Reductions of contiguous x [outer, n, inner] over the middle axis into y [outer, inner]:
//   Sum:    y[o, j] = sum_i x[o, i, j]          Mean: Sum / n
//   Max:    y[o, j] = max_i x[o, i, j]          (NaN if any element is NaN, as torch)
//   ArgMax: y[o, j] = first i where x[o, i, j] is the maximum (int32 written over y; a NaN
//           counts as the maximum, so the first NaN wins, as torch)
// inner == 1 reduces contiguous rows, one register of lanes per step. inner > 1 reduces blocks
// of up to 16 registers of adjacent columns, stepping down the rows with stride inner: a leaf of
// 64 rows is walked once per group of four registers, so its rows stay in cache and in the TLB
// while the block's columns are swept.
// Sums are pairwise: leaves (2048 elements of a row, or 64 rows of a column block) are summed in
// registers, and leaves combine in a binary tree whose shape depends only on n. Each lane's
// rounding error then grows with log n, and the result is bitwise the same for any thread count:
// when there are fewer outputs than cores, the top levels of the same tree run in parallel;
// otherwise whole outputs are spread over the cores. Maxima use the one-instruction hardware max
// and track NaNs on the side. ArgMax finds the maximum first and then scans for its first
// occurrence.
public static unsafe class Reduction
{
    /// <summary>Contiguous elements per leaf of a row reduction.</summary>
    private const int RowLeafLength = 2048;
    /// <summary>Rows per leaf of a column-block reduction.</summary>
    private const int ColumnLeafRows = 64;
    /// <summary>Registers of adjacent columns reduced together (a unit of work).</summary>
    private const int ColumnBlockRegisters = 16;
    /// <summary>Registers accumulated together while walking the rows of a leaf.</summary>
    private const int ColumnGroupRegisters = 4;
    /// <summary>Tree nodes covering fewer elements than this do not split across threads.</summary>
    private const long MinParallelNodeElements = 1 << 16;

    public static void Forward(ReduceOp op, float* x, float* y, int outer, int n, int inner)
    {
        if (SimdWidth.Use512) Forward<Vector512Float>(op, x, y, outer, n, inner);
        else if (Vector256.IsHardwareAccelerated) Forward<Vector256Float>(op, x, y, outer, n, inner);
        else Forward<Vector128Float>(op, x, y, outer, n, inner);
    }

    private static void Forward<V>(ReduceOp op, float* x, float* y, int outer, int n, int inner) where V : unmanaged, IFloatVector<V>
    {
        int blockWidth = ColumnBlockRegisters * V.Count;
        int blocks = inner == 1 ? 1 : (inner + blockWidth - 1) / blockWidth;
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
            if (spreadOutputs) Parallelism.ForRows(outputs, (long)n * blockWidth, columns);
            else columns.Run(0, outputs);
        }
    }

    // Gradient of Max along the middle axis, from the ArgMax indices (int32 [outer, inner]) of the
    // forward: dx [outer, n, inner] with
    //   dx[o, j, i] = dy[o, i] where j == index[o, i], else 0.
    // inner == 1: each row of n is cleared and its one selected element set, rows in parallel.
    // inner > 1: each row (o, j) of inner elements is one vector select against the broadcast j,
    // all outer * n rows in parallel; index and dy rows are reread from cache for every j.
    public static void MaxBackward(int* index, float* dy, float* dx, int outer, int n, int inner)
    {
        if (inner == 1) Parallelism.ForRows(outer, n, new SelectedElements(index, dy, dx, n));
        else if (SimdWidth.Use512) Parallelism.ForRows(outer * n, inner, new SelectedColumns<Vector512Float>(index, dy, dx, n, inner));
        else if (Vector256.IsHardwareAccelerated) Parallelism.ForRows(outer * n, inner, new SelectedColumns<Vector256Float>(index, dy, dx, n, inner));
        else Parallelism.ForRows(outer * n, inner, new SelectedColumns<Vector128Float>(index, dy, dx, n, inner));
    }

    /// <summary>Rows o in [start, end) of dx [outer, n]: zeros but dx[o, index[o]] = dy[o].</summary>
    private readonly struct SelectedElements(int* index, float* dy, float* dx, int n) : IRowKernel
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int start, int end)
        {
            for (int o = start; o < end; o++)
            {
                float* row = dx + (long)o * n;
                new Span<float>(row, n).Clear();
                row[index[o]] = dy[o];
            }
        }
    }

    /// <summary>Rows (o, j) = u / n, u % n for u in [start, end) of dx [outer, n, inner].</summary>
    private readonly struct SelectedColumns<V>(int* index, float* dy, float* dx, int n, int inner) : IRowKernel where V : unmanaged, IFloatVector<V>
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int start, int end)
        {
            V zero = V.Splat(0f);
            for (int u = start; u < end; u++)
            {
                int o = u / n;
                V position = V.Splat(BitConverter.Int32BitsToSingle(u % n));
                float* indices = (float*)(index + (long)o * inner);
                float* gradient = dy + (long)o * inner;
                float* row = dx + (long)u * inner;
                int w = V.Count, i = 0;
                for (; i <= inner - w; i += w) V.Store(V.Select(V.EqualBits(V.Load(indices + i), position), V.Load(gradient + i), zero), row + i);
                if (i < inner)
                {
                    int count = inner - i;
                    V selected = V.EqualBits(Lanes.LoadPartial<V>(indices + i, count, 0f), position);
                    Lanes.StorePartial(V.Select(selected, Lanes.LoadPartial<V>(gradient + i, count, 0f), zero), row + i, count);
                }
            }
        }
    }

    /// <summary>Reduces whole contiguous rows [start, end).</summary>
    private readonly struct Rows<V>(ReduceOp op, float* x, float* y, int n, int treeDepth) : IRowKernel where V : unmanaged, IFloatVector<V>
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int start, int end)
        {
            V result;
            for (int o = start; o < end; o++)
            {
                float* row = x + (long)o * n;
                switch (op)
                {
                    case ReduceOp.Sum:
                        Tree<V, RowSum<V>>(default, row, n, &result, treeDepth);
                        y[o] = V.SumLanes(result);
                        break;
                    case ReduceOp.Mean:
                        Tree<V, RowSum<V>>(default, row, n, &result, treeDepth);
                        y[o] = V.SumLanes(result) / n;
                        break;
                    case ReduceOp.Max:
                        Tree<V, RowMax<V>>(default, row, n, &result, treeDepth);
                        y[o] = V.MaxLane(result);
                        break;
                    default:
                        Tree<V, RowMax<V>>(default, row, n, &result, treeDepth);
                        ((int*)y)[o] = FirstIndexOf(row, n, V.MaxLane(result));
                        break;
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
                V values = Load<V>(row + i, count, 0f);
                ulong hits = V.MaskBits(nan ? V.IsNaN(values) : V.Equal(values, wanted)) & LaneMask(count);
                if (hits != 0) return i + BitOperations.TrailingZeroCount(hits);
            }
            return 0;
        }
    }

    /// <summary>Reduces column blocks: output unit u is block u % blocks of outer index u / blocks.</summary>
    private readonly struct ColumnBlocks<V>(ReduceOp op, float* x, float* y, int n, int inner, int blocks, int treeDepth) : IRowKernel
        where V : unmanaged, IFloatVector<V>
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int start, int end)
        {
            V* result = stackalloc V[ColumnBlockRegisters];
            int blockWidth = ColumnBlockRegisters * V.Count;
            for (int unit = start; unit < end; unit++)
            {
                int o = unit / blocks, j = unit % blocks * blockWidth;
                int width = Math.Min(blockWidth, inner - j);
                float* column = x + (long)o * n * inner + j;
                float* output = y + (long)o * inner + j;
                switch (op)
                {
                    case ReduceOp.Sum:
                        Tree<V, ColumnSum<V>>(new(inner, width), column, n, result, treeDepth);
                        Store(result, output, width);
                        break;
                    case ReduceOp.Mean:
                        Tree<V, ColumnSum<V>>(new(inner, width), column, n, result, treeDepth);
                        for (int r = 0; r < ColumnBlockRegisters; r++) result[r] /= V.Splat(n);
                        Store(result, output, width);
                        break;
                    case ReduceOp.Max:
                        Tree<V, ColumnMax<V>>(new(inner, width), column, n, result, treeDepth);
                        Store(result, output, width);
                        break;
                    default:
                        Tree<V, ColumnMax<V>>(new(inner, width), column, n, result, treeDepth);
                        WriteFirstIndices(column, (int*)output, width, result);
                        break;
                }
            }
        }

        /// <summary>Writes the first <paramref name="width"/> lanes of the block's registers.</summary>
        private static void Store(V* result, float* output, int width)
        {
            for (int r = 0; r * V.Count < width; r++)
            {
                int lanes = Math.Min(V.Count, width - r * V.Count);
                V value = result[r];
                if (lanes == V.Count) V.Store(value, output + r * V.Count);
                else Lanes.StorePartial(value, output + r * V.Count, lanes);
            }
        }

        /// <summary>
        /// For each column of the block, the first row whose value is the column's maximum (or NaN
        /// when the maximum is NaN), in one scan of the rows that stops once every column is found.
        /// Columns still searched are kept as one 64-bit mask per group of four registers.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void WriteFirstIndices(float* column, int* output, int width, V* max)
        {
            const int groups = ColumnBlockRegisters / ColumnGroupRegisters;
            int groupWidth = ColumnGroupRegisters * V.Count;
            ulong* pending = stackalloc ulong[groups];
            for (int g = 0; g < groups; g++) pending[g] = LaneMask(Math.Clamp(width - g * groupWidth, 0, groupWidth));
            for (int lane = 0; lane < width; lane++) output[lane] = 0;
            for (int i = 0; i < n; i++)
            {
                float* row = column + (long)i * inner;
                bool searching = false;
                for (int g = 0; g < groups; g++)
                {
                    if (pending[g] == 0) continue;
                    ulong hits = 0;
                    for (int r = 0; r < ColumnGroupRegisters; r++)
                    {
                        int register = g * ColumnGroupRegisters + r;
                        V values = BlockRegister<V>(row, register, width, 0f);
                        hits |= V.MaskBits(V.Select(V.IsNaN(max[register]), V.IsNaN(values), V.Equal(values, max[register]))) << (r * V.Count);
                    }
                    hits &= pending[g];
                    pending[g] &= ~hits;
                    for (; hits != 0; hits &= hits - 1) output[g * groupWidth + BitOperations.TrailingZeroCount(hits)] = i;
                    searching |= pending[g] != 0;
                }
                if (!searching) return;
            }
        }
    }

    /// <summary>
    /// Pairwise reduction of <paramref name="count"/> items (elements or rows) from
    /// <paramref name="start"/> into the reducer's registers at <paramref name="result"/>: leaves
    /// reduced by <typeparamref name="R"/>, combined in a binary tree split at whole leaves. With
    /// <paramref name="parallelDepth"/> &gt; 0 the top levels run their halves in parallel; the
    /// tree, and so the result, is the same either way.
    /// </summary>
    private static void Tree<V, R>(R reducer, float* start, int count, V* result, int parallelDepth)
        where V : unmanaged, IFloatVector<V> where R : struct, ILeafReducer<V>
    {
        if (count <= reducer.LeafItems)
        {
            reducer.Leaf(start, count, result);
            return;
        }
        int leaves = (count + reducer.LeafItems - 1) / reducer.LeafItems;
        int half = leaves / 2 * reducer.LeafItems;
        float* second = start + (long)half * reducer.ItemStride;
        V* secondResult = stackalloc V[ColumnBlockRegisters];
        if (parallelDepth > 0 && (long)count * reducer.ItemElements >= 2 * MinParallelNodeElements)
            ParallelHalves(reducer, start, half, result, second, count - half, secondResult, parallelDepth - 1);
        else
        {
            Tree(reducer, start, half, result, 0);
            Tree(reducer, second, count - half, secondResult, 0);
        }
        for (int r = 0; r < reducer.Registers; r++) result[r] = reducer.Combine(result[r], secondResult[r]);
    }

    private static void ParallelHalves<V, R>(R reducer, float* first, int firstCount, V* firstResult, float* second, int secondCount, V* secondResult, int depth)
        where V : unmanaged, IFloatVector<V> where R : struct, ILeafReducer<V>
    {
        nint firstAddress = (nint)first, firstResultAddress = (nint)firstResult, secondAddress = (nint)second, secondResultAddress = (nint)secondResult;
        Parallel.Invoke(
            () => Tree(reducer, (float*)firstAddress, firstCount, (V*)firstResultAddress, depth),
            () => Tree(reducer, (float*)secondAddress, secondCount, (V*)secondResultAddress, depth));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong LaneMask(int lanes) => lanes >= 64 ? ulong.MaxValue : (1UL << lanes) - 1;

    /// <summary>Loads the first <paramref name="lanes"/> floats, the rest filled.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static V Load<V>(float* source, int lanes, float fill) where V : unmanaged, IFloatVector<V> =>
        lanes == V.Count ? V.Load(source) : Lanes.LoadPartial<V>(source, lanes, fill);

    /// <summary>Register <paramref name="register"/> of a column block row <paramref name="width"/> floats wide, lanes past the width filled.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static V BlockRegister<V>(float* row, int register, int width, float fill) where V : unmanaged, IFloatVector<V>
    {
        int lanes = width - register * V.Count;
        return lanes >= V.Count ? V.Load(row + register * V.Count) : lanes <= 0 ? V.Splat(fill) : Lanes.LoadPartial<V>(row + register * V.Count, lanes, fill);
    }

    /// <summary>Reduces one leaf of items to registers of partial results, and combines two such registers.</summary>
    private interface ILeafReducer<V> where V : unmanaged, IFloatVector<V>
    {
        /// <summary>Items per leaf.</summary>
        int LeafItems { get; }
        /// <summary>Floats between consecutive items.</summary>
        int ItemStride { get; }
        /// <summary>Elements read per item (to size parallel work).</summary>
        int ItemElements { get; }
        /// <summary>Registers of partial results (at most <see cref="ColumnBlockRegisters"/>).</summary>
        int Registers { get; }
        void Leaf(float* start, int count, V* result);
        V Combine(V a, V b);
    }

    /// <summary>Lane sums over contiguous elements, in four accumulators.</summary>
    private readonly struct RowSum<V> : ILeafReducer<V> where V : unmanaged, IFloatVector<V>
    {
        public int LeafItems => RowLeafLength;
        public int ItemStride => 1;
        public int ItemElements => 1;
        public int Registers => 1;
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public V Combine(V a, V b) => a + b;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Leaf(float* start, int count, V* result)
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
            *result = (s0 + s1) + (s2 + s3);
        }
    }

    /// <summary>Lane maxima over contiguous elements (NaN where the lane saw a NaN).</summary>
    private readonly struct RowMax<V> : ILeafReducer<V> where V : unmanaged, IFloatVector<V>
    {
        public int LeafItems => RowLeafLength;
        public int ItemStride => 1;
        public int ItemElements => 1;
        public int Registers => 1;
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public V Combine(V a, V b) => V.Max(a, b);

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Leaf(float* start, int count, V* result)
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
                V x0 = Load<V>(start + i, Math.Min(w, count - i), float.NegativeInfinity);
                m0 = V.MaxFast(m0, x0);
                nan |= V.IsNaN(x0);
            }
            *result = V.Select(nan, V.Splat(float.NaN), V.Max(V.Max(m0, m1), V.Max(m2, m3)));
        }
    }

    /// <summary>Per-lane sums down a block of <c>width</c> columns, rows <c>stride</c> floats apart.</summary>
    private readonly struct ColumnSum<V>(int stride, int width) : ILeafReducer<V> where V : unmanaged, IFloatVector<V>
    {
        public int LeafItems => ColumnLeafRows;
        public int ItemStride => stride;
        public int ItemElements => width;
        public int Registers => ColumnBlockRegisters;
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public V Combine(V a, V b) => a + b;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Leaf(float* start, int count, V* result)
        {
            for (int g = 0; g < ColumnBlockRegisters; g += ColumnGroupRegisters)
            {
                V s0 = V.Splat(0f), s1 = s0, s2 = s0, s3 = s0;
                for (int i = 0; g * V.Count < width && i < count; i++)
                {
                    float* row = start + (long)i * stride;
                    s0 += BlockRegister<V>(row, g, width, 0f);
                    s1 += BlockRegister<V>(row, g + 1, width, 0f);
                    s2 += BlockRegister<V>(row, g + 2, width, 0f);
                    s3 += BlockRegister<V>(row, g + 3, width, 0f);
                }
                result[g] = s0;
                result[g + 1] = s1;
                result[g + 2] = s2;
                result[g + 3] = s3;
            }
        }
    }

    /// <summary>Per-lane maxima down a block of <c>width</c> columns, rows <c>stride</c> floats apart (NaN where a lane saw a NaN).</summary>
    private readonly struct ColumnMax<V>(int stride, int width) : ILeafReducer<V> where V : unmanaged, IFloatVector<V>
    {
        public int LeafItems => ColumnLeafRows;
        public int ItemStride => stride;
        public int ItemElements => width;
        public int Registers => ColumnBlockRegisters;
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public V Combine(V a, V b) => V.Max(a, b);

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Leaf(float* start, int count, V* result)
        {
            V quietNaN = V.Splat(float.NaN);
            for (int g = 0; g < ColumnBlockRegisters; g += ColumnGroupRegisters)
            {
                V m0 = V.Splat(float.NegativeInfinity), m1 = m0, m2 = m0, m3 = m0;
                V nan0 = V.Splat(0f), nan1 = nan0, nan2 = nan0, nan3 = nan0;
                for (int i = 0; g * V.Count < width && i < count; i++)
                {
                    float* row = start + (long)i * stride;
                    V x0 = BlockRegister<V>(row, g, width, float.NegativeInfinity);
                    V x1 = BlockRegister<V>(row, g + 1, width, float.NegativeInfinity);
                    V x2 = BlockRegister<V>(row, g + 2, width, float.NegativeInfinity);
                    V x3 = BlockRegister<V>(row, g + 3, width, float.NegativeInfinity);
                    m0 = V.MaxFast(m0, x0);
                    m1 = V.MaxFast(m1, x1);
                    m2 = V.MaxFast(m2, x2);
                    m3 = V.MaxFast(m3, x3);
                    nan0 |= V.IsNaN(x0);
                    nan1 |= V.IsNaN(x1);
                    nan2 |= V.IsNaN(x2);
                    nan3 |= V.IsNaN(x3);
                }
                result[g] = V.Select(nan0, quietNaN, m0);
                result[g + 1] = V.Select(nan1, quietNaN, m1);
                result[g + 2] = V.Select(nan2, quietNaN, m2);
                result[g + 3] = V.Select(nan3, quietNaN, m3);
            }
        }
    }
}
