using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Engine.Kernels.Simd;

// Elementwise ops over an ElementwiseLayout of rank r (dimensions already merged):
//   unary:  y[i0, ..., ir-1] = f(x[sum_d i_d * StridesA[d]])
//   binary: y[i0, ..., ir-1] = a[sum_d i_d * StridesA[d]] (op) b[sum_d i_d * StridesB[d]]
// y is contiguous with the layout's shape; a stride of 0 broadcasts an input along that dimension.
//
// The output is cut into rows (the innermost dimension) and long rows into segments of at most
// 8192 elements; segments are the unit of parallel work.
// - Fast path: each input's innermost stride is 1 (contiguous) or 0 (broadcast). A segment is one
//   vector loop, the last partial register through a padded buffer.
// - Other strides: the inputs are gathered register by register. Up to 64 consecutive rows are
//   walked together, column block by column block, so a transposed input is read along its
//   cache lines instead of one line per element.
// - Rows shorter than a register: the whole layout is gathered in flat order.
// Every element goes through the same vector function whichever path it takes, so results do not
// depend on the layout or on how the work is split.
public static unsafe class Elementwise
{
    /// <summary>Longest run of one row handled as a unit of work.</summary>
    private const int SegmentElements = 8192;
    /// <summary>Rows gathered together on the strided path.</summary>
    private const int GroupRows = 64;

    public static void Unary(UnaryOp op, float* x, float* y, in ElementwiseLayout layout)
    {
        switch (op)
        {
            case UnaryOp.Identity: Run<IdentityFunction>(x, x, y, layout); break;
            case UnaryOp.Neg: Run<NegFunction>(x, x, y, layout); break;
            case UnaryOp.Relu: Run<ReluFunction>(x, x, y, layout); break;
            case UnaryOp.GeluTanh: Run<GeluTanhFunction>(x, x, y, layout); break;
            case UnaryOp.GeluErf: Run<GeluErfFunction>(x, x, y, layout); break;
            case UnaryOp.Exp: Run<ExpFunction>(x, x, y, layout); break;
            case UnaryOp.Log: Run<LogFunction>(x, x, y, layout); break;
            case UnaryOp.Log1p: Run<Log1pFunction>(x, x, y, layout); break;
            case UnaryOp.Tanh: Run<TanhFunction>(x, x, y, layout); break;
            case UnaryOp.Sqrt: Run<SqrtFunction>(x, x, y, layout); break;
            case UnaryOp.Abs: Run<AbsFunction>(x, x, y, layout); break;
            case UnaryOp.Sign: Run<SignFunction>(x, x, y, layout); break;
            case UnaryOp.Sigmoid: Run<SigmoidFunction>(x, x, y, layout); break;
            case UnaryOp.Erf: Run<ErfFunction>(x, x, y, layout); break;
            case UnaryOp.Reciprocal: Run<ReciprocalFunction>(x, x, y, layout); break;
            case UnaryOp.Square: Run<SquareFunction>(x, x, y, layout); break;
            default: throw new ArgumentOutOfRangeException(nameof(op), op, "Unknown unary op.");
        }
    }

    public static void Binary(BinaryOp op, float* a, float* b, float* y, in ElementwiseLayout layout)
    {
        switch (op)
        {
            case BinaryOp.Add: Run<AddFunction>(a, b, y, layout); break;
            case BinaryOp.Sub: Run<SubFunction>(a, b, y, layout); break;
            case BinaryOp.Mul: Run<MulFunction>(a, b, y, layout); break;
            case BinaryOp.Div: Run<DivFunction>(a, b, y, layout); break;
            case BinaryOp.Max: Run<MaxFunction>(a, b, y, layout); break;
            case BinaryOp.Min: Run<MinFunction>(a, b, y, layout); break;
            case BinaryOp.Pow: Run<PowFunction>(a, b, y, layout); break;
            default: throw new ArgumentOutOfRangeException(nameof(op), op, "Unknown binary op.");
        }
    }

    private static void Run<F>(float* a, float* b, float* y, in ElementwiseLayout layout) where F : struct, IElementFunction
    {
        if (Vector512.IsHardwareAccelerated) Run(new Segments<Vector512Float, F>(a, b, y, layout));
        else if (Vector256.IsHardwareAccelerated) Run(new Segments<Vector256Float, F>(a, b, y, layout));
        else Run(new Segments<Vector128Float, F>(a, b, y, layout));
    }

    private static void Run<V, F>(in Segments<V, F> kernel) where V : unmanaged, IFloatVector<V> where F : struct, IElementFunction =>
        Parallelism.ForRows(kernel.Units, kernel.UnitElements, kernel);

    /// <summary>The op over units [start, end): row segments, or flat blocks when rows are shorter than a register.</summary>
    private readonly struct Segments<V, F> : IRowKernel where V : unmanaged, IFloatVector<V> where F : struct, IElementFunction
    {
        private readonly float* _a, _b, _y;
        private readonly ElementwiseLayout _layout;
        private readonly int _rowLength, _segmentsPerRow, _strideA, _strideB;
        /// <summary>Rows at least a register long; otherwise units are flat blocks of the output.</summary>
        private readonly bool _byRows;
        public readonly int Units;
        public readonly int UnitElements;

        public Segments(float* a, float* b, float* y, in ElementwiseLayout layout)
        {
            _a = a;
            _b = b;
            _y = y;
            _layout = layout;
            _rowLength = layout.Shape.Get(layout.Rank - 1);
            _strideA = layout.StridesA.Get(layout.Rank - 1);
            _strideB = F.HasSecondInput ? layout.StridesB.Get(layout.Rank - 1) : 0;
            _byRows = _rowLength >= V.Count;
            _segmentsPerRow = (_rowLength + SegmentElements - 1) / SegmentElements;
            int count = layout.Count;
            Units = _byRows ? count / _rowLength * _segmentsPerRow : (count + SegmentElements - 1) / SegmentElements;
            UnitElements = _byRows ? Math.Min(_rowLength, SegmentElements) : SegmentElements;
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int start, int end)
        {
            if (!_byRows)
            {
                FlatGather(start * SegmentElements, (int)Math.Min((long)end * SegmentElements, _layout.Count));
                return;
            }
            bool fast = IsUnitOrZero(_strideA) && IsUnitOrZero(_strideB);
            int* baseA = stackalloc int[GroupRows];
            int* baseB = stackalloc int[GroupRows];
            int row = start / _segmentsPerRow, segment = start % _segmentsPerRow;
            var rows = new Odometer(_layout, _layout.Rank - 1, row);
            for (int unit = start; unit < end;)
            {
                if (!fast && _segmentsPerRow == 1)
                {
                    int group = Math.Min(GroupRows, end - unit);
                    for (int r = 0; r < group; r++, rows.Advance())
                    {
                        baseA[r] = rows.OffsetA;
                        baseB[r] = rows.OffsetB;
                    }
                    GatherRows(row, group, baseA, baseB, 0, _rowLength);
                    unit += group;
                    row += group;
                    continue;
                }
                int column = segment * SegmentElements;
                int length = Math.Min(SegmentElements, _rowLength - column);
                if (fast) ContiguousOrBroadcastRow(rows.OffsetA + column * _strideA, rows.OffsetB + column * _strideB, _y + (long)row * _rowLength + column, length);
                else
                {
                    baseA[0] = rows.OffsetA;
                    baseB[0] = rows.OffsetB;
                    GatherRows(row, 1, baseA, baseB, column, length);
                }
                unit++;
                if (++segment == _segmentsPerRow)
                {
                    segment = 0;
                    row++;
                    rows.Advance();
                }
            }
        }

        private static bool IsUnitOrZero(int stride) => stride == 0 || stride == 1;

        private void ContiguousOrBroadcastRow(int offsetA, int offsetB, float* destination, int length)
        {
            float* a = _a + offsetA, b = _b + offsetB;
            switch (_strideA * 2 + _strideB)
            {
                case 3: Row<Contiguous, Contiguous>(a, b, destination, length); break;
                case 2: Row<Contiguous, Broadcast>(a, b, destination, length); break;
                case 1: Row<Broadcast, Contiguous>(a, b, destination, length); break;
                default: Row<Broadcast, Broadcast>(a, b, destination, length); break;
            }
        }

        /// <summary>
        /// One register per step, the last one partial. The function is written out once: the
        /// transcendental ones are large, and several inlined copies would exhaust the JIT's
        /// inlining budget for the method, leaving the wrappers as real calls.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private static void Row<A, B>(float* a, float* b, float* destination, int length) where A : struct, IOperand where B : struct, IOperand
        {
            int w = V.Count;
            for (int i = 0; i < length; i += w)
            {
                int count = Math.Min(w, length - i);
                V left = count == w ? A.Read<V>(a, i) : A.ReadPartial<V>(a, i, count);
                V right = count == w ? B.Read<V>(b, i) : B.ReadPartial<V>(b, i, count);
                V result = F.Apply(left, right);
                if (count == w) V.Store(result, destination + i);
                else Lanes.StorePartial(result, destination + i, count);
            }
        }

        /// <summary>
        /// Columns [column, column + length) of <paramref name="rowCount"/> consecutive output rows
        /// from <paramref name="firstRow"/>, whose inputs start at the given offsets: column block
        /// by column block, all rows of the group at each block.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void GatherRows(int firstRow, int rowCount, int* baseA, int* baseB, int column, int length)
        {
            float* bufferA = stackalloc float[Lanes.MaxCount];
            float* bufferB = stackalloc float[Lanes.MaxCount];
            for (int c = column; c < column + length; c += V.Count)
            {
                int count = Math.Min(V.Count, column + length - c);
                for (int r = 0; r < rowCount; r++)
                {
                    float* a = _a + baseA[r] + (long)c * _strideA;
                    float* b = _b + baseB[r] + (long)c * _strideB;
                    float* destination = _y + (long)(firstRow + r) * _rowLength + c;
                    V result = F.Apply(Gather(a, _strideA, count, bufferA), F.HasSecondInput ? Gather(b, _strideB, count, bufferB) : default);
                    if (count == V.Count) V.Store(result, destination);
                    else Lanes.StorePartial(result, destination, count);
                }
            }
        }

        /// <summary><paramref name="count"/> floats <paramref name="stride"/> apart: in registers when a whole register, else through the buffer.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static V Gather(float* source, int stride, int count, float* buffer)
        {
            if (count == V.Count) return V.LoadStrided(source, stride);
            for (int lane = 0; lane < count; lane++) buffer[lane] = source[(long)lane * stride];
            return V.Load(buffer);
        }

        /// <summary>Output elements [first, last) in flat order, each input followed through all dimensions.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void FlatGather(int first, int last)
        {
            var walk = new Odometer(_layout, _layout.Rank, first);
            float* bufferA = stackalloc float[Lanes.MaxCount];
            float* bufferB = stackalloc float[Lanes.MaxCount];
            for (int i = first; i < last; i += V.Count)
            {
                int count = Math.Min(V.Count, last - i);
                for (int lane = 0; lane < count; lane++, walk.Advance())
                {
                    bufferA[lane] = _a[walk.OffsetA];
                    if (F.HasSecondInput) bufferB[lane] = _b[walk.OffsetB];
                }
                V result = F.Apply(V.Load(bufferA), V.Load(bufferB));
                if (count == V.Count) V.Store(result, _y + i);
                else Lanes.StorePartial(result, _y + i, count);
            }
        }
    }

    /// <summary>
    /// Walks the first <c>rank</c> dimensions of a layout in row-major order, keeping each
    /// input's element offset; starts at a flat position of those dimensions.
    /// </summary>
    private struct Odometer
    {
        private fixed int _size[Dims8.MaxRank];
        private fixed int _strideA[Dims8.MaxRank];
        private fixed int _strideB[Dims8.MaxRank];
        private fixed int _index[Dims8.MaxRank];
        private readonly int _rank;
        public int OffsetA, OffsetB;

        public Odometer(in ElementwiseLayout layout, int rank, long position)
        {
            _rank = rank;
            for (int d = rank - 1; d >= 0; d--)
            {
                _size[d] = layout.Shape.Get(d);
                _strideA[d] = layout.StridesA.Get(d);
                _strideB[d] = layout.StridesB.Get(d);
                _index[d] = (int)(position % _size[d]);
                position /= _size[d];
                OffsetA += _index[d] * _strideA[d];
                OffsetB += _index[d] * _strideB[d];
            }
        }

        /// <summary>Steps to the next position, carrying into outer dimensions (past the end it wraps, unused).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Advance()
        {
            for (int d = _rank - 1; d >= 0; d--)
            {
                OffsetA += _strideA[d];
                OffsetB += _strideB[d];
                if (++_index[d] < _size[d]) return;
                _index[d] = 0;
                OffsetA -= _strideA[d] * _size[d];
                OffsetB -= _strideB[d] * _size[d];
            }
        }
    }

    /// <summary>How a row loop reads one input: a contiguous run, or one value broadcast along the row.</summary>
    private interface IOperand
    {
        static abstract V Read<V>(float* row, int i) where V : unmanaged, IFloatVector<V>;
        static abstract V ReadPartial<V>(float* row, int i, int count) where V : unmanaged, IFloatVector<V>;
    }

    private struct Contiguous : IOperand
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static V Read<V>(float* row, int i) where V : unmanaged, IFloatVector<V> => V.Load(row + i);
        public static V ReadPartial<V>(float* row, int i, int count) where V : unmanaged, IFloatVector<V> => Lanes.LoadPartial<V>(row + i, count, 0f);
    }

    private struct Broadcast : IOperand
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static V Read<V>(float* row, int i) where V : unmanaged, IFloatVector<V> => V.Splat(*row);
        public static V ReadPartial<V>(float* row, int i, int count) where V : unmanaged, IFloatVector<V> => V.Splat(*row);
    }

    /// <summary>
    /// The function applied to each register. Unary functions ignore their second argument and
    /// say so, so the kernels never read a second input for them (a unary op is run with both
    /// inputs pointing at x and its broadcast-only strides, which are never used).
    /// </summary>
    private interface IElementFunction
    {
        static abstract bool HasSecondInput { get; }
        static abstract V Apply<V>(V a, V b) where V : unmanaged, IFloatVector<V>;
    }

    /// <summary>Bitwise copy: also moves int32 data, which must not go through float arithmetic.</summary>
    private struct IdentityFunction : IElementFunction { public static bool HasSecondInput => false; [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V Apply<V>(V x, V _) where V : unmanaged, IFloatVector<V> => x; }
    private struct NegFunction : IElementFunction { public static bool HasSecondInput => false; [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V Apply<V>(V x, V _) where V : unmanaged, IFloatVector<V> => -x; }
    /// <summary>max(x, 0); NaN stays NaN.</summary>
    private struct ReluFunction : IElementFunction { public static bool HasSecondInput => false; [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V Apply<V>(V x, V _) where V : unmanaged, IFloatVector<V> => V.Max(x, V.Splat(0f)); }
    private struct GeluTanhFunction : IElementFunction { public static bool HasSecondInput => false; [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V Apply<V>(V x, V _) where V : unmanaged, IFloatVector<V> => VectorMath.GeluTanh(x); }
    private struct GeluErfFunction : IElementFunction { public static bool HasSecondInput => false; [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V Apply<V>(V x, V _) where V : unmanaged, IFloatVector<V> => VectorMath.GeluErf(x); }
    private struct ExpFunction : IElementFunction { public static bool HasSecondInput => false; [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V Apply<V>(V x, V _) where V : unmanaged, IFloatVector<V> => VectorMath.Exp(x); }
    private struct LogFunction : IElementFunction { public static bool HasSecondInput => false; [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V Apply<V>(V x, V _) where V : unmanaged, IFloatVector<V> => VectorMath.Log(x); }
    private struct Log1pFunction : IElementFunction { public static bool HasSecondInput => false; [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V Apply<V>(V x, V _) where V : unmanaged, IFloatVector<V> => VectorMath.Log1p(x); }
    private struct TanhFunction : IElementFunction { public static bool HasSecondInput => false; [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V Apply<V>(V x, V _) where V : unmanaged, IFloatVector<V> => VectorMath.Tanh(x); }
    private struct SqrtFunction : IElementFunction { public static bool HasSecondInput => false; [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V Apply<V>(V x, V _) where V : unmanaged, IFloatVector<V> => V.Sqrt(x); }
    private struct AbsFunction : IElementFunction { public static bool HasSecondInput => false; [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V Apply<V>(V x, V _) where V : unmanaged, IFloatVector<V> => V.Abs(x); }
    private struct SigmoidFunction : IElementFunction { public static bool HasSecondInput => false; [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V Apply<V>(V x, V _) where V : unmanaged, IFloatVector<V> => VectorMath.Sigmoid(x); }
    private struct ErfFunction : IElementFunction { public static bool HasSecondInput => false; [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V Apply<V>(V x, V _) where V : unmanaged, IFloatVector<V> => VectorMath.Erf(x); }
    private struct ReciprocalFunction : IElementFunction { public static bool HasSecondInput => false; [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V Apply<V>(V x, V _) where V : unmanaged, IFloatVector<V> => V.Splat(1f) / x; }
    private struct SquareFunction : IElementFunction { public static bool HasSecondInput => false; [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V Apply<V>(V x, V _) where V : unmanaged, IFloatVector<V> => x * x; }

    /// <summary>-1, 0 or 1 (sign(+-0) = +0); sign(NaN) = 0, as torch.</summary>
    private struct SignFunction : IElementFunction
    {
        public static bool HasSecondInput => false;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static V Apply<V>(V x, V _) where V : unmanaged, IFloatVector<V>
        {
            V zero = V.Splat(0f), one = V.Splat(1f);
            return (V.GreaterThan(x, zero) & one) - (V.LessThan(x, zero) & one);
        }
    }

    private struct AddFunction : IElementFunction { public static bool HasSecondInput => true; [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V Apply<V>(V a, V b) where V : unmanaged, IFloatVector<V> => a + b; }
    private struct SubFunction : IElementFunction { public static bool HasSecondInput => true; [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V Apply<V>(V a, V b) where V : unmanaged, IFloatVector<V> => a - b; }
    private struct MulFunction : IElementFunction { public static bool HasSecondInput => true; [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V Apply<V>(V a, V b) where V : unmanaged, IFloatVector<V> => a * b; }
    private struct DivFunction : IElementFunction { public static bool HasSecondInput => true; [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V Apply<V>(V a, V b) where V : unmanaged, IFloatVector<V> => a / b; }
    /// <summary>torch.maximum: NaN if either is NaN.</summary>
    private struct MaxFunction : IElementFunction { public static bool HasSecondInput => true; [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V Apply<V>(V a, V b) where V : unmanaged, IFloatVector<V> => V.Max(a, b); }
    /// <summary>torch.minimum: NaN if either is NaN.</summary>
    private struct MinFunction : IElementFunction { public static bool HasSecondInput => true; [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V Apply<V>(V a, V b) where V : unmanaged, IFloatVector<V> => V.Min(a, b); }
    private struct PowFunction : IElementFunction { public static bool HasSecondInput => true; [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V Apply<V>(V a, V b) where V : unmanaged, IFloatVector<V> => VectorMath.Pow(a, b); }
}
