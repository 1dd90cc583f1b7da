using System.Numerics;
using Engine.Kernels;
using ILGPU;
using ILGPU.Backends.OpenCL;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;
using ILGPU.Runtime.OpenCL;
using K = Engine.Kernels.Ilgpu;

namespace Engine.Backends;

/// <summary>Device memory of the ILGPU backend: one dense float buffer on the accelerator.</summary>
internal sealed class IlgpuStorage : Storage
{
    public readonly MemoryBuffer1D<float, Stride1D.Dense> Buffer;

    public IlgpuStorage(MemoryBuffer1D<float, Stride1D.Dense> buffer) => Buffer = buffer;

    public override long Length => Buffer.Length;
}

/// <summary>
/// The ILGPU backend: the kernels of <c>Engine.Kernels.Ilgpu</c> on a CUDA GPU, an OpenCL
/// device or ILGPU's CPU accelerator (a thread simulator for debugging kernels, not a fast path).
/// Kernels are compiled on first use and cached. Work is queued on the accelerator's default
/// stream; <see cref="Download"/> and <see cref="Synchronize"/> wait for it. All calls are
/// serialized by one lock, which also keeps the accelerator bound to the calling thread.
/// </summary>
public sealed class IlgpuBackend : IBackend
{
    /// <summary>Threads per group of the row kernels (softmax, layer norm, ...) on a GPU.</summary>
    internal const int GpuGroupSize = 256;

    /// <summary>
    /// Threads per group of the row and elementwise kernels on the CPU accelerator. Every
    /// simulated thread is an OS thread and every barrier a rendezvous of all of them, so the cost
    /// of a barrier grows with the group: a 256 x 256 softmax takes about 50 ms with groups of 4,
    /// 1 s with 32 and 2 s with 64 on a 2-core machine. Groups of 4 still run the shared-memory
    /// trees (two levels) and the several-rows-per-group shapes. The kernels read their width from
    /// Group.DimX, so the source is the one CUDA runs; matmul keeps its fixed 16 x 16 groups.
    /// </summary>
    private const int CpuGroupSize = 4;

    private readonly Context _context;
    private readonly Accelerator _accelerator;
    private readonly SizeClassPool<IlgpuStorage> _pool;
    private readonly object _lock = new();
    private readonly int _groupSize;
    private readonly int _residentGroups;
    private bool _disposed;

    private Action<KernelConfig, ArrayView<float>, ArrayView<float>, ElementwiseLayout, UnaryOp, int>? _unary;
    private Action<KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ElementwiseLayout, BinaryOp, int>? _binary;
    private Action<KernelConfig, ArrayView<float>, float>? _fill;
    private Action<KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, K.Matmul.MatMulArgs>? _matmul;
    private Action<KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<int>, ReduceOp, int, int>? _reduceRows;
    private Action<KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<int>, ReduceOp, int, int>? _reduceColumns;
    private Action<KernelConfig, ArrayView<float>, ArrayView<float>, int, int, int>? _softmax;
    private Action<KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
        ArrayView<float>, int, int, float, int, int>? _layerNorm;
    private Action<KernelConfig, ArrayView<float>, ArrayView<int>, ArrayView<float>, int, int>? _embedding;
    private Action<KernelConfig, ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<float>, int, int, int>? _crossEntropy;
    private Action<KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, UnaryOp>? _unaryBackward;
    private Action<KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
        ElementwiseLayout, BinaryOp, int, int, int>? _binaryBackward;
    private Action<KernelConfig, ArrayView<float>, ArrayView<float>, ElementwiseLayout, int>? _copy;
    private Action<KernelConfig, ArrayView<int>, ArrayView<float>, ArrayView<float>, int, int, int>? _reduceMaxBackward;
    private Action<KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int>? _softmaxBackward;
    private Action<KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
        ArrayView<float>, int, int, int>? _layerNormBackward;
    private Action<KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
        ArrayView<float>, int, int, int, int>? _layerNormGammaBetaBackward;
    private Action<KernelConfig, ArrayView<int>, ArrayView<float>, ArrayView<float>, int, int>? _embeddingBackward;
    private Action<KernelConfig, ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<float>, int, int, int>? _crossEntropyBackward;
    private Action<KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, AdamWStep>? _adamW;
    private Action<KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
        ArrayView<float>, AttentionDesc>? _attentionForward;
    private Action<KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
        ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, AttentionDesc>? _attentionKeyValueBackward;
    private Action<KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
        ArrayView<float>, ArrayView<float>, ArrayView<float>, AttentionDesc>? _attentionQueryBackward;

    private Action<KernelConfig, ArrayView<float>, ArrayView<int>, ArrayView<int>, ArrayView<float>, ArrayView<int>, int, int>? _spladePool;
    private Action<KernelConfig, ArrayView<float>, ArrayView<int>, ArrayView<int>, ArrayView<float>, ArrayView<float>, long, int>? _spladePoolBackward;
    private Action<KernelConfig, ArrayView<float>, ArrayView<float>, int, int>? _columnMeans;
    private Action<KernelConfig, ArrayView<float>, ArrayView<float>, SparsityPenalty, int>? _sparsityLoss;
    private Action<KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, SparsityPenalty, int, int>? _sparsityBackward;
    private Action<KernelConfig, ArrayView<float>, ArrayView<int>, ArrayView<int>, ArrayView<float>, int, int, float, int>? _toSparse;

    private IlgpuBackend(Context context, Accelerator accelerator, int groupSize)
    {
        _context = context;
        _accelerator = accelerator;
        if (accelerator.MaxNumThreadsPerGroup < K.Matmul.Threads * K.Matmul.Threads)
            throw new NotSupportedException(
                $"ILGPU device '{accelerator.Name}' allows {accelerator.MaxNumThreadsPerGroup} threads per group; " +
                $"the matmul kernel needs {K.Matmul.Threads * K.Matmul.Threads}.");
        _groupSize = Math.Min(groupSize, FloorPowerOfTwo(accelerator.MaxNumThreadsPerGroup));
        _residentGroups = Math.Max(1, accelerator.NumMultiprocessors * Math.Max(1, accelerator.MaxNumThreadsPerMultiprocessor / _groupSize) * 2);
        _pool = new SizeClassPool<IlgpuStorage>(AllocateBuffer, FreeBuffer);
        Name = $"ILGPU {accelerator.AcceleratorType} ({accelerator.Name}, {_groupSize} threads per row group)";
    }

    /// <summary>
    /// The ILGPU CPU accelerator (a thread simulator for debugging kernels). It simulates one
    /// multiprocessor of 256 threads (8 warps of 32), enough for the 256-thread matmul groups;
    /// the other kernels run in groups of <see cref="CpuGroupSize"/> there.
    /// </summary>
    public static IBackend CreateCpu() => CreateCpu(CpuGroupSize);

    /// <summary>
    /// The CPU accelerator with row kernels launched <paramref name="rowGroupSize"/> threads wide
    /// (a power of two up to 256): tests pass <see cref="GpuGroupSize"/> to run the exact group
    /// shapes a GPU gets.
    /// </summary>
    internal static IBackend CreateCpu(int rowGroupSize)
    {
        var device = new CPUDevice(numThreadsPerWarp: 32, numWarpsPerMultiprocessor: 8, numMultiprocessors: 1);
        var context = Context.Create(builder => builder.CPU(device).EnableAlgorithms().Optimize(OptimizationLevel.O2));
        return Create(context, c => c.CreateCPUAccelerator(0), rowGroupSize);
    }

    /// <summary>CUDA device <paramref name="index"/>; throws InvalidOperationException with a clear message when absent.</summary>
    public static IBackend CreateCuda(int index)
    {
        var context = Context.Create(builder => builder.Cuda().EnableAlgorithms().Optimize(OptimizationLevel.O2));
        var devices = context.GetCudaDevices();
        if (index < 0 || index >= devices.Count)
        {
            context.Dispose();
            throw new InvalidOperationException(
                $"No CUDA device {index} found ({DescribeDevices()}). Use Device.Cpu() for the SIMD backend " +
                "or Device.IlgpuCpu() for ILGPU's CPU accelerator.");
        }
        return Create(context, c => c.CreateCudaAccelerator(index), GpuGroupSize);
    }

    /// <summary>OpenCL device <paramref name="index"/>; throws InvalidOperationException with a clear message when absent.</summary>
    public static IBackend CreateOpenCL(int index)
    {
        var context = Context.Create(builder => builder.OpenCL().EnableAlgorithms().Optimize(OptimizationLevel.O2));
        var devices = context.GetCLDevices();
        if (index < 0 || index >= devices.Count)
        {
            context.Dispose();
            throw new InvalidOperationException(
                $"No OpenCL device {index} found ({DescribeDevices()}{DescribeUnsupportedOpenCL()}; ILGPU needs an " +
                "OpenCL 2.0 device with the generic address space, through a libOpenCL.so ICD loader). " +
                "Use Device.Cpu() for the SIMD backend or Device.IlgpuCpu() for ILGPU's CPU accelerator.");
        }
        return Create(context, c => c.CreateCLAccelerator(index), GpuGroupSize);
    }

    /// <summary>Creates the accelerator and the backend, disposing both and the context if either fails.</summary>
    private static IlgpuBackend Create(Context context, Func<Context, Accelerator> createAccelerator, int groupSize)
    {
        Accelerator? accelerator = null;
        try
        {
            accelerator = createAccelerator(context);
            return new IlgpuBackend(context, accelerator, groupSize);
        }
        catch
        {
            accelerator?.Dispose();
            context.Dispose();
            throw;
        }
    }

    private static int FloorPowerOfTwo(int n) => 1 << (31 - BitOperations.LeadingZeroCount((uint)n));

    private static int CeilPowerOfTwo(int n) => (int)BitOperations.RoundUpToPowerOf2((uint)n);

    /// <summary>What ILGPU can see on this machine, for error messages.</summary>
    private static string DescribeDevices()
    {
        using var probe = Context.Create(builder => builder.AllAccelerators());
        var found = probe.Devices.Where(d => d.AcceleratorType != AcceleratorType.CPU).ToList();
        return found.Count == 0
            ? "ILGPU found: CPU accelerator only"
            : "ILGPU found: " + string.Join(", ", found.Select(d => $"{d.AcceleratorType} '{d.Name}'"));
    }

    /// <summary>OpenCL devices present but unusable by ILGPU (e.g. pocl or Mesa's rusticl), for error messages.</summary>
    private static string DescribeUnsupportedOpenCL()
    {
        using var probe = Context.Create(builder => builder.OpenCL(_ => true));
        var unsupported = new List<string>();
        foreach (CLDevice d in probe.GetCLDevices())
            if (!d.Capabilities.GenericAddressSpace || d.CVersion < CLBackend.MinimumVersion)
                unsupported.Add($"'{d.Name}' ({d.CVersion}, generic address space: " +
                    $"{(d.Capabilities.GenericAddressSpace ? "yes" : "no")})");
        return unsupported.Count == 0 ? "" : "; unsupported OpenCL devices: " + string.Join(", ", unsupported);
    }

    /// <inheritdoc />
    public string Name { get; }

    private IlgpuStorage AllocateBuffer(long length)
    {
        lock (_lock)
        {
            _accelerator.Bind();
            try
            {
                return new IlgpuStorage(_accelerator.Allocate1D<float>(length));
            }
            catch (CudaException e) when (e.Error == nameof(CudaError.CUDA_ERROR_OUT_OF_MEMORY))
            {
                throw new OutOfMemoryException($"{Name}: out of device memory allocating {length * sizeof(float)} bytes.", e);
            }
            catch (CLException e) when (e.Error is CLError.CL_MEM_OBJECT_ALLOCATION_FAILURE or CLError.CL_OUT_OF_RESOURCES)
            {
                throw new OutOfMemoryException($"{Name}: out of device memory allocating {length * sizeof(float)} bytes.", e);
            }
        }
    }

    private void FreeBuffer(IlgpuStorage storage)
    {
        lock (_lock)
        {
            // Disposing the accelerator already freed every buffer it owned.
            if (_disposed)
                return;
            _accelerator.Bind();
            // Kernels queued before the storage went back to the pool may still use it.
            _accelerator.Synchronize();
            storage.Buffer.Dispose();
        }
    }

    /// <inheritdoc />
    public Storage Allocate(long length) => _pool.Rent(length);
    /// <inheritdoc />
    public void Release(Storage storage) => _pool.Return((IlgpuStorage)storage);
    /// <inheritdoc />
    public void TrimPool() => _pool.Trim();
    /// <inheritdoc />
    public long PooledBytes => _pool.Bytes;

    /// <summary>The storage from <paramref name="v"/>'s offset to its end.</summary>
    private static ArrayView<float> View(BufferView v)
    {
        var buffer = ((IlgpuStorage)v.Storage).Buffer;
        return buffer.View.SubView(v.Offset, buffer.Length - v.Offset);
    }

    /// <summary>
    /// Exactly the <paramref name="count"/> elements an operand spans from <paramref name="v"/>'s
    /// offset. Exact views let the CPU accelerator's bounds checks catch any kernel that reads or
    /// writes past its operand, which the pool's rounded-up storage sizes would otherwise hide.
    /// </summary>
    private static ArrayView<float> View(BufferView v, long count) =>
        ((IlgpuStorage)v.Storage).Buffer.View.SubView(v.Offset, count);

    /// <summary>Elements an elementwise operand spans: 1 + sum_d (shape_d - 1) * stride_d.</summary>
    private static long Extent(in ElementwiseLayout layout, in Dims8 strides)
    {
        long extent = 1;
        for (int d = 0; d < layout.Rank; d++)
            extent += (long)(layout.Shape.Get(d) - 1) * strides.Get(d);
        return extent;
    }

    /// <summary>Elements a matmul operand spans: the last batch's start plus its last element.</summary>
    private static long Extent(int batch, long batchStride, int rows, int cols, int ld) =>
        (batch - 1) * batchStride + (long)(rows - 1) * ld + cols;

    /// <inheritdoc />
    public void Upload(ReadOnlySpan<float> src, BufferView dst)
    {
        if (src.IsEmpty)
            return;
        lock (_lock)
        {
            Enter();
            View(dst, src.Length).CopyFromCPU(src);
        }
    }

    /// <inheritdoc />
    public void Download(BufferView src, Span<float> dst)
    {
        lock (_lock)
        {
            Enter();
            if (!dst.IsEmpty)
                View(src, dst.Length).CopyToCPU(dst);
            _accelerator.Synchronize();
        }
    }

    /// <inheritdoc />
    public void Fill(BufferView dst, long count, float value)
    {
        if (count <= 0)
            return;
        lock (_lock)
        {
            Enter();
            _fill ??= _accelerator.LoadStreamKernel<ArrayView<float>, float>(K.Elementwise.Fill);
            _fill(StrideConfig(count), View(dst, count), value);
        }
    }

    /// <inheritdoc />
    public void Synchronize()
    {
        lock (_lock)
        {
            Enter();
            _accelerator.Synchronize();
        }
    }

    /// <inheritdoc />
    public void Unary(UnaryOp op, BufferView x, BufferView y, in ElementwiseLayout layout)
    {
        int count = layout.Count;
        if (count == 0)
            return;
        lock (_lock)
        {
            Enter();
            _unary ??= _accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ElementwiseLayout, UnaryOp, int>(
                K.Elementwise.Unary);
            _unary(StrideConfig(count), View(x, Extent(layout, layout.StridesA)), View(y, count), layout, op, count);
        }
    }

    /// <inheritdoc />
    public void Binary(BinaryOp op, BufferView a, BufferView b, BufferView y, in ElementwiseLayout layout)
    {
        int count = layout.Count;
        if (count == 0)
            return;
        lock (_lock)
        {
            Enter();
            _binary ??= _accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>,
                ElementwiseLayout, BinaryOp, int>(K.Elementwise.Binary);
            _binary(StrideConfig(count), View(a, Extent(layout, layout.StridesA)), View(b, Extent(layout, layout.StridesB)),
                View(y, count), layout, op, count);
        }
    }

    /// <inheritdoc />
    public long PackedMatMulOperandLength(int k, int n) => 0;

    /// <inheritdoc />
    public void PackMatMulOperand(BufferView b, int k, int n, bool transB, int ldb, BufferView packed) =>
        throw new NotSupportedException($"{Name} multiplies operands as they are; it has no packed layout.");

    /// <inheritdoc />
    public void MatMul(in MatMulDesc desc, BufferView a, BufferView b, BufferView bias, BufferView c, BufferView? packedB = null)
    {
        if (desc.Batch == 0 || desc.M == 0 || desc.N == 0)
            return;
        long mTiles = (desc.M + K.Matmul.Tile - 1) / K.Matmul.Tile;
        long nTiles = (desc.N + K.Matmul.Tile - 1) / K.Matmul.Tile;
        if (desc.Batch * mTiles > int.MaxValue || nTiles > _accelerator.MaxGridSize.Y)
            throw new NotSupportedException(
                $"MatMul [{desc.Batch} x {desc.M} x {desc.K}] @ [{desc.K} x {desc.N}] exceeds the launch grid of {Name}.");
        var cView = View(c, desc.Batch * (long)desc.M * desc.N);
        lock (_lock)
        {
            Enter();
            _matmul ??= _accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
                K.Matmul.MatMulArgs>(K.Matmul.Forward);
            var config = new KernelConfig(
                new Index2D((int)(desc.Batch * mTiles), (int)nTiles),
                new Index2D(K.Matmul.Threads, K.Matmul.Threads));
            var aView = desc.K == 0 ? cView : desc.TransA
                ? View(a, Extent(desc.Batch, desc.BatchStrideA, desc.K, desc.M, desc.Lda))
                : View(a, Extent(desc.Batch, desc.BatchStrideA, desc.M, desc.K, desc.Lda));
            var bView = desc.K == 0 ? cView : desc.TransB
                ? View(b, Extent(desc.Batch, desc.BatchStrideB, desc.N, desc.K, desc.Ldb))
                : View(b, Extent(desc.Batch, desc.BatchStrideB, desc.K, desc.N, desc.Ldb));
            _matmul(config, aView, bView, desc.HasBias ? View(bias, desc.N) : cView, cView, new K.Matmul.MatMulArgs(desc));
        }
    }

    /// <inheritdoc />
    public void Reduce(ReduceOp op, BufferView x, BufferView y, int outer, int n, int inner)
    {
        if (outer == 0 || inner == 0)
            return;
        var yView = View(y, (long)outer * inner);
        lock (_lock)
        {
            Enter();
            if (inner == 1)
            {
                _reduceRows ??= _accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<int>, ReduceOp,
                    int, int>(K.Reduction.Rows);
                _reduceRows(RowConfig(outer, n), View(x, (long)outer * n), yView, yView.Cast<int>(), op, outer, n);
            }
            else
            {
                _reduceColumns ??= _accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<int>, ReduceOp,
                    int, int>(K.Reduction.Columns);
                int width = Math.Min(32, Math.Min(_groupSize, CeilPowerOfTwo(inner)));
                long groups = (long)outer * ((inner + width - 1) / width);
                if (groups > int.MaxValue)
                    throw new NotSupportedException($"Reduce over [{outer}, {n}, {inner}] exceeds the launch grid of {Name}.");
                var config = new KernelConfig(new Index2D((int)groups, 1), new Index2D(width, _groupSize / width));
                _reduceColumns(config, View(x, (long)outer * n * inner), yView, yView.Cast<int>(), op, n, inner);
            }
        }
    }

    /// <inheritdoc />
    public void Softmax(BufferView x, BufferView y, int rows, int cols, bool log)
    {
        if (rows == 0 || cols == 0)
            return;
        lock (_lock)
        {
            Enter();
            _softmax ??= _accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<float>, int, int, int>(K.Softmax.Forward);
            _softmax(RowConfig(rows, cols), View(x, (long)rows * cols), View(y, (long)rows * cols), rows, cols, log ? 1 : 0);
        }
    }

    /// <inheritdoc />
    public void LayerNorm(BufferView x, BufferView gamma, BufferView beta, BufferView y, BufferView mean, BufferView rstd,
        int rows, int cols, float eps, bool hasGamma, bool hasBeta)
    {
        if (rows == 0)
            return;
        lock (_lock)
        {
            Enter();
            _layerNorm ??= _accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
                ArrayView<float>, ArrayView<float>, int, int, float, int, int>(K.LayerNorm.Forward);
            var xView = View(x, (long)rows * cols);
            _layerNorm(RowConfig(rows, cols), xView, hasGamma ? View(gamma, cols) : xView, hasBeta ? View(beta, cols) : xView,
                View(y, (long)rows * cols), View(mean, rows), View(rstd, rows), rows, cols, eps, hasGamma ? 1 : 0, hasBeta ? 1 : 0);
        }
    }

    /// <inheritdoc />
    public void Embedding(BufferView table, BufferView ids, BufferView y, int n, int dim)
    {
        if (n == 0 || dim == 0)
            return;
        lock (_lock)
        {
            Enter();
            _embedding ??= _accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<int>, ArrayView<float>, int, int>(
                K.Embedding.Forward);
            int threads = Math.Min(_groupSize, CeilPowerOfTwo(dim));
            var config = new KernelConfig(new Index1D(Math.Min(n, _accelerator.MaxGridSize.X)), new Index1D(threads));
            _embedding(config, View(table), View(ids, n).Cast<int>(), View(y, (long)n * dim), n, dim);
        }
    }

    /// <inheritdoc />
    public void CrossEntropy(BufferView logits, BufferView targets, BufferView loss, BufferView valid, int rows, int cols,
        int ignoreIndex)
    {
        if (rows == 0)
            return;
        lock (_lock)
        {
            Enter();
            _crossEntropy ??= _accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<float>,
                int, int, int>(K.CrossEntropy.Forward);
            _crossEntropy(RowConfig(rows, cols), View(logits, (long)rows * cols), View(targets, rows).Cast<int>(), View(loss, rows),
                View(valid, rows), rows, cols, ignoreIndex);
        }
    }

    /// <inheritdoc />
    public void UnaryBackward(UnaryOp op, BufferView x, BufferView dy, BufferView dx, long count)
    {
        if (count <= 0)
            return;
        lock (_lock)
        {
            Enter();
            _unaryBackward ??= _accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, UnaryOp>(
                K.Elementwise.UnaryBackward);
            _unaryBackward(StrideConfig(count), View(x, count), View(dy, count), View(dx, count), op);
        }
    }

    /// <inheritdoc />
    public void BinaryBackward(BinaryOp op, BufferView a, BufferView b, BufferView dy, BufferView da, BufferView db,
        in ElementwiseLayout layout, bool needA, bool needB)
    {
        int count = layout.Count;
        if (count == 0 || (!needA && !needB))
            return;
        lock (_lock)
        {
            Enter();
            _binaryBackward ??= _accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>,
                ArrayView<float>, ArrayView<float>, ElementwiseLayout, BinaryOp, int, int, int>(K.Elementwise.BinaryBackward);
            var dyView = View(dy, count);
            _binaryBackward(StrideConfig(count), View(a, Extent(layout, layout.StridesA)), View(b, Extent(layout, layout.StridesB)),
                dyView, needA ? View(da, count) : dyView, needB ? View(db, count) : dyView, layout, op,
                needA ? 1 : 0, needB ? 1 : 0, count);
        }
    }

    /// <inheritdoc />
    public void Copy(BufferView src, BufferView dst, in ElementwiseLayout layout)
    {
        int count = layout.Count;
        if (count == 0)
            return;
        lock (_lock)
        {
            Enter();
            _copy ??= _accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ElementwiseLayout, int>(K.Elementwise.Copy);
            _copy(StrideConfig(count), View(src, Extent(layout, layout.StridesA)), View(dst, Extent(layout, layout.StridesB)),
                layout, count);
        }
    }

    /// <inheritdoc />
    public void ReduceMaxBackward(BufferView index, BufferView dy, BufferView dx, int outer, int n, int inner)
    {
        long count = (long)outer * n * inner;
        if (count == 0)
            return;
        if (count > int.MaxValue)
            throw new NotSupportedException($"ReduceMaxBackward over [{outer}, {n}, {inner}] exceeds the int32 indexing of {Name}.");
        lock (_lock)
        {
            Enter();
            _reduceMaxBackward ??= _accelerator.LoadStreamKernel<ArrayView<int>, ArrayView<float>, ArrayView<float>, int, int, int>(
                K.Reduction.MaxBackward);
            long reduced = (long)outer * inner;
            _reduceMaxBackward(StrideConfig(count), View(index, reduced).Cast<int>(), View(dy, reduced), View(dx, count),
                n, inner, (int)count);
        }
    }

    /// <inheritdoc />
    public void SoftmaxBackward(BufferView y, BufferView dy, BufferView dx, int rows, int cols, bool log)
    {
        if (rows == 0 || cols == 0)
            return;
        lock (_lock)
        {
            Enter();
            _softmaxBackward ??= _accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int>(
                K.Softmax.Backward);
            long count = (long)rows * cols;
            _softmaxBackward(RowConfig(rows, cols), View(y, count), View(dy, count), View(dx, count), rows, cols, log ? 1 : 0);
        }
    }

    /// <inheritdoc />
    public void LayerNormBackward(BufferView x, BufferView gamma, BufferView mean, BufferView rstd, BufferView dy,
        BufferView dx, BufferView dgamma, BufferView dbeta, int rows, int cols, bool hasGamma, bool hasBeta)
    {
        if (cols == 0)
            return;
        lock (_lock)
        {
            Enter();
            long count = (long)rows * cols;
            if (rows > 0)
            {
                _layerNormBackward ??= _accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>,
                    ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int>(K.LayerNorm.Backward);
                var xView = View(x, count);
                _layerNormBackward(RowConfig(rows, cols), xView, hasGamma ? View(gamma, cols) : xView, View(mean, rows),
                    View(rstd, rows), View(dy, count), View(dx, count), rows, cols, hasGamma ? 1 : 0);
            }
            if (hasGamma || hasBeta)
            {
                _layerNormGammaBetaBackward ??= _accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>,
                    ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int, int>(K.LayerNorm.GammaBetaBackward);
                // With rows = 0 the row operands are empty: the kernel reads none of them and writes zeros.
                var dgammaView = hasGamma ? View(dgamma, cols) : View(dbeta, cols);
                var dbetaView = hasBeta ? View(dbeta, cols) : dgammaView;
                _layerNormGammaBetaBackward(StrideConfig(cols), View(x, count), View(mean, rows), View(rstd, rows), View(dy, count),
                    dgammaView, dbetaView, rows, cols, hasGamma ? 1 : 0, hasBeta ? 1 : 0);
            }
        }
    }

    /// <inheritdoc />
    public void EmbeddingBackward(BufferView ids, BufferView dy, BufferView dtable, int n, int dim, int vocab)
    {
        long tableCount = (long)vocab * dim;
        if (tableCount == 0)
            return;
        lock (_lock)
        {
            Enter();
            _fill ??= _accelerator.LoadStreamKernel<ArrayView<float>, float>(K.Elementwise.Fill);
            var tableView = View(dtable, tableCount);
            _fill(StrideConfig(tableCount), tableView, 0f);
            if (n == 0)
                return;
            _embeddingBackward ??= _accelerator.LoadStreamKernel<ArrayView<int>, ArrayView<float>, ArrayView<float>, int, int>(
                K.Embedding.Backward);
            _embeddingBackward(StrideConfig(dim), View(ids, n).Cast<int>(), View(dy, (long)n * dim), tableView, n, dim);
        }
    }

    /// <inheritdoc />
    public void CrossEntropyBackward(BufferView logits, BufferView targets, BufferView dloss, BufferView dlogits,
        int rows, int cols, int ignoreIndex)
    {
        if (rows == 0 || cols == 0)
            return;
        lock (_lock)
        {
            Enter();
            _crossEntropyBackward ??= _accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<int>, ArrayView<float>,
                ArrayView<float>, int, int, int>(K.CrossEntropy.Backward);
            long count = (long)rows * cols;
            _crossEntropyBackward(RowConfig(rows, cols), View(logits, count), View(targets, rows).Cast<int>(), View(dloss, rows),
                View(dlogits, count), rows, cols, ignoreIndex);
        }
    }

    /// <inheritdoc />
    /// <remarks>
    /// Groups (W, H) as the column reduction: W consecutive columns of one text (up to 32) times H
    /// slices of its rows; see <see cref="K.SpladePool.Forward"/>. logits and rowIds are bounded by
    /// their storage (the row count is not an argument).
    /// </remarks>
    public void SpladePool(BufferView logits, BufferView rowIds, BufferView offsets, BufferView w, BufferView argmax, int texts, int vocab)
    {
        if (texts == 0 || vocab == 0)
            return;
        int width = Math.Min(32, Math.Min(_groupSize, CeilPowerOfTwo(vocab)));
        long groups = (long)texts * ((vocab + width - 1) / width);
        if (groups > _accelerator.MaxGridSize.X)
            throw new NotSupportedException($"SpladePool over {texts} texts of {vocab} columns exceeds the launch grid of {Name}.");
        lock (_lock)
        {
            Enter();
            _spladePool ??= _accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<int>, ArrayView<int>, ArrayView<float>,
                ArrayView<int>, int, int>(K.SpladePool.Forward);
            var config = new KernelConfig(new Index2D((int)groups, 1), new Index2D(width, _groupSize / width));
            long outputs = (long)texts * vocab;
            _spladePool(config, View(logits), View(rowIds).Cast<int>(), View(offsets, texts + 1).Cast<int>(), View(w, outputs),
                View(argmax, outputs).Cast<int>(), texts, vocab);
        }
    }

    /// <inheritdoc />
    public void SpladePoolBackward(BufferView logits, BufferView rowText, BufferView argmax, BufferView dw, BufferView dlogits,
        long rows, int texts, int vocab)
    {
        if (rows == 0 || vocab == 0)
            return;
        lock (_lock)
        {
            Enter();
            _spladePoolBackward ??= _accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<int>, ArrayView<int>, ArrayView<float>,
                ArrayView<float>, long, int>(K.SpladePool.Backward);
            long count = rows * vocab;
            long outputs = Math.Max(1L, (long)texts * vocab);
            _spladePoolBackward(RowsConfig(rows, vocab), View(logits, count), View(rowText, rows).Cast<int>(),
                View(argmax, outputs).Cast<int>(), View(dw, outputs), View(dlogits, count), rows, vocab);
        }
    }

    /// <inheritdoc />
    /// <remarks>
    /// Two kernels: <see cref="K.FlopsRegularizer.ColumnMeans"/> (groups of W columns times H row
    /// slices) and <see cref="K.FlopsRegularizer.Loss"/> (one group).
    /// </remarks>
    public void SparsityRegularizer(SparsityPenalty penalty, BufferView w, BufferView means, BufferView loss, int n, int vocab)
    {
        lock (_lock)
        {
            Enter();
            var meansView = View(means, Math.Max(1, vocab));
            if (vocab > 0)
            {
                _columnMeans ??= _accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<float>, int, int>(K.FlopsRegularizer.ColumnMeans);
                int width = Math.Min(32, Math.Min(_groupSize, CeilPowerOfTwo(vocab)));
                var config = new KernelConfig(new Index2D((vocab + width - 1) / width, 1), new Index2D(width, _groupSize / width));
                _columnMeans(config, View(w, Math.Max(1L, (long)n * vocab)), meansView, n, vocab);
            }
            _sparsityLoss ??= _accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<float>, SparsityPenalty, int>(K.FlopsRegularizer.Loss);
            _sparsityLoss(new KernelConfig(new Index1D(1), new Index1D(_groupSize)), meansView, View(loss, 1), penalty, vocab);
        }
    }

    /// <inheritdoc />
    public void SparsityRegularizerBackward(SparsityPenalty penalty, BufferView w, BufferView means, BufferView dloss, BufferView dw,
        int n, int vocab)
    {
        long count = (long)n * vocab;
        if (count == 0)
            return;
        lock (_lock)
        {
            Enter();
            _sparsityBackward ??= _accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
                SparsityPenalty, int, int>(K.FlopsRegularizer.Backward);
            var wView = View(w, count);
            _sparsityBackward(RowsConfig(n, vocab), wView, penalty == SparsityPenalty.Flops ? View(means, vocab) : wView,
                View(dloss, 1), View(dw, count), penalty, n, vocab);
        }
    }

    /// <inheritdoc />
    /// <remarks>One group per row (grid-stride over the rows); see <see cref="K.ToSparse.Select"/>.</remarks>
    public void ToSparse(BufferView w, BufferView counts, BufferView columns, BufferView values, int rows, int vocab,
        float threshold, int capacity)
    {
        if (rows == 0)
            return;
        lock (_lock)
        {
            Enter();
            _toSparse ??= _accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<int>, ArrayView<int>, ArrayView<float>,
                int, int, float, int>(K.ToSparse.Select);
            long selected = Math.Max(1L, (long)rows * capacity);
            _toSparse(RowsConfig(rows, vocab), View(w, Math.Max(1L, (long)rows * vocab)), View(counts, rows).Cast<int>(),
                View(columns, selected).Cast<int>(), View(values, selected), rows, vocab, threshold, capacity);
        }
    }

    /// <inheritdoc />
    public void AdamW(BufferView param, BufferView grad, BufferView m, BufferView v, long count, in AdamWStep step)
    {
        if (count <= 0)
            return;
        lock (_lock)
        {
            Enter();
            _adamW ??= _accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
                AdamWStep>(K.AdamW.Step);
            _adamW(StrideConfig(count), View(param, count), View(grad, count), View(m, count), View(v, count), step);
        }
    }

    /// <inheritdoc />
    /// <remarks>
    /// Heads up to <see cref="K.Attention.MaxHeadSize"/> (the kernels' shared-memory tiles); one
    /// group per (batch, query head, 16 queries), see <see cref="K.Attention.Forward"/>.
    /// </remarks>
    public void AttentionForward(in AttentionDesc desc, BufferView q, BufferView k, BufferView v, BufferView mask,
        BufferView output, BufferView lse)
    {
        CheckAttention(desc, K.Attention.ForwardSharedBytes);
        var config = AttentionConfig((long)desc.Batch * desc.QueryHeads, desc.QueryLength, K.Attention.ForwardRows);
        if (config is not { } launch)
            return;
        long qCount = (long)desc.Batch * desc.QueryHeads * desc.QueryLength * desc.HeadSize;
        long kCount = (long)desc.Batch * desc.KvHeads * desc.KeyLength * desc.HeadSize;
        lock (_lock)
        {
            Enter();
            _attentionForward ??= _accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>,
                ArrayView<float>, ArrayView<float>, ArrayView<float>, AttentionDesc>(K.Attention.Forward);
            var qView = View(q, qCount);
            _attentionForward(launch, qView, View(k, kCount), View(v, kCount), MaskView(desc, mask, qView),
                View(output, qCount), View(lse, (long)desc.Batch * desc.QueryHeads * desc.QueryLength), desc);
        }
    }

    /// <inheritdoc />
    /// <remarks>
    /// Two kernels, neither with atomics: <see cref="K.Attention.KeyValueBackward"/> (one group per
    /// batch, kv head and 16 keys) writes dk and dv, <see cref="K.Attention.QueryBackward"/> (one
    /// group per batch, query head and 16 queries) writes dq; each forms D_i = dout_i . out_i for
    /// the rows it reads.
    /// </remarks>
    public void AttentionBackward(in AttentionDesc desc, BufferView q, BufferView k, BufferView v, BufferView mask,
        BufferView output, BufferView lse, BufferView dout, BufferView dq, BufferView dk, BufferView dv)
    {
        CheckAttention(desc, Math.Max(K.Attention.KeyValueSharedBytes, K.Attention.QuerySharedBytes));
        var keyConfig = AttentionConfig((long)desc.Batch * desc.KvHeads, desc.KeyLength, K.Attention.KeyValueKeys);
        var queryConfig = AttentionConfig((long)desc.Batch * desc.QueryHeads, desc.QueryLength, K.Attention.QueryRows);
        long qCount = (long)desc.Batch * desc.QueryHeads * desc.QueryLength * desc.HeadSize;
        long kCount = (long)desc.Batch * desc.KvHeads * desc.KeyLength * desc.HeadSize;
        lock (_lock)
        {
            Enter();
            var qView = View(q, qCount);
            var kView = View(k, kCount);
            var vView = View(v, kCount);
            var maskView = MaskView(desc, mask, qView);
            var outView = View(output, qCount);
            var lseView = View(lse, (long)desc.Batch * desc.QueryHeads * desc.QueryLength);
            var doutView = View(dout, qCount);
            if (keyConfig is { } keyLaunch)
            {
                _attentionKeyValueBackward ??= _accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<float>,
                    ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
                    ArrayView<float>, AttentionDesc>(K.Attention.KeyValueBackward);
                _attentionKeyValueBackward(keyLaunch, qView, kView, vView, maskView, outView, lseView, doutView,
                    View(dk, kCount), View(dv, kCount), desc);
            }
            if (queryConfig is { } queryLaunch)
            {
                _attentionQueryBackward ??= _accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<float>,
                    ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
                    AttentionDesc>(K.Attention.QueryBackward);
                _attentionQueryBackward(queryLaunch, qView, kView, vView, maskView, outView, lseView, doutView,
                    View(dq, qCount), desc);
            }
        }
    }

    /// <summary>Refuses heads larger than the attention kernels' tiles and devices with too little shared memory.</summary>
    private void CheckAttention(in AttentionDesc desc, int sharedBytes)
    {
        if (desc.HeadSize > K.Attention.MaxHeadSize)
            throw new NotSupportedException(
                $"Fused attention on {Name} supports head sizes up to {K.Attention.MaxHeadSize} " +
                $"(the kernels' shared-memory tiles); got {desc.HeadSize}.");
        if (_accelerator.MaxSharedMemoryPerGroup < sharedBytes)
            throw new NotSupportedException(
                $"Fused attention needs {sharedBytes} bytes of shared memory per group; {Name} offers " +
                $"{_accelerator.MaxSharedMemoryPerGroup}.");
    }

    /// <summary>
    /// One 1-D group per (head, tile of <paramref name="tile"/> rows of <paramref name="length"/>),
    /// <see cref="K.Attention.Threads"/> threads wide (the row-kernel width on the CPU
    /// accelerator); null when there is no tile.
    /// </summary>
    private KernelConfig? AttentionConfig(long heads, int length, int tile)
    {
        long groups = heads * ((length + tile - 1) / tile);
        if (groups == 0)
            return null;
        if (groups > _accelerator.MaxGridSize.X)
            throw new NotSupportedException(
                $"Fused attention over {heads} heads of {length} rows exceeds the launch grid of {Name}.");
        return new KernelConfig(new Index1D((int)groups), new Index1D(Math.Min(_groupSize, K.Attention.Threads)));
    }

    /// <summary>
    /// Exactly the mask elements <paramref name="desc"/> reads (the last batch, head and row's
    /// offset plus the row), or <paramref name="unused"/> when there is no mask.
    /// </summary>
    private static ArrayView<float> MaskView(in AttentionDesc desc, BufferView mask, ArrayView<float> unused)
    {
        if (desc.HasMask == 0 || desc.QueryLength == 0 || desc.KeyLength == 0)
            return unused;
        long extent = (desc.Batch - 1) * desc.MaskBatchStride + (desc.QueryHeads - 1) * desc.MaskHeadStride
            + (desc.QueryLength - 1) * desc.MaskRowStride + desc.KeyLength;
        return View(mask, extent);
    }

    /// <summary>Checks the backend is alive and binds the accelerator to this thread (call under the lock).</summary>
    private void Enter()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        _accelerator.Bind();
    }

    /// <summary>A 1-D grid for grid-stride kernels: enough groups to fill the device, no more than the work needs.</summary>
    private KernelConfig StrideConfig(long count)
    {
        long groups = Math.Min((count + _groupSize - 1) / _groupSize, _residentGroups);
        return new KernelConfig(new Index1D((int)groups), new Index1D(_groupSize));
    }

    /// <summary>
    /// One 1-D group per row, up to the device's resident groups (the kernels loop over rows with
    /// the grid's stride), each the smallest power of two covering the row, at most the group size.
    /// </summary>
    private KernelConfig RowsConfig(long rows, int cols)
    {
        int groups = (int)Math.Min(rows, _residentGroups);
        return new KernelConfig(new Index1D(groups), new Index1D(Math.Min(_groupSize, CeilPowerOfTwo(Math.Max(1, cols)))));
    }

    /// <summary>
    /// Group shape for the row kernels: T threads per row, the smallest power of two giving each
    /// thread about 4 columns (at most the group size), and groupSize / T rows per group.
    /// </summary>
    private KernelConfig RowConfig(int rows, int cols)
    {
        int perRow = Math.Min(_groupSize, CeilPowerOfTwo(Math.Max(1, (cols + 3) / 4)));
        int rowsPerGroup = _groupSize / perRow;
        int groups = (int)(((long)rows + rowsPerGroup - 1) / rowsPerGroup);
        return new KernelConfig(new Index2D(groups, 1), new Index2D(perRow, rowsPerGroup));
    }

    /// <summary>Frees all device memory, the accelerator and the ILGPU context.</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            if (!_disposed)
            {
                // Queued kernels may still use buffers the pool is about to free.
                _accelerator.Bind();
                _accelerator.Synchronize();
            }
        }
        _pool.Dispose();
        lock (_lock)
        {
            if (_disposed)
                return;
            _disposed = true;
            _accelerator.Dispose();
            _context.Dispose();
        }
    }
}
