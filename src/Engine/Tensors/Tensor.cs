using System.Runtime.InteropServices;
using Engine.Backends;

namespace Engine;

/// <summary>
/// An n-dimensional array of float32 (or int32) on a <see cref="Device"/>: a view (shape,
/// element strides, offset) over reference-counted device storage. Reshape, transpose, permute
/// and slice make views that share storage; ops write new contiguous tensors. Dispose a tensor
/// (or its <see cref="TensorScope"/>) to give its memory back to the device pool at once; the
/// garbage collector does it otherwise.
/// </summary>
public sealed partial class Tensor : IDisposable
{
    private readonly int[] _shape;
    private readonly int[] _strides;
    private SharedStorage? _storage;

    internal Tensor(SharedStorage storage, int[] shape, int[] strides, long offset, DType dtype, bool scoped = true)
    {
        _storage = storage;
        _shape = shape;
        _strides = strides;
        Offset = offset;
        DType = dtype;
        storage.AddRef();
        if (scoped) TensorScope.Register(this);
    }

    /// <summary>A second handle on the same elements that belongs to no scope (for the tape and for gradients).</summary>
    internal Tensor Alias() => new(Storage, _shape, _strides, Offset, DType, scoped: false);

    /// <summary>The device holding the data.</summary>
    public Device Device => Storage.Device;

    /// <summary>Element type.</summary>
    public DType DType { get; }

    /// <summary>Sizes of the dimensions.</summary>
    public ReadOnlySpan<int> Shape => _shape;

    /// <summary>Element strides of the dimensions (row-major for a contiguous tensor).</summary>
    public ReadOnlySpan<int> Strides => _strides;

    /// <summary>Number of dimensions.</summary>
    public int Rank => _shape.Length;

    /// <summary>Number of elements.</summary>
    public long Count => ShapeMath.Count(_shape);

    /// <summary>Size of dimension <paramref name="dim"/> (negative counts from the end).</summary>
    public int Size(int dim) => _shape[ShapeMath.NormalizeDim(dim, Rank, "Size")];

    /// <summary>True when the elements are laid out row-major with no gaps.</summary>
    public bool IsContiguous => ShapeMath.IsContiguous(_shape, _strides);

    /// <summary>True once disposed.</summary>
    public bool IsDisposed => _storage is null;

    internal long Offset { get; }

    internal SharedStorage Storage => _storage ?? throw new ObjectDisposedException(nameof(Tensor), $"Tensor {ShapeMath.Format(_shape)} was used after it was disposed.");

    internal int[] ShapeArray => _shape;
    internal int[] StridesArray => _strides;
    internal IBackend Backend => Storage.Device.Backend;
    internal BufferView Buffer => new(Storage.Storage, Offset);

    /// <summary>Gives the memory back to the device pool (once every view of it is disposed too), with the accumulated gradient's.</summary>
    public void Dispose()
    {
        var storage = Interlocked.Exchange(ref _storage, null);
        storage?.Release();
        Grad?.Dispose();
        Grad = null;
        GradFn = null;
    }

    /// <inheritdoc />
    public override string ToString() => $"Tensor({ShapeMath.Format(_shape)}, {DType}, {(IsDisposed ? "disposed" : Device.Kind.ToString())})";

    // ---- creation ----

    /// <summary>A new contiguous tensor with undefined contents.</summary>
    internal static Tensor Empty(Device device, ReadOnlySpan<int> shape, DType dtype = DType.Float32)
    {
        var dims = ShapeMath.Validate(shape, "Tensor.Empty");
        long count = ShapeMath.Count(dims);
        var storage = new SharedStorage(device, device.Backend.Allocate(Math.Max(count, 1)));
        if (device.PoisonNewTensors)
            device.Backend.Fill(new BufferView(storage.Storage, 0), count, float.NaN);
        return new Tensor(storage, dims, ShapeMath.ContiguousStrides(dims), 0, dtype);
    }

    /// <summary>A tensor filled with zeros.</summary>
    public static Tensor Zeros(Device device, ReadOnlySpan<int> shape, DType dtype = DType.Float32) => Full(device, shape, 0f, dtype);

    /// <summary>A tensor filled with ones.</summary>
    public static Tensor Ones(Device device, ReadOnlySpan<int> shape, DType dtype = DType.Float32) => Full(device, shape, 1f, dtype);

    /// <summary>A tensor with every element equal to <paramref name="value"/> (truncated to an integer for int32).</summary>
    public static Tensor Full(Device device, ReadOnlySpan<int> shape, float value, DType dtype = DType.Float32)
    {
        var t = Empty(device, shape, dtype);
        float bits = dtype == DType.Int32 ? BitConverter.Int32BitsToSingle((int)value) : value;
        device.Backend.Fill(t.Buffer, t.Count, bits);
        return t;
    }

    /// <summary>A float32 tensor holding a copy of <paramref name="data"/> with the given shape (default: 1-D).</summary>
    public static Tensor FromArray(Device device, ReadOnlySpan<float> data, ReadOnlySpan<int> shape = default) =>
        FromValues(device, data, shape.IsEmpty ? [data.Length] : ShapeMath.Validate(shape, "FromArray"));

    /// <summary>Replaces this contiguous tensor's values with <paramref name="values"/> (as many), recording the write in place.</summary>
    internal void Overwrite(ReadOnlySpan<float> values)
    {
        Backend.Upload(values, Buffer);
        Storage.MarkWritten();
    }

    private static Tensor FromValues(Device device, ReadOnlySpan<float> data, int[] dims)
    {
        if (ShapeMath.Count(dims) != data.Length)
            throw new ArgumentException($"FromArray: {data.Length} values do not fill shape {ShapeMath.Format(dims)} ({ShapeMath.Count(dims)} elements).");
        var t = Empty(device, dims);
        device.Backend.Upload(data, t.Buffer);
        return t;
    }

    /// <summary>An int32 tensor holding a copy of <paramref name="data"/> with the given shape (default: 1-D).</summary>
    public static Tensor FromArray(Device device, ReadOnlySpan<int> data, ReadOnlySpan<int> shape = default)
    {
        int[] dims = shape.IsEmpty ? [data.Length] : ShapeMath.Validate(shape, "FromArray");
        if (ShapeMath.Count(dims) != data.Length)
            throw new ArgumentException($"FromArray: {data.Length} values do not fill shape {ShapeMath.Format(dims)} ({ShapeMath.Count(dims)} elements).");
        var t = Empty(device, dims, DType.Int32);
        device.Backend.Upload(MemoryMarshal.Cast<int, float>(data), t.Buffer);
        return t;
    }

    /// <summary>A 0-dimensional float32 tensor holding <paramref name="value"/>.</summary>
    public static Tensor Scalar(Device device, float value) => FromValues(device, [value], []);

    /// <summary>start, start + step, ... up to (excluding) end, as float32, like torch.arange.</summary>
    public static Tensor Arange(Device device, float start, float end, float step = 1f)
    {
        if (step == 0f || float.IsNaN(step) || (end - start) / step < 0)
            throw new ArgumentException($"Arange: no values from {start} to {end} with step {step}.");
        int count = (int)Math.Ceiling((end - start) / (double)step);
        var values = new float[count];
        for (int i = 0; i < count; i++) values[i] = start + i * step;
        return FromArray(device, values);
    }

    /// <summary>Uniform values in [low, high). The same seed gives the same values on every device.</summary>
    public static Tensor Rand(Device device, ReadOnlySpan<int> shape, ulong seed, float low = 0f, float high = 1f, bool requiresGrad = false)
    {
        var dims = ShapeMath.Validate(shape, "Rand");
        var values = new float[ShapeMath.Count(dims)];
        CounterRandom.FillUniform(values, seed, low, high);
        var t = FromValues(device, values, dims);
        t.RequiresGrad = requiresGrad;
        return t;
    }

    /// <summary>Normal values with the given mean and standard deviation. The same seed gives the same values on every device.</summary>
    public static Tensor Randn(Device device, ReadOnlySpan<int> shape, ulong seed, float mean = 0f, float std = 1f, bool requiresGrad = false)
    {
        var dims = ShapeMath.Validate(shape, "Randn");
        var values = new float[ShapeMath.Count(dims)];
        CounterRandom.FillNormal(values, seed, mean, std);
        var t = FromValues(device, values, dims);
        t.RequiresGrad = requiresGrad;
        return t;
    }

    // ---- reading back ----

    /// <summary>Copies the elements (row-major) to a new float array. For int32 tensors use <see cref="ToInt32Array"/>.</summary>
    public float[] ToArray()
    {
        if (DType != DType.Float32)
            throw new ArgumentException($"ToArray: tensor {ShapeMath.Format(_shape)} is {DType}; use ToInt32Array().");
        return ReadRaw();
    }

    /// <summary>Copies the elements (row-major) of an int32 tensor to a new int array.</summary>
    public int[] ToInt32Array()
    {
        if (DType != DType.Int32)
            throw new ArgumentException($"ToInt32Array: tensor {ShapeMath.Format(_shape)} is {DType}; use ToArray().");
        return MemoryMarshal.Cast<float, int>(ReadRaw()).ToArray();
    }

    /// <summary>The single value of a one-element float32 tensor.</summary>
    public float Item()
    {
        if (Count != 1)
            throw new ArgumentException($"Item: tensor {ShapeMath.Format(_shape)} has {Count} elements, not 1.");
        return ToArray()[0];
    }

    private float[] ReadRaw()
    {
        var result = new float[Count];
        if (IsContiguous)
        {
            Backend.Download(Buffer, result);
            return result;
        }
        using var dense = Contiguous();
        Backend.Download(dense.Buffer, result);
        return result;
    }
}

/// <summary>Device storage shared by a tensor and its views; returned to the pool when the last one lets go.</summary>
internal sealed class SharedStorage
{
    private int _references;

    public SharedStorage(Device device, Storage storage)
    {
        Device = device;
        Storage = storage;
    }

    public Device Device { get; }
    public Storage Storage { get; }

    /// <summary>How many tensors (views) hold this storage.</summary>
    public int References => Volatile.Read(ref _references);

    private int _version;

    /// <summary>
    /// Counts writes into the storage after its tensor was made (copies into it, optimizer steps,
    /// checkpoint loads), so a copy derived from its values, such as a packed weight, can tell it
    /// went stale. Ops that return a new tensor never write into an existing one.
    /// </summary>
    public int Version => Volatile.Read(ref _version);

    /// <summary>Records a write into the storage; see <see cref="Version"/>.</summary>
    public void MarkWritten() => Interlocked.Increment(ref _version);

    public void AddRef() => Interlocked.Increment(ref _references);

    public void Release()
    {
        if (Interlocked.Decrement(ref _references) == 0)
        {
            Device.Backend.Release(Storage);
            GC.SuppressFinalize(this);
        }
    }

    // A tensor the user forgot to dispose still gives its memory back to the pool.
    ~SharedStorage()
    {
        try { Device.Backend.Release(Storage); }
        catch (Exception) { /* the device is gone; its memory went with it */ }
    }
}
