using System.Buffers.Binary;
using System.Collections.ObjectModel;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Engine.Io;

/// <summary>
/// An open safetensors file: its header is read and fully checked when it is opened, and each
/// tensor's bytes are read from the file when asked for.
/// </summary>
/// <remarks>
/// Reading on demand keeps memory to one tensor at a time and lets a caller take only the
/// tensors it needs. Reads are positional reads of the open handle rather than a memory map: a
/// map of a file that another process truncates faults (SIGBUS) on access, while a read just
/// comes back short, which is reported as an <see cref="InvalidDataException"/>. Each read also
/// checks that the file still has the length its header was checked against. The file stays
/// open, shared for reading and for replacement (a new checkpoint may be renamed over it), until
/// <see cref="Dispose"/>. Reads from several threads at once are safe.
/// </remarks>
public sealed class SafeTensorsFile : IDisposable
{
    // Largest single read: a span of bytes cannot exceed 2 GiB, and tensors can.
    private const int ReadChunkBytes = 1 << 26;

    private readonly SafeFileHandle _handle;
    private readonly long _fileLength;
    private readonly long _dataStart;
    private readonly Dictionary<string, TensorInfo> _tensors;

    private SafeTensorsFile(string path, SafeFileHandle handle, long fileLength, long dataStart, Dictionary<string, string> metadata, List<TensorInfo> tensors)
    {
        Path = path;
        _handle = handle;
        _fileLength = fileLength;
        _dataStart = dataStart;
        Metadata = new ReadOnlyDictionary<string, string>(metadata);
        Names = tensors.Select(t => t.Name).ToList().AsReadOnly();
        _tensors = tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
    }

    /// <summary>The path the file was opened with (error messages start with it).</summary>
    public string Path { get; }

    /// <summary>The header's "__metadata__" strings (empty when it has none).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>The tensor names in the order the header lists them.</summary>
    public IReadOnlyList<string> Names { get; }

    /// <summary>True when the file holds a tensor named <paramref name="name"/>.</summary>
    public bool Contains(string name) => _tensors.ContainsKey(name);

    /// <summary>The dtype, shape and position of tensor <paramref name="name"/>.</summary>
    /// <exception cref="KeyNotFoundException">The file has no tensor of that name.</exception>
    public TensorInfo Info(string name) =>
        _tensors.TryGetValue(name, out var info) ? info : throw new KeyNotFoundException($"{Path}: no tensor named '{name}' (the file has {_tensors.Count}).");

    /// <summary>
    /// Reads tensor <paramref name="name"/> onto <paramref name="device"/>: I32 as an int32
    /// tensor; F32 as float32; F16 and BF16 widened (exactly) to float32.
    /// </summary>
    /// <exception cref="InvalidDataException">The tensor has another dtype, or the file changed since it was opened.</exception>
    public Tensor Load(string name, Device device)
    {
        ArgumentNullException.ThrowIfNull(device);
        var info = Info(name);
        return info.DataType switch
        {
            "I32" => Upload(device, MemoryMarshal.Cast<int, float>(ReadInt32s(name)), info.ShapeArray, DType.Int32),
            "F32" or "F16" or "BF16" => Upload(device, ReadFloats(name), info.ShapeArray, DType.Float32),
            _ => throw Unreadable(info, "tensors load from F32, I32, F16 and BF16"),
        };
    }

    /// <summary>The elements (row-major) of a floating-point tensor: F32 as stored, F16 and BF16 widened exactly.</summary>
    /// <exception cref="InvalidDataException">The tensor has another dtype, or the file changed since it was opened.</exception>
    public float[] ReadFloats(string name)
    {
        var info = Info(name);
        switch (info.DataType)
        {
            case "F32":
                return Read<float>(info);
            case "F16":
                return Array.ConvertAll(Read<Half>(info), h => (float)h);
            case "BF16":
                // bfloat16 is the top half of a float32: shifting its bits up is exact.
                return Array.ConvertAll(Read<ushort>(info), bits => BitConverter.UInt32BitsToSingle((uint)bits << 16));
            default:
                string hint = info.DataType == "I32" ? "; read it with ReadInt32s" : "";
                throw Unreadable(info, $"only F32, F16 and BF16 read as floats{hint}");
        }
    }

    /// <summary>The elements (row-major) of an I32 tensor.</summary>
    /// <exception cref="InvalidDataException">The tensor has another dtype, or the file changed since it was opened.</exception>
    public int[] ReadInt32s(string name)
    {
        var info = Info(name);
        if (info.DataType != "I32")
            throw Unreadable(info, "only I32 reads as int32");
        return Read<int>(info);
    }

    /// <summary>Closes the file. The header (names, infos, metadata) stays readable; tensor data does not.</summary>
    public void Dispose() => _handle.Dispose();

    /// <summary>Opens <paramref name="path"/> and checks its whole header against the file's length.</summary>
    internal static SafeTensorsFile Open(string path)
    {
        var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete);
        try
        {
            long fileLength = RandomAccess.GetLength(handle);
            if (fileLength < sizeof(ulong))
                throw SafeTensorsHeader.Invalid(path, $"the file is {fileLength} bytes, too short for the 8-byte header length");
            Span<byte> prefix = stackalloc byte[sizeof(ulong)];
            ReadExactly(path, handle, prefix, 0);
            ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
            if (headerLength > SafeTensorsHeader.MaxLength)
                throw SafeTensorsHeader.Invalid(path, $"header length {headerLength} is over the {SafeTensorsHeader.MaxLength}-byte limit");
            if (headerLength > (ulong)(fileLength - sizeof(ulong)))
                throw SafeTensorsHeader.Invalid(path, $"header length {headerLength} runs past the end of the file ({fileLength} bytes)");

            var json = new byte[headerLength];
            ReadExactly(path, handle, json, sizeof(ulong));
            long dataStart = sizeof(ulong) + (long)headerLength;
            var (metadata, tensors) = SafeTensorsHeader.Parse(path, json, fileLength - dataStart);
            return new SafeTensorsFile(path, handle, fileLength, dataStart, metadata, tensors);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    private static Tensor Upload(Device device, ReadOnlySpan<float> bits, int[] shape, DType dtype)
    {
        var tensor = Tensor.Empty(device, shape, dtype);
        device.Backend.Upload(bits, tensor.Buffer);
        return tensor;
    }

    // T has the element size of info's dtype (the callers pick it by dtype).
    private T[] Read<T>(TensorInfo info) where T : unmanaged
    {
        if (info.ElementCount > Array.MaxLength)
            throw Unreadable(info, $"it has {info.ElementCount} elements, more than one tensor holds");
        long currentLength = RandomAccess.GetLength(_handle);
        if (currentLength != _fileLength)
            throw SafeTensorsHeader.Invalid(Path, $"the file changed length from {_fileLength} to {currentLength} bytes since it was opened");

        var values = new T[info.ElementCount];
        Span<T> remaining = values;
        long position = _dataStart + info.DataOffset;
        int chunkElements = ReadChunkBytes / Unsafe.SizeOf<T>();
        while (!remaining.IsEmpty)
        {
            var chunk = remaining[..Math.Min(chunkElements, remaining.Length)];
            var bytes = MemoryMarshal.AsBytes(chunk);
            ReadExactly(Path, _handle, bytes, position);
            position += bytes.Length;
            remaining = remaining[chunk.Length..];
        }
        return values;
    }

    private static void ReadExactly(string path, SafeFileHandle handle, Span<byte> destination, long position)
    {
        while (!destination.IsEmpty)
        {
            int read = RandomAccess.Read(handle, destination, position);
            if (read == 0)
                throw SafeTensorsHeader.Invalid(path, $"the file ends at byte {position}, before the bytes its header promises (it was cut short while open)");
            destination = destination[read..];
            position += read;
        }
    }

    private InvalidDataException Unreadable(TensorInfo info, string reason) =>
        SafeTensorsHeader.Invalid(Path, $"tensor '{info.Name}' has dtype {info.DataType} {ShapeMath.Format(info.ShapeArray)}, which cannot be read: {reason}");
}
