using System.Buffers.Binary;
using System.Text.Json;

namespace Engine.Tests.Conformance;

/// <summary>
/// Reads <c>cases/&lt;test&gt;.json</c> and the raw little-endian tensors beside it. The JSON is
/// validated before any file is read: known dtypes, non-negative dimensions, a plain file name
/// inside the cases folder, and a file whose size is exactly elements x element size.
/// </summary>
internal static class OnnxCaseLoader
{
    public static OnnxCase Load(string casesDirectory, string test)
    {
        string jsonPath = Path.Combine(casesDirectory, test + ".json");
        using var document = JsonDocument.Parse(File.ReadAllBytes(jsonPath));
        var root = document.RootElement;
        string name = Required(root, "test", jsonPath).GetString()!;
        if (name != test)
            throw new InvalidDataException($"{jsonPath}: names test {name}, expected {test}.");
        var attributes = new Dictionary<string, OnnxAttribute>();
        if (root.TryGetProperty("attributes", out var attrs))
            foreach (var a in attrs.EnumerateObject())
                attributes[a.Name] = new OnnxAttribute(Required(a.Value, "type", jsonPath).GetString()!, Required(a.Value, "value", jsonPath).Clone());
        return new OnnxCase(
            test,
            Required(root, "op", jsonPath).GetString()!,
            Required(root, "opset", jsonPath).GetInt32(),
            attributes,
            Tensors(casesDirectory, Required(root, "inputs", jsonPath), jsonPath),
            Tensors(casesDirectory, Required(root, "outputs", jsonPath), jsonPath));
    }

    private static JsonElement Required(JsonElement element, string property, string path) =>
        element.TryGetProperty(property, out var value) ? value : throw new InvalidDataException($"{path}: missing \"{property}\".");

    private static OnnxTensor?[] Tensors(string directory, JsonElement list, string path) =>
        list.EnumerateArray().Select(e => e.ValueKind == JsonValueKind.Null ? null : ReadTensor(directory, e, path)).ToArray();

    private static OnnxTensor ReadTensor(string directory, JsonElement entry, string path)
    {
        string name = Required(entry, "name", path).GetString()!;
        string dtypeName = Required(entry, "dtype", path).GetString()!;
        var dtype = dtypeName switch
        {
            "float32" => OnnxDType.Float32,
            "int32" => OnnxDType.Int32,
            "int64" => OnnxDType.Int64,
            "bool" => OnnxDType.Bool,
            _ => throw new InvalidDataException($"{path}: tensor {name} has unsupported dtype {dtypeName}."),
        };
        var shape = Required(entry, "shape", path).EnumerateArray().Select(d => d.GetInt64()).ToArray();
        if (shape.Any(d => d is < 0 or > int.MaxValue))
            throw new InvalidDataException($"{path}: tensor {name} has an invalid shape [{string.Join(", ", shape)}].");
        var dims = shape.Select(d => (int)d).ToArray();
        long count = shape.Aggregate(1L, (n, d) => checked(n * d));

        string file = Required(entry, "file", path).GetString()!;
        if (Path.GetFileName(file) != file)
            throw new InvalidDataException($"{path}: tensor {name} names file \"{file}\" outside the cases folder.");
        var bytes = File.ReadAllBytes(Path.Combine(directory, file));
        int size = ElementSize(dtype);
        if (bytes.LongLength != count * size)
            throw new InvalidDataException($"{path}: {file} has {bytes.LongLength} bytes; shape {ShapeMath.Format(dims)} of {dtypeName} needs {count * size}.");

        return dtype switch
        {
            OnnxDType.Float32 => new OnnxTensor(name, dtype, dims, Decode(bytes, 4, b => BinaryPrimitives.ReadSingleLittleEndian(b)), null),
            OnnxDType.Int32 => new OnnxTensor(name, dtype, dims, null, Decode(bytes, 4, b => (long)BinaryPrimitives.ReadInt32LittleEndian(b))),
            OnnxDType.Int64 => new OnnxTensor(name, dtype, dims, null, Decode(bytes, 8, b => BinaryPrimitives.ReadInt64LittleEndian(b))),
            _ => new OnnxTensor(name, dtype, dims, null, Decode(bytes, 1, b => b[0] switch
            {
                0 => 0L,
                1 => 1L,
                _ => throw new InvalidDataException($"{path}: {file} holds bool byte {b[0]}, not 0 or 1."),
            })),
        };
    }

    private static int ElementSize(OnnxDType dtype) => dtype switch
    {
        OnnxDType.Int64 => 8,
        OnnxDType.Bool => 1,
        _ => 4,
    };

    private delegate T Reader<T>(ReadOnlySpan<byte> bytes);

    private static T[] Decode<T>(byte[] bytes, int size, Reader<T> read)
    {
        var values = new T[bytes.Length / size];
        for (int i = 0; i < values.Length; i++)
            values[i] = read(bytes.AsSpan(i * size, size));
        return values;
    }
}
