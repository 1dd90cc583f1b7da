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

    // Unary gradients over count contiguous elements: dx[i] = dy[i] * f'(x[i]), with torch's
    // derivatives (and its values at the kinks and at +-inf):
    //   Identity 1          Neg -1                 Relu [x > 0]           Exp e^x
    //   Log 1/x             Log1p 1/(1 + x)        Sqrt 1/(2 sqrt x)      Abs sign(x)
    //   Sign 0              Square 2x              Reciprocal -(1/x)^2    Erf 2/sqrt(pi) e^(-x^2)
    //   Tanh 1 - tanh^2 x   Sigmoid s (1 - s)      GeluErf Phi(x) + x phi(x)
    //   GeluTanh 0.5 (1 + t) + 0.5 x (1 - t^2) sqrt(2/pi) (1 + 3 * 0.044715 x^2),
    //            t = tanh(u), u = sqrt(2/pi) (x + 0.044715 x^3)
    // The transcendental derivatives are rewritten in VectorMath so their tails do not cancel.
    // Blocks of SegmentElements are the unit of parallel work; one register per step, the last
    // one partial.
    public static void UnaryBackward(UnaryOp op, float* x, float* dy, float* dx, long count)
    {
        switch (op)
        {
            case UnaryOp.Identity: RunGradient<IdentityGradient>(x, dy, dx, count); break;
            case UnaryOp.Neg: RunGradient<NegGradient>(x, dy, dx, count); break;
            case UnaryOp.Relu: RunGradient<ReluGradient>(x, dy, dx, count); break;
            case UnaryOp.GeluTanh: RunGradient<GeluTanhGradient>(x, dy, dx, count); break;
            case UnaryOp.GeluErf: RunGradient<GeluErfGradient>(x, dy, dx, count); break;
            case UnaryOp.Exp: RunGradient<ExpGradient>(x, dy, dx, count); break;
            case UnaryOp.Log: RunGradient<LogGradient>(x, dy, dx, count); break;
            case UnaryOp.Log1p: RunGradient<Log1pGradient>(x, dy, dx, count); break;
            case UnaryOp.Tanh: RunGradient<TanhGradient>(x, dy, dx, count); break;
            case UnaryOp.Sqrt: RunGradient<SqrtGradient>(x, dy, dx, count); break;
            case UnaryOp.Abs: RunGradient<AbsGradient>(x, dy, dx, count); break;
            case UnaryOp.Sign: RunGradient<SignGradient>(x, dy, dx, count); break;
            case UnaryOp.Sigmoid: RunGradient<SigmoidGradient>(x, dy, dx, count); break;
            case UnaryOp.Erf: RunGradient<ErfGradient>(x, dy, dx, count); break;
            case UnaryOp.Reciprocal: RunGradient<ReciprocalGradient>(x, dy, dx, count); break;
            case UnaryOp.Square: RunGradient<SquareGradient>(x, dy, dx, count); break;
            default: throw new ArgumentOutOfRangeException(nameof(op), op, "Unknown unary op.");
        }
    }

    // Binary gradients for y = a (op) b over a layout as in Binary (a by StridesA, b by StridesB,
    // 0 = broadcast); dy, da and db are contiguous in the output shape, and da (db) is written
    // only when not null. As torch:
    //   Add  da = dy              db = dy
    //   Sub  da = dy              db = -dy
    //   Mul  da = dy b            db = dy a
    //   Div  da = dy / b          db = -dy ((a / b) / b)
    //   Max  da = dy [a > b]      db = dy [a < b]      (dy / 2 each where a == b; NaN lanes pass dy to both)
    //   Min  da = dy [a < b]      db = dy [a > b]      (likewise)
    //   Pow  da = dy (b a^(b-1)), 0 where b == 0;  db = dy (a^b log a), 0 where a == 0 and b >= 0
    // The output is walked as in Binary: rows cut into segments; contiguous or broadcast inner
    // strides run one vector loop per segment, other strides gather groups of rows column block
    // by column block, rows shorter than a register are gathered in flat order.
    public static void BinaryBackward(BinaryOp op, float* a, float* b, float* dy, float* da, float* db, in ElementwiseLayout layout)
    {
        switch (op)
        {
            case BinaryOp.Add: RunGradient<AddGradient>(a, b, dy, da, db, layout); break;
            case BinaryOp.Sub: RunGradient<SubGradient>(a, b, dy, da, db, layout); break;
            case BinaryOp.Mul: RunGradient<MulGradient>(a, b, dy, da, db, layout); break;
            case BinaryOp.Div: RunGradient<DivGradient>(a, b, dy, da, db, layout); break;
            case BinaryOp.Max: RunGradient<MaxGradient>(a, b, dy, da, db, layout); break;
            case BinaryOp.Min: RunGradient<MinGradient>(a, b, dy, da, db, layout); break;
            case BinaryOp.Pow: RunGradient<PowGradient>(a, b, dy, da, db, layout); break;
            default: throw new ArgumentOutOfRangeException(nameof(op), op, "Unknown binary op.");
        }
    }

    // Strided copy over layout.Shape: dst[sum_d i_d * StridesB[d]] = src[sum_d i_d * StridesA[d]],
    // bit for bit (it also moves int32 data). Rows (the innermost dimension) cut into segments
    // are the unit of parallel work:
    // - both inner strides 1: one block copy per segment; source inner stride 0: a fill;
    // - other inner strides: groups of up to 64 rows, column block by column block, gathered
    //   register by register from the source and scattered lane by lane where the destination
    //   is strided, so a transposed side is walked along its cache lines;
    // - rows shorter than a register: element by element in flat order.
    public static void Copy(float* src, float* dst, in ElementwiseLayout layout)
    {
        if (SimdWidth.Use512) Copy<Vector512Float>(src, dst, layout);
        else if (Vector256.IsHardwareAccelerated) Copy<Vector256Float>(src, dst, layout);
        else Copy<Vector128Float>(src, dst, layout);
    }

    private static void Run<F>(float* a, float* b, float* y, in ElementwiseLayout layout) where F : struct, IElementFunction
    {
        if (SimdWidth.Use512) Run(new Segments<Vector512Float, F>(a, b, y, layout));
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

    private static void RunGradient<G>(float* x, float* dy, float* dx, long count) where G : struct, IUnaryGradient
    {
        int blocks = (int)((count + SegmentElements - 1) / SegmentElements);
        if (SimdWidth.Use512) Parallelism.ForRows(blocks, SegmentElements, new UnaryGradientBlocks<Vector512Float, G>(x, dy, dx, count));
        else if (Vector256.IsHardwareAccelerated) Parallelism.ForRows(blocks, SegmentElements, new UnaryGradientBlocks<Vector256Float, G>(x, dy, dx, count));
        else Parallelism.ForRows(blocks, SegmentElements, new UnaryGradientBlocks<Vector128Float, G>(x, dy, dx, count));
    }

    /// <summary>dx = dy * f'(x) over blocks [start, end) of <see cref="SegmentElements"/> elements.</summary>
    private readonly struct UnaryGradientBlocks<V, G>(float* x, float* dy, float* dx, long count) : IRowKernel
        where V : unmanaged, IFloatVector<V> where G : struct, IUnaryGradient
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int start, int end)
        {
            long last = Math.Min((long)end * SegmentElements, count);
            int w = V.Count;
            for (long i = (long)start * SegmentElements; i < last; i += w)
            {
                int lanes = (int)Math.Min(w, last - i);
                V input = lanes == w ? V.Load(x + i) : Lanes.LoadPartial<V>(x + i, lanes, 0f);
                V gradient = lanes == w ? V.Load(dy + i) : Lanes.LoadPartial<V>(dy + i, lanes, 0f);
                V result = G.Apply(input, gradient);
                if (lanes == w) V.Store(result, dx + i);
                else Lanes.StorePartial(result, dx + i, lanes);
            }
        }
    }

    private static void RunGradient<G>(float* a, float* b, float* dy, float* da, float* db, in ElementwiseLayout layout) where G : struct, IBinaryGradient
    {
        if (SimdWidth.Use512) RunGradient(new GradientSegments<Vector512Float, G>(a, b, dy, da, db, layout));
        else if (Vector256.IsHardwareAccelerated) RunGradient(new GradientSegments<Vector256Float, G>(a, b, dy, da, db, layout));
        else RunGradient(new GradientSegments<Vector128Float, G>(a, b, dy, da, db, layout));
    }

    private static void RunGradient<V, G>(in GradientSegments<V, G> kernel) where V : unmanaged, IFloatVector<V> where G : struct, IBinaryGradient =>
        Parallelism.ForRows(kernel.Units, kernel.UnitElements, kernel);

    /// <summary>
    /// The gradients of a binary op over units [start, end) of the output: row segments, or flat
    /// blocks when rows are shorter than a register (the walk of <see cref="Segments{V, F}"/>).
    /// </summary>
    private readonly struct GradientSegments<V, G> : IRowKernel where V : unmanaged, IFloatVector<V> where G : struct, IBinaryGradient
    {
        private readonly float* _a, _b, _dy, _da, _db;
        private readonly ElementwiseLayout _layout;
        private readonly int _rowLength, _segmentsPerRow, _strideA, _strideB;
        /// <summary>Rows at least a register long; otherwise units are flat blocks of the output.</summary>
        private readonly bool _byRows;
        public readonly int Units;
        public readonly int UnitElements;

        public GradientSegments(float* a, float* b, float* dy, float* da, float* db, in ElementwiseLayout layout)
        {
            _a = a;
            _b = b;
            _dy = dy;
            _da = da;
            _db = db;
            _layout = layout;
            _rowLength = layout.Shape.Get(layout.Rank - 1);
            _strideA = layout.StridesA.Get(layout.Rank - 1);
            _strideB = layout.StridesB.Get(layout.Rank - 1);
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
                if (fast) ContiguousOrBroadcastRow(rows.OffsetA + column * _strideA, rows.OffsetB + column * _strideB, (long)row * _rowLength + column, length);
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

        private void ContiguousOrBroadcastRow(int offsetA, int offsetB, long position, int length)
        {
            float* a = _a + offsetA, b = _b + offsetB;
            switch (_strideA * 2 + _strideB)
            {
                case 3: Row<Contiguous, Contiguous>(a, b, position, length); break;
                case 2: Row<Contiguous, Broadcast>(a, b, position, length); break;
                case 1: Row<Broadcast, Contiguous>(a, b, position, length); break;
                default: Row<Broadcast, Broadcast>(a, b, position, length); break;
            }
        }

        /// <summary>One register per step, the last one partial, of the output row segment at <paramref name="position"/>.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void Row<A, B>(float* a, float* b, long position, int length) where A : struct, IOperand where B : struct, IOperand
        {
            int w = V.Count;
            for (int i = 0; i < length; i += w)
            {
                int count = Math.Min(w, length - i);
                V left = count == w ? A.Read<V>(a, i) : A.ReadPartial<V>(a, i, count);
                V right = count == w ? B.Read<V>(b, i) : B.ReadPartial<V>(b, i, count);
                Write(left, right, position + i, count);
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
                    V left = GatherLanes<V>(_a + baseA[r] + (long)c * _strideA, _strideA, count, bufferA);
                    V right = GatherLanes<V>(_b + baseB[r] + (long)c * _strideB, _strideB, count, bufferB);
                    Write(left, right, (long)(firstRow + r) * _rowLength + c, count);
                }
            }
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
                    bufferB[lane] = _b[walk.OffsetB];
                }
                Write(V.Load(bufferA), V.Load(bufferB), i, count);
            }
        }

        /// <summary>The gradients of <paramref name="count"/> output elements at <paramref name="position"/>, written where asked for.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private void Write(V a, V b, long position, int count)
        {
            V gradient = count == V.Count ? V.Load(_dy + position) : Lanes.LoadPartial<V>(_dy + position, count, 0f);
            if (_da != null) StoreLanes(G.GradientA(a, b, gradient), _da + position, count);
            if (_db != null) StoreLanes(G.GradientB(a, b, gradient), _db + position, count);
        }
    }

    private static void Copy<V>(float* src, float* dst, in ElementwiseLayout layout) where V : unmanaged, IFloatVector<V>
    {
        var kernel = new CopySegments<V>(src, dst, layout);
        Parallelism.ForRows(kernel.Units, kernel.UnitElements, kernel);
    }

    /// <summary>The copy over units [start, end): row segments, or flat blocks when rows are shorter than a register.</summary>
    private readonly struct CopySegments<V> : IRowKernel where V : unmanaged, IFloatVector<V>
    {
        private readonly float* _src, _dst;
        private readonly ElementwiseLayout _layout;
        private readonly int _rowLength, _segmentsPerRow, _strideSource, _strideDestination;
        /// <summary>Rows at least a register long; otherwise units are flat blocks of the output.</summary>
        private readonly bool _byRows;
        public readonly int Units;
        public readonly int UnitElements;

        public CopySegments(float* src, float* dst, in ElementwiseLayout layout)
        {
            _src = src;
            _dst = dst;
            _layout = layout;
            _rowLength = layout.Shape.Get(layout.Rank - 1);
            _strideSource = layout.StridesA.Get(layout.Rank - 1);
            _strideDestination = layout.StridesB.Get(layout.Rank - 1);
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
                FlatCopy(start * SegmentElements, (int)Math.Min((long)end * SegmentElements, _layout.Count));
                return;
            }
            bool blockCopy = _strideDestination == 1 && (_strideSource == 1 || _strideSource == 0);
            int* baseSource = stackalloc int[GroupRows];
            int* baseDestination = stackalloc int[GroupRows];
            int row = start / _segmentsPerRow, segment = start % _segmentsPerRow;
            var rows = new Odometer(_layout, _layout.Rank - 1, row);
            for (int unit = start; unit < end;)
            {
                if (!blockCopy && _segmentsPerRow == 1)
                {
                    int group = Math.Min(GroupRows, end - unit);
                    for (int r = 0; r < group; r++, rows.Advance())
                    {
                        baseSource[r] = rows.OffsetA;
                        baseDestination[r] = rows.OffsetB;
                    }
                    CopyRows(group, baseSource, baseDestination, 0, _rowLength);
                    unit += group;
                    row += group;
                    continue;
                }
                int column = segment * SegmentElements;
                int length = Math.Min(SegmentElements, _rowLength - column);
                if (blockCopy)
                {
                    float* destination = _dst + rows.OffsetB + column;
                    if (_strideSource == 1)
                    {
                        long bytes = (long)length * sizeof(float);
                        Buffer.MemoryCopy(_src + rows.OffsetA + column, destination, bytes, bytes);
                    }
                    else new Span<int>(destination, length).Fill(*(int*)(_src + rows.OffsetA));
                }
                else
                {
                    baseSource[0] = rows.OffsetA;
                    baseDestination[0] = rows.OffsetB;
                    CopyRows(1, baseSource, baseDestination, column, length);
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

        /// <summary>
        /// Columns [column, column + length) of <paramref name="rowCount"/> rows whose source and
        /// destination start at the given offsets, column block by column block: each register
        /// gathered from the source, then stored whole or lane by lane.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void CopyRows(int rowCount, int* baseSource, int* baseDestination, int column, int length)
        {
            float* buffer = stackalloc float[Lanes.MaxCount];
            for (int c = column; c < column + length; c += V.Count)
            {
                int count = Math.Min(V.Count, column + length - c);
                for (int r = 0; r < rowCount; r++)
                {
                    V values = GatherLanes<V>(_src + baseSource[r] + (long)c * _strideSource, _strideSource, count, buffer);
                    float* destination = _dst + baseDestination[r] + (long)c * _strideDestination;
                    if (_strideDestination == 1) StoreLanes(values, destination, count);
                    else
                    {
                        V.Store(values, buffer);
                        for (int lane = 0; lane < count; lane++) ((int*)destination)[(long)lane * _strideDestination] = ((int*)buffer)[lane];
                    }
                }
            }
        }

        /// <summary>Elements [first, last) in flat order, both sides followed through all dimensions.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void FlatCopy(int first, int last)
        {
            var walk = new Odometer(_layout, _layout.Rank, first);
            for (int i = first; i < last; i++, walk.Advance()) ((int*)_dst)[walk.OffsetB] = ((int*)_src)[walk.OffsetA];
        }
    }

    /// <summary><paramref name="count"/> floats <paramref name="stride"/> apart: in registers when a whole register, else through the buffer.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static V GatherLanes<V>(float* source, int stride, int count, float* buffer) where V : unmanaged, IFloatVector<V>
    {
        if (count == V.Count) return stride == 1 ? V.Load(source) : V.LoadStrided(source, stride);
        for (int lane = 0; lane < count; lane++) ((int*)buffer)[lane] = ((int*)source)[(long)lane * stride];
        return V.Load(buffer);
    }

    /// <summary>Stores the first <paramref name="count"/> lanes (a whole register when count is the width).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreLanes<V>(V value, float* destination, int count) where V : unmanaged, IFloatVector<V>
    {
        if (count == V.Count) V.Store(value, destination);
        else Lanes.StorePartial(value, destination, count);
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

    /// <summary>dx = dy * f'(x) for one register.</summary>
    private interface IUnaryGradient
    {
        static abstract V Apply<V>(V x, V dy) where V : unmanaged, IFloatVector<V>;
    }

    private struct IdentityGradient : IUnaryGradient { [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V Apply<V>(V x, V dy) where V : unmanaged, IFloatVector<V> => dy; }
    private struct NegGradient : IUnaryGradient { [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V Apply<V>(V x, V dy) where V : unmanaged, IFloatVector<V> => -dy; }
    /// <summary>dy where x &gt; 0, else 0 (also where x is NaN, as torch's threshold_backward).</summary>
    private struct ReluGradient : IUnaryGradient { [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V Apply<V>(V x, V dy) where V : unmanaged, IFloatVector<V> => V.Select(V.GreaterThan(x, V.Splat(0f)), dy, V.Splat(0f)); }
    private struct GeluTanhGradient : IUnaryGradient { [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V Apply<V>(V x, V dy) where V : unmanaged, IFloatVector<V> => dy * VectorMath.GeluTanhDerivative(x); }
    private struct GeluErfGradient : IUnaryGradient { [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V Apply<V>(V x, V dy) where V : unmanaged, IFloatVector<V> => dy * VectorMath.GeluErfDerivative(x); }
    private struct ExpGradient : IUnaryGradient { [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V Apply<V>(V x, V dy) where V : unmanaged, IFloatVector<V> => dy * VectorMath.Exp(x); }
    private struct LogGradient : IUnaryGradient { [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V Apply<V>(V x, V dy) where V : unmanaged, IFloatVector<V> => dy / x; }
    private struct Log1pGradient : IUnaryGradient { [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V Apply<V>(V x, V dy) where V : unmanaged, IFloatVector<V> => dy / (x + V.Splat(1f)); }
    private struct TanhGradient : IUnaryGradient { [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V Apply<V>(V x, V dy) where V : unmanaged, IFloatVector<V> => dy * VectorMath.TanhDerivative(x); }
    /// <summary>dy / (2 sqrt x), as torch (inf at 0).</summary>
    private struct SqrtGradient : IUnaryGradient { [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V Apply<V>(V x, V dy) where V : unmanaged, IFloatVector<V> => dy / (V.Splat(2f) * V.Sqrt(x)); }
    private struct SigmoidGradient : IUnaryGradient { [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V Apply<V>(V x, V dy) where V : unmanaged, IFloatVector<V> => dy * VectorMath.SigmoidDerivative(x); }
    private struct ErfGradient : IUnaryGradient { [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V Apply<V>(V x, V dy) where V : unmanaged, IFloatVector<V> => dy * VectorMath.ErfDerivative(x); }
    /// <summary>-dy * (1/x)^2, as torch's -grad * result^2.</summary>
    private struct ReciprocalGradient : IUnaryGradient
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static V Apply<V>(V x, V dy) where V : unmanaged, IFloatVector<V>
        {
            V reciprocal = V.Splat(1f) / x;
            return -dy * (reciprocal * reciprocal);
        }
    }
    private struct SquareGradient : IUnaryGradient { [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V Apply<V>(V x, V dy) where V : unmanaged, IFloatVector<V> => dy * (x + x); }
    /// <summary>dy * sign(x): 0 at 0 and at NaN, as the forward sign.</summary>
    private struct AbsGradient : IUnaryGradient { [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V Apply<V>(V x, V dy) where V : unmanaged, IFloatVector<V> => dy * SignFunction.Apply(x, x); }
    /// <summary>Zero everywhere, whatever dy holds (torch's zeros_like).</summary>
    private struct SignGradient : IUnaryGradient { [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V Apply<V>(V x, V dy) where V : unmanaged, IFloatVector<V> => V.Splat(0f); }

    /// <summary>da = dy * dy/da and db = dy * dy/db for one register.</summary>
    private interface IBinaryGradient
    {
        static abstract V GradientA<V>(V a, V b, V dy) where V : unmanaged, IFloatVector<V>;
        static abstract V GradientB<V>(V a, V b, V dy) where V : unmanaged, IFloatVector<V>;
    }

    private struct AddGradient : IBinaryGradient
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V GradientA<V>(V a, V b, V dy) where V : unmanaged, IFloatVector<V> => dy;
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V GradientB<V>(V a, V b, V dy) where V : unmanaged, IFloatVector<V> => dy;
    }

    private struct SubGradient : IBinaryGradient
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V GradientA<V>(V a, V b, V dy) where V : unmanaged, IFloatVector<V> => dy;
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V GradientB<V>(V a, V b, V dy) where V : unmanaged, IFloatVector<V> => -dy;
    }

    private struct MulGradient : IBinaryGradient
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V GradientA<V>(V a, V b, V dy) where V : unmanaged, IFloatVector<V> => dy * b;
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V GradientB<V>(V a, V b, V dy) where V : unmanaged, IFloatVector<V> => dy * a;
    }

    /// <summary>torch's grad / b and -grad * ((a / b) / b): b^2 never formed, so it cannot overflow on its own.</summary>
    private struct DivGradient : IBinaryGradient
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V GradientA<V>(V a, V b, V dy) where V : unmanaged, IFloatVector<V> => dy / b;
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V GradientB<V>(V a, V b, V dy) where V : unmanaged, IFloatVector<V> => -dy * (a / b / b);
    }

    /// <summary>torch.maximum's: dy to the larger operand, dy / 2 to each on a tie, 0 to the smaller.</summary>
    private struct MaxGradient : IBinaryGradient
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V GradientA<V>(V a, V b, V dy) where V : unmanaged, IFloatVector<V> => ShareOfTie(V.LessThan(a, b), a, b, dy);
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V GradientB<V>(V a, V b, V dy) where V : unmanaged, IFloatVector<V> => ShareOfTie(V.GreaterThan(a, b), a, b, dy);
    }

    /// <summary>torch.minimum's: dy to the smaller operand, dy / 2 to each on a tie, 0 to the larger.</summary>
    private struct MinGradient : IBinaryGradient
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V GradientA<V>(V a, V b, V dy) where V : unmanaged, IFloatVector<V> => ShareOfTie(V.GreaterThan(a, b), a, b, dy);
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V GradientB<V>(V a, V b, V dy) where V : unmanaged, IFloatVector<V> => ShareOfTie(V.LessThan(a, b), a, b, dy);
    }

    /// <summary>torch's where(a == b, dy / 2, dy).masked_fill(loses, 0).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static V ShareOfTie<V>(V loses, V a, V b, V dy) where V : unmanaged, IFloatVector<V> =>
        V.Select(loses, V.Splat(0f), V.Select(V.Equal(a, b), dy * V.Splat(0.5f), dy));

    /// <summary>torch's pow_backward_self and pow_backward_exponent, with their masks.</summary>
    private struct PowGradient : IBinaryGradient
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static V GradientA<V>(V a, V b, V dy) where V : unmanaged, IFloatVector<V> =>
            V.Select(V.Equal(b, V.Splat(0f)), V.Splat(0f), dy * (b * VectorMath.Pow(a, b - V.Splat(1f))));

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static V GradientB<V>(V a, V b, V dy) where V : unmanaged, IFloatVector<V>
        {
            V zero = V.Splat(0f);
            V masked = V.Equal(a, zero) & (V.GreaterThan(b, zero) | V.Equal(b, zero));
            return V.Select(masked, zero, dy * (VectorMath.Pow(a, b) * VectorMath.Log(a)));
        }
    }
}
