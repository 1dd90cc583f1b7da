using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;

namespace Engine.GpuCheck;

/// <summary>What the device can do at best, measured on it: the ceilings the kernels are held against.</summary>
/// <param name="CopyGigabytesPerSecond">A large device-to-device copy, bytes read plus written per second (10^9).</param>
/// <param name="CopyMegabytes">Size of the copied buffer.</param>
/// <param name="SgemmGflops">cuBLAS SGEMM (fp32, no TF32) on <paramref name="SgemmShape"/>; null without CUDA or cuBLAS.</param>
/// <param name="SgemmShape">The square product cuBLAS was timed on.</param>
/// <param name="Notes">Why a ceiling is missing, or how it was measured.</param>
public sealed record DeviceCeilings(double CopyGigabytesPerSecond, double CopyMegabytes, double? SgemmGflops, string SgemmShape, string Notes);

/// <summary>
/// Measures the ceilings on a context of its own (the backend keeps its accelerator private):
/// ILGPU's CUDA accelerator on the same GPU, or ILGPU's CPU accelerator in the fallback. cuBLAS
/// comes through ILGPU.Algorithms' CuBlas wrapper with the default math mode (no tensor-op
/// TF32); it also times each single product's shape, the expert bound for that row of the table.
/// </summary>
internal sealed class CeilingProbe : IDisposable
{
    private readonly Context _context;
    private readonly Accelerator _accelerator;
    private readonly CuBlas? _cuBlas;
    private readonly TimingPolicy _timing;

    private CeilingProbe(Context context, Accelerator accelerator, CuBlas? cuBlas, string cuBlasNote, TimingPolicy timing)
    {
        _context = context;
        _accelerator = accelerator;
        _cuBlas = cuBlas;
        CuBlasNote = cuBlasNote;
        _timing = timing;
    }

    /// <summary>Why cuBLAS is not available, or its version.</summary>
    public string CuBlasNote { get; }

    /// <summary>Opens CUDA device 0 (with cuBLAS when its library loads) or the CPU accelerator.</summary>
    public static CeilingProbe Open(bool cuda, TimingPolicy timing)
    {
        if (!cuda)
        {
            var cpuContext = Context.Create(builder => builder.CPU());
            return new CeilingProbe(cpuContext, cpuContext.CreateCPUAccelerator(0), null,
                "no cuBLAS on the CPU accelerator", timing);
        }
        var context = Context.Create(builder => builder.Cuda());
        var accelerator = context.CreateCudaAccelerator(0);
        try
        {
            accelerator.Bind();
            var cuBlas = new CuBlas(accelerator) { MathMode = CuBlasMathMode.DefaultMath };
            return new CeilingProbe(context, accelerator, cuBlas, $"cuBLAS {cuBlas.Version}", timing);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException or CuBlasException
                                      or TypeInitializationException or NotSupportedException)
        {
            return new CeilingProbe(context, accelerator, null,
                $"cuBLAS unavailable ({e.GetType().Name}: {e.Message}); put libcublas.so.12 on LD_LIBRARY_PATH", timing);
        }
    }

    /// <summary>GB/s of a device-to-device copy of <paramref name="bytes"/>, counting the read and the write.</summary>
    public double CopyGigabytesPerSecond(long bytes)
    {
        _accelerator.Bind();
        long count = bytes / sizeof(float);
        using var source = _accelerator.Allocate1D<float>(count);
        using var target = _accelerator.Allocate1D<float>(count);
        source.MemSetToZero();
        double ms = Timing.Milliseconds(() => source.View.CopyTo(target.View), _accelerator.Synchronize, _timing);
        return 2.0 * count * sizeof(float) / (ms * 1e-3) / 1e9;
    }

    /// <summary>Milliseconds of cuBLAS SGEMM for the row-major product <paramref name="shape"/>; null without cuBLAS.</summary>
    public double? SgemmMilliseconds(SgemmShape shape)
    {
        if (_cuBlas is null)
            return null;
        _accelerator.Bind();
        var (m, n, k) = (shape.M, shape.N, shape.K);
        using var a = _accelerator.Allocate1D(HostData.Uniform((long)m * k, 201, -1f, 1f));
        using var b = _accelerator.Allocate1D(HostData.Uniform((long)k * n, 202, -1f, 1f));
        using var c = _accelerator.Allocate1D<float>((long)m * n);
        // cuBLAS is column-major: a row-major C [M, N] is a column-major C^T [N, M] = op(B)^T op(A)^T,
        // and a row-major X with leading dimension ld is a column-major X^T with the same ld.
        var opA = shape.TransA ? CuBlasOperation.Transpose : CuBlasOperation.NonTranspose;
        var opB = shape.TransB ? CuBlasOperation.Transpose : CuBlasOperation.NonTranspose;
        int lda = shape.TransA ? m : k, ldb = shape.TransB ? k : n;
        return Timing.Milliseconds(
            () => _cuBlas.Gemm(opB, opA, n, m, k, 1f, b.View, ldb, a.View, lda, 0f, c.View, n),
            _accelerator.Synchronize, _timing);
    }

    public void Dispose()
    {
        _accelerator.Bind();
        _cuBlas?.Dispose();
        _accelerator.Dispose();
        _context.Dispose();
    }
}
