using System.Text.Json;
using System.Text.Unicode;

namespace Engine.Io;

/// <summary>
/// The JSON header of a safetensors file: parsing and every check the format makes, so that
/// nothing read from the data buffer afterwards can fall outside it.
/// </summary>
/// <remarks>
/// The header is an object mapping each tensor name to {"dtype", "shape", "data_offsets"},
/// with an optional "__metadata__" object of string to string. Offsets count from the first
/// byte after the header; the tensors must tile the data buffer exactly: no overlaps, no holes,
/// nothing after the last tensor.
/// </remarks>
internal static class SafeTensorsHeader
{
    /// <summary>The reserved key of the string-to-string metadata object.</summary>
    public const string MetadataKey = "__metadata__";

    /// <summary>Largest header accepted, as in the reference implementation: bounds what a hostile length field can make us allocate.</summary>
    public const int MaxLength = 100_000_000;

    // Every dtype of the format with a whole number of bytes per element. Files holding any of
    // them can be opened and checked; only some can be loaded (see SafeTensorsFile).
    private static readonly Dictionary<string, int> ElementSizes = new(StringComparer.Ordinal)
    {
        ["BOOL"] = 1, ["U8"] = 1, ["I8"] = 1, ["F8_E5M2"] = 1, ["F8_E4M3"] = 1,
        ["I16"] = 2, ["U16"] = 2, ["F16"] = 2, ["BF16"] = 2,
        ["I32"] = 4, ["U32"] = 4, ["F32"] = 4,
        ["I64"] = 8, ["U64"] = 8, ["F64"] = 8,
    };

    /// <summary>Most dimensions a tensor may have (numpy's limit): bounds what one hostile shape can make us allocate.</summary>
    public const int MaxRank = 64;

    /// <summary>Bytes per element of a dtype code, or null when the format has no such dtype.</summary>
    public static int? ElementSize(string dataType) => ElementSizes.TryGetValue(dataType, out int size) ? size : null;

    /// <summary>Error for a file that breaks the format: the message starts with the file's path.</summary>
    public static InvalidDataException Invalid(string path, string problem, Exception? inner = null) => new($"{path}: {problem}", inner);

    /// <summary>Parses <paramref name="json"/> and checks it against a data buffer of <paramref name="dataLength"/> bytes.</summary>
    /// <returns>The metadata and the tensors in header order.</returns>
    /// <exception cref="InvalidDataException">Anything is wrong; the message names the file and the problem.</exception>
    public static (Dictionary<string, string> Metadata, List<TensorInfo> Tensors) Parse(string path, byte[] json, long dataLength)
    {
        // JsonDocument checks UTF-8 only in the strings it is asked to decode; the format wants all of it valid.
        if (!Utf8.IsValid(json))
            throw Invalid(path, "the header is not valid UTF-8");
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json);
        }
        catch (JsonException e)
        {
            throw Invalid(path, $"the header is not valid JSON ({e.Message})", e);
        }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw Invalid(path, $"the header is a JSON {Kind(root)}, not an object");

            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            var tensors = new List<TensorInfo>();
            var names = new HashSet<string>(StringComparer.Ordinal);
            foreach (var property in root.EnumerateObject())
            {
                string name = NameOf(path, property);
                if (!names.Add(name))
                    throw Invalid(path, name == MetadataKey ? $"'{MetadataKey}' appears twice in the header" : $"tensor '{name}' appears twice in the header");
                if (name == MetadataKey)
                    ReadMetadata(path, property.Value, metadata);
                else
                    tensors.Add(ReadTensor(path, name, property.Value, dataLength));
            }
            CheckLayout(path, tensors, dataLength);
            return (metadata, tensors);
        }
    }

    private static void ReadMetadata(string path, JsonElement element, Dictionary<string, string> metadata)
    {
        if (element.ValueKind == JsonValueKind.Null)
            return;
        if (element.ValueKind != JsonValueKind.Object)
            throw Invalid(path, $"'{MetadataKey}' is a JSON {Kind(element)}, not an object of strings");
        foreach (var entry in element.EnumerateObject())
        {
            string key = NameOf(path, entry);
            if (entry.Value.ValueKind != JsonValueKind.String)
                throw Invalid(path, $"metadata '{key}' is a JSON {Kind(entry.Value)}, not a string");
            if (!metadata.TryAdd(key, StringOf(path, entry.Value)))
                throw Invalid(path, $"metadata '{key}' appears twice");
        }
    }

    private static TensorInfo ReadTensor(string path, string name, JsonElement entry, long dataLength)
    {
        if (entry.ValueKind != JsonValueKind.Object)
            throw Invalid(path, $"tensor '{name}' is described by a JSON {Kind(entry)}, not an object");
        JsonElement? dtype = null, shape = null, offsets = null;
        foreach (var field in entry.EnumerateObject())
        {
            if (field.NameEquals("dtype")) Assign(ref dtype, field.Value, "dtype");
            else if (field.NameEquals("shape")) Assign(ref shape, field.Value, "shape");
            else if (field.NameEquals("data_offsets")) Assign(ref offsets, field.Value, "data_offsets");
        }

        string dataType = ReadDataType(path, name, dtype ?? throw Missing("dtype"), out int elementSize);
        int[] dims = ReadShape(path, name, shape ?? throw Missing("shape"));
        var (begin, end) = ReadOffsets(path, name, offsets ?? throw Missing("data_offsets"), dataLength);

        string shapeText = ShapeMath.Format(dims);
        long count, byteLength;
        try
        {
            count = 1;
            foreach (int d in dims) count = checked(count * d);
            byteLength = checked(count * elementSize);
        }
        catch (OverflowException)
        {
            throw Invalid(path, $"tensor '{name}' shape {shapeText} of {dataType} has more bytes than a 64-bit count holds");
        }
        if (byteLength != end - begin)
            throw Invalid(path, $"tensor '{name}' data_offsets [{begin}, {end}] do not match shape {shapeText} of {dataType} ({byteLength} bytes)");
        return new TensorInfo(name, dataType, elementSize, dims, count, begin);

        void Assign(ref JsonElement? slot, JsonElement value, string field)
        {
            if (slot is not null)
                throw Invalid(path, $"tensor '{name}' has field '{field}' twice");
            slot = value;
        }

        InvalidDataException Missing(string field) => Invalid(path, $"tensor '{name}' has no '{field}'");
    }

    private static string ReadDataType(string path, string name, JsonElement dtype, out int elementSize)
    {
        if (dtype.ValueKind != JsonValueKind.String)
            throw Invalid(path, $"tensor '{name}' dtype is a JSON {Kind(dtype)}, not a string");
        string dataType = StringOf(path, dtype);
        elementSize = ElementSize(dataType) ?? throw Invalid(path, $"tensor '{name}' has unknown dtype '{dataType}'");
        return dataType;
    }

    private static int[] ReadShape(string path, string name, JsonElement shape)
    {
        if (shape.ValueKind != JsonValueKind.Array)
            throw Invalid(path, $"tensor '{name}' shape is a JSON {Kind(shape)}, not an array");
        if (shape.GetArrayLength() > MaxRank)
            throw Invalid(path, $"tensor '{name}' shape has {shape.GetArrayLength()} dimensions, more than {MaxRank}");
        var dims = new int[shape.GetArrayLength()];
        int i = 0;
        foreach (var dim in shape.EnumerateArray())
        {
            if (dim.ValueKind != JsonValueKind.Number || !dim.TryGetInt64(out long size))
                throw Invalid(path, $"tensor '{name}' shape {Raw(shape)} has a dimension that is not an integer");
            if (size < 0)
                throw Invalid(path, $"tensor '{name}' shape {Raw(shape)} has a negative dimension");
            if (size > int.MaxValue)
                throw Invalid(path, $"tensor '{name}' shape {Raw(shape)} has a dimension over {int.MaxValue}, the largest a tensor has");
            dims[i++] = (int)size;
        }
        return dims;
    }

    private static (long Begin, long End) ReadOffsets(string path, string name, JsonElement offsets, long dataLength)
    {
        if (offsets.ValueKind != JsonValueKind.Array || offsets.GetArrayLength() != 2)
            throw Invalid(path, $"tensor '{name}' data_offsets {Raw(offsets)} is not a pair [begin, end]");
        long begin = Offset(offsets[0]), end = Offset(offsets[1]);
        if (begin > end)
            throw Invalid(path, $"tensor '{name}' data_offsets [{begin}, {end}] end before they begin");
        if (end > dataLength)
            throw Invalid(path, $"tensor '{name}' data_offsets [{begin}, {end}] reach past the end of the data buffer ({dataLength} bytes)");
        return (begin, end);

        long Offset(JsonElement value) =>
            value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out long offset) && offset >= 0
                ? offset
                : throw Invalid(path, $"tensor '{name}' data_offsets {Raw(offsets)} holds something other than a non-negative integer");
    }

    // The tensors must tile the data buffer: sorted by position, each begins where the previous ends.
    private static void CheckLayout(string path, List<TensorInfo> tensors, long dataLength)
    {
        var ordered = tensors.OrderBy(t => t.DataOffset).ThenBy(t => t.ByteLength).ToList();
        long covered = 0;
        TensorInfo? previous = null;
        foreach (var tensor in ordered)
        {
            if (tensor.DataOffset < covered)
                throw Invalid(path, $"tensors '{previous!.Name}' {Span(previous)} and '{tensor.Name}' {Span(tensor)} overlap");
            if (tensor.DataOffset > covered)
                throw Invalid(path, $"data bytes [{covered}, {tensor.DataOffset}) before tensor '{tensor.Name}' belong to no tensor (the format allows no holes)");
            covered = tensor.DataOffset + tensor.ByteLength;
            previous = tensor;
        }
        if (covered != dataLength)
            throw Invalid(path, $"data bytes [{covered}, {dataLength}) after the last tensor belong to no tensor (the format allows no holes)");

        static string Span(TensorInfo t) => $"[{t.DataOffset}, {t.DataOffset + t.ByteLength}]";
    }

    // JsonElement decodes escapes only when asked, and throws InvalidOperationException for one
    // that is not valid UTF-16 (a lone surrogate such as "\ud800"); that is a fault of the file.
    private static string NameOf(string path, JsonProperty property)
    {
        try
        {
            return property.Name;
        }
        catch (InvalidOperationException e)
        {
            throw Invalid(path, $"the header has a name that is not valid Unicode ({e.Message})", e);
        }
    }

    private static string StringOf(string path, JsonElement value)
    {
        try
        {
            return value.GetString()!;
        }
        catch (InvalidOperationException e)
        {
            throw Invalid(path, $"the header has a string that is not valid Unicode ({e.Message})", e);
        }
    }

    private static string Kind(JsonElement element) => element.ValueKind.ToString().ToLowerInvariant();

    // The JSON as written, cut short so that a hostile header cannot make a huge message.
    private static string Raw(JsonElement element)
    {
        const int MaxShown = 100;
        string raw = element.GetRawText();
        return raw.Length <= MaxShown ? raw : raw[..MaxShown] + "...";
    }
}
