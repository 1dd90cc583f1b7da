using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Engine.Io;

/// <summary>
/// Reads and writes the safetensors format: an 8-byte little-endian header length N; N bytes of
/// UTF-8 JSON mapping each tensor name to its dtype, shape and [begin, end) byte offsets (plus an
/// optional "__metadata__" object of strings); then the tensors' bytes, little-endian and
/// row-major, one after another with no gaps.
/// </summary>
/// <example>
/// <code>
/// var tensors = new Dictionary&lt;string, Tensor&gt; { ["wte.weight"] = wte, ["token_ids"] = ids };
/// SafeTensors.Save("model.safetensors", tensors, new Dictionary&lt;string, string&gt; { ["step"] = "1200" });
/// using var file = SafeTensors.Open("model.safetensors");
/// var loaded = file.Load("wte.weight", device);
/// </code>
/// </example>
public static class SafeTensors
{
    // Writes go out in pieces: one span of bytes cannot exceed 2 GiB, and tensors can.
    private const int WriteChunkElements = 1 << 24;

    /// <summary>
    /// Writes <paramref name="tensors"/> (F32 for float32, I32 for int32) in the order given, with
    /// <paramref name="metadata"/> in the header. The file is replaced atomically
    /// (<see cref="AtomicFile"/>): if anything fails, an existing file at <paramref name="path"/> is
    /// left as it was. Tensors may be views; they are written as their logical row-major contents.
    /// </summary>
    /// <exception cref="ArgumentException">A name is repeated or is "__metadata__", a tensor is null or disposed, or a metadata value is null.</exception>
    public static void Save(string path, IEnumerable<KeyValuePair<string, Tensor>> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(tensors);
        RequireLittleEndian();
        AtomicFile.Write(path, stream => Write(stream, tensors, metadata));
    }

    /// <summary>
    /// Opens <paramref name="path"/> and checks its whole header before any tensor is read: the
    /// lengths, the JSON, every entry's dtype, shape and offsets, and that the tensors tile the
    /// data exactly. Tensor data is read later, on demand (see <see cref="SafeTensorsFile"/>).
    /// </summary>
    /// <exception cref="InvalidDataException">The file breaks the format; the message names the file and the problem.</exception>
    /// <exception cref="IOException">The file cannot be opened.</exception>
    public static SafeTensorsFile Open(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        RequireLittleEndian();
        return SafeTensorsFile.Open(path);
    }

    private static void Write(Stream stream, IEnumerable<KeyValuePair<string, Tensor>> tensors, IReadOnlyDictionary<string, string>? metadata)
    {
        var entries = Collect(tensors);
        byte[] header = EncodeHeader(entries, metadata);
        Span<byte> headerLength = stackalloc byte[sizeof(ulong)];
        BinaryPrimitives.WriteUInt64LittleEndian(headerLength, (ulong)header.Length);
        stream.Write(headerLength);
        stream.Write(header);
        foreach (var (_, tensor) in entries)
        {
            if (tensor.DType == DType.Int32)
                WriteElements(stream, tensor.ToInt32Array());
            else
                WriteElements(stream, tensor.ToArray());
        }
    }

    private static void WriteElements<T>(Stream stream, T[] values) where T : unmanaged
    {
        for (int start = 0; start < values.Length; start += WriteChunkElements)
            stream.Write(MemoryMarshal.AsBytes(values.AsSpan(start, Math.Min(WriteChunkElements, values.Length - start))));
    }

    // Everything the reader would reject is refused here, so Save never writes a file Open refuses.
    private static List<KeyValuePair<string, Tensor>> Collect(IEnumerable<KeyValuePair<string, Tensor>> tensors)
    {
        var entries = new List<KeyValuePair<string, Tensor>>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (name, tensor) in tensors)
        {
            if (name is null)
                throw new ArgumentException("SafeTensors.Save: a tensor name is null.", nameof(tensors));
            if (name == SafeTensorsHeader.MetadataKey)
                throw new ArgumentException($"SafeTensors.Save: '{name}' is reserved for metadata and cannot name a tensor.", nameof(tensors));
            if (!names.Add(name))
                throw new ArgumentException($"SafeTensors.Save: tensor name '{name}' appears twice.", nameof(tensors));
            if (tensor is null || tensor.IsDisposed)
                throw new ArgumentException($"SafeTensors.Save: tensor '{name}' is {(tensor is null ? "null" : "disposed")}.", nameof(tensors));
            if (tensor.Rank > SafeTensorsHeader.MaxRank)
                throw new ArgumentException($"SafeTensors.Save: tensor '{name}' has {tensor.Rank} dimensions, more than the {SafeTensorsHeader.MaxRank} a file may hold.", nameof(tensors));
            entries.Add(new(name, tensor));
        }
        return entries;
    }

    // {"__metadata__":{...},"name":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},...}
    // padded with spaces to a multiple of 8 bytes, so the data that follows is 8-byte aligned.
    private static byte[] EncodeHeader(List<KeyValuePair<string, Tensor>> entries, IReadOnlyDictionary<string, string>? metadata)
    {
        var buffer = new ArrayBufferWriter<byte>();
        // The relaxed encoder keeps non-ASCII names readable as UTF-8; JSON's own escapes still apply.
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            if (metadata is not null)
            {
                json.WriteStartObject(SafeTensorsHeader.MetadataKey);
                foreach (var (key, value) in metadata)
                    json.WriteString(key, value ?? throw new ArgumentException($"SafeTensors.Save: metadata '{key}' is null.", nameof(metadata)));
                json.WriteEndObject();
            }
            long offset = 0;
            foreach (var (name, tensor) in entries)
            {
                long byteLength = tensor.Count * sizeof(float);
                json.WriteStartObject(name);
                json.WriteString("dtype", tensor.DType switch
                {
                    DType.Float32 => "F32",
                    DType.Int32 => "I32",
                    _ => throw new ArgumentException($"SafeTensors.Save: tensor '{name}' has dtype {tensor.DType}, which the format writer does not know.", "tensors"),
                });
                json.WriteStartArray("shape");
                foreach (int size in tensor.Shape)
                    json.WriteNumberValue(size);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(offset + byteLength);
                json.WriteEndArray();
                json.WriteEndObject();
                offset += byteLength;
            }
            json.WriteEndObject();
        }

        int padding = (8 - buffer.WrittenCount % 8) % 8;
        if (buffer.WrittenCount + padding > SafeTensorsHeader.MaxLength)
            throw new ArgumentException($"SafeTensors.Save: the header would be {buffer.WrittenCount + padding} bytes, over the {SafeTensorsHeader.MaxLength}-byte limit readers accept.");
        var header = new byte[buffer.WrittenCount + padding];
        buffer.WrittenSpan.CopyTo(header);
        header.AsSpan(buffer.WrittenCount).Fill((byte)' ');
        return header;
    }

    // The format stores little-endian bytes, and the reader and writer copy them as they lie in memory.
    private static void RequireLittleEndian()
    {
        if (!BitConverter.IsLittleEndian)
            throw new PlatformNotSupportedException("SafeTensors: reading and writing the format needs a little-endian machine.");
    }
}
