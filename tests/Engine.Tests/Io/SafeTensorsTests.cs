using System.Buffers.Binary;
using System.Text;
using Engine.Io;
using Xunit.Abstractions;

namespace Engine.Tests;

// The safetensors reader and writer: exact bytes both ways, every way a file can be broken, a
// fuzz of mutated files, and atomic replacement of the file on save.
public sealed class SafeTensorsTests : IClassFixture<SimdFixture>, IDisposable
{
    private const string Weight = "h.0.attn.c_attn.weight";

    private readonly Device _device;
    private readonly ITestOutputHelper _output;
    private readonly string _directory;

    public SafeTensorsTests(SimdFixture backend, ITestOutputHelper output)
    {
        _device = backend.Device;
        _output = output;
        _directory = Directory.CreateTempSubdirectory("safetensors-tests-").FullName;
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private string PathOf(string name) => Path.Combine(_directory, name);

    // ---- building files byte by byte, as the format describes them ----

    private static byte[] FileBytes(string json, byte[] data) => WithHeaderLength((ulong)Encoding.UTF8.GetByteCount(json), [.. Encoding.UTF8.GetBytes(json), .. data]);

    private static byte[] WithHeaderLength(ulong headerLength, byte[] rest)
    {
        var bytes = new byte[8 + rest.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, headerLength);
        rest.CopyTo(bytes, 8);
        return bytes;
    }

    private static string Entry(string name, string dtype, string shape, string offsets) =>
        $"\"{name}\":{{\"dtype\":\"{dtype}\",\"shape\":{shape},\"data_offsets\":{offsets}}}";

    private static byte[] Floats(params float[] values) => [.. values.SelectMany(v => BitConverter.GetBytes(v))];

    private static int Bits(float value) => BitConverter.SingleToInt32Bits(value);

    // ---- round trips and exact bytes ----

    [Fact]
    public void Round_trip_is_bit_exact_for_every_shape_and_dtype_with_metadata()
    {
        using var scope = _device.Scope();
        float[] special = [0f, -0f, float.PositiveInfinity, float.NegativeInfinity, float.Epsilon, float.MaxValue, BitConverter.Int32BitsToSingle(0x7FC01234)];
        var tensors = new Dictionary<string, Tensor>
        {
            ["scalar"] = Tensor.Scalar(_device, 3.5f),
            ["empty"] = Tensor.Zeros(_device, [0]),
            ["one"] = Tensor.FromArray(_device, [7.25f]),
            ["primes"] = Tensor.Randn(_device, [3, 5, 7], seed: 11),
            ["special"] = Tensor.FromArray(_device, special),
            ["ids"] = Tensor.FromArray(_device, [int.MinValue, -1, 0, 1, int.MaxValue, 42], [2, 3]),
            ["int_scalar"] = Tensor.FromArray(_device, [-9]).Reshape(),
            ["empty_ids"] = Tensor.Zeros(_device, [2, 0, 3], DType.Int32),
            ["rows_1_and_2"] = Tensor.Randn(_device, [4, 3], seed: 12).Narrow(0, 1, 2),
        };
        var metadata = new Dictionary<string, string>
        {
            ["step"] = "1200",
            ["config"] = "{\"n_layer\": 12, \"name\": \"gpt2 \\\"small\\\" é ✓\"}",
            [""] = "empty key",
        };
        string path = PathOf("model.safetensors");

        SafeTensors.Save(path, tensors, metadata);

        using var file = SafeTensors.Open(path);
        Assert.Equal(tensors.Keys, file.Names);
        Assert.Equal(metadata, file.Metadata);
        foreach (var (name, expected) in tensors)
        {
            var info = file.Info(name);
            Assert.Equal(expected.Shape.ToArray(), info.Shape);
            Assert.Equal(expected.DType == DType.Int32 ? "I32" : "F32", info.DataType);
            using var loaded = file.Load(name, _device);
            Assert.Equal(expected.DType, loaded.DType);
            Assert.Equal(expected.Shape.ToArray(), loaded.Shape.ToArray());
            if (expected.DType == DType.Int32)
            {
                Assert.Equal(expected.ToInt32Array(), loaded.ToInt32Array());
                Assert.Equal(expected.ToInt32Array(), file.ReadInt32s(name));
            }
            else
            {
                Assert.Equal(expected.ToArray().Select(Bits), loaded.ToArray().Select(Bits));
                Assert.Equal(expected.ToArray().Select(Bits), file.ReadFloats(name).Select(Bits));
            }
        }
    }

    [Fact]
    public void Written_bytes_are_exactly_the_format()
    {
        using var scope = _device.Scope();
        string path = PathOf("exact.safetensors");
        SafeTensors.Save(path, [new("a", Tensor.FromArray(_device, [1f, -2f])), new("b", Tensor.FromArray(_device, [7]).Reshape())], new Dictionary<string, string> { ["step"] = "3" });

        const string json = "{\"__metadata__\":{\"step\":\"3\"},\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"I32\",\"shape\":[],\"data_offsets\":[8,12]}}";
        string padded = json.PadRight((json.Length + 7) / 8 * 8);
        byte[] data = [0x00, 0x00, 0x80, 0x3F, 0x00, 0x00, 0x00, 0xC0, 0x07, 0x00, 0x00, 0x00];
        Assert.Equal(FileBytes(padded, data), File.ReadAllBytes(path));
    }

    [Fact]
    public void A_file_written_by_hand_from_the_specification_loads()
    {
        // Another writer's choices: whitespace, fields and tensors in any order, an escaped
        // name, a zero-size tensor, metadata last, and no padding after the header.
        string json = """
            { "w" : {"data_offsets":[8,16], "shape":[2], "dtype":"F32"},
              "caf\u00e9": {"dtype":"I32","shape":[1,2],"data_offsets":[0,8]},
              "nothing": {"dtype":"F32","shape":[0,3],"data_offsets":[16,16]},
              "__metadata__": {"format":"pt"} }
            """;
        byte[] data = [0x05, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x3F, 0x00, 0x00, 0x40, 0x40];
        string path = PathOf("by-hand.safetensors");
        File.WriteAllBytes(path, FileBytes(json, data));

        using var file = SafeTensors.Open(path);
        Assert.Equal(["w", "café", "nothing"], file.Names);
        Assert.Equal("pt", file.Metadata["format"]);
        Assert.Equal([0.5f, 3f], file.ReadFloats("w"));
        using var ids = file.Load("café", _device);
        Assert.Equal([1, 2], ids.Shape.ToArray());
        Assert.Equal([5, -1], ids.ToInt32Array());
        using var nothing = file.Load("nothing", _device);
        Assert.Equal([0, 3], nothing.Shape.ToArray());
        Assert.Equal(8, file.Info("w").DataOffset);
        Assert.Equal(8, file.Info("w").ByteLength);
    }

    [Fact]
    public void F16_and_BF16_widen_exactly_to_float32()
    {
        string json = "{" + Entry("half", "F16", "[2,2]", "[0,8]") + "," + Entry("brain", "BF16", "[3]", "[8,14]") + "}";
        // F16: 1, -2, 65504 (largest), 2^-24 (smallest subnormal). BF16: 1, 3.140625, -inf.
        byte[] data = [0x00, 0x3C, 0x00, 0xC0, 0xFF, 0x7B, 0x01, 0x00, 0x80, 0x3F, 0x49, 0x40, 0x80, 0xFF];
        string path = PathOf("half.safetensors");
        File.WriteAllBytes(path, FileBytes(json, data));

        using var file = SafeTensors.Open(path);
        using var half = file.Load("half", _device);
        Assert.Equal(DType.Float32, half.DType);
        Assert.Equal([2, 2], half.Shape.ToArray());
        Assert.Equal([1f, -2f, 65504f, MathF.Pow(2, -24)], half.ToArray());
        Assert.Equal([1f, 3.140625f, float.NegativeInfinity], file.ReadFloats("brain"));
    }

    [Fact]
    public void Dtypes_that_cannot_be_loaded_are_named_and_the_rest_of_the_file_still_loads()
    {
        string json = "{" + Entry("position_ids", "I64", "[2]", "[0,16]") + "," + Entry("w", "F32", "[1]", "[16,20]") + "," + Entry("ids", "I32", "[1]", "[20,24]") + "}";
        string path = PathOf("mixed.safetensors");
        File.WriteAllBytes(path, FileBytes(json, [.. new byte[16], .. Floats(2.5f), 9, 0, 0, 0]));

        using var file = SafeTensors.Open(path);
        Assert.Equal("I64", file.Info("position_ids").DataType);
        var error = Assert.Throws<InvalidDataException>(() => file.Load("position_ids", _device));
        Assert.Contains(path, error.Message);
        Assert.Contains("tensor 'position_ids' has dtype I64 [2]", error.Message);
        Assert.Contains("ReadInt32s", Assert.Throws<InvalidDataException>(() => file.ReadFloats("ids")).Message);
        Assert.Contains("tensor 'w' has dtype F32", Assert.Throws<InvalidDataException>(() => file.ReadInt32s("w")).Message);
        Assert.Equal([2.5f], file.ReadFloats("w"));
        Assert.Equal([9], file.ReadInt32s("ids"));
        var missing = Assert.Throws<KeyNotFoundException>(() => file.Info("wte"));
        Assert.Contains("'wte'", missing.Message);
        Assert.Contains(path, missing.Message);
    }

    // ---- broken files ----

    private static readonly string ValidEntry = Entry(Weight, "F32", "[2,3]", "[0,24]");
    private static readonly byte[] ValidData = Floats(1, 2, 3, 4, 5, 6);
    private static readonly byte[] ValidFile = FileBytes("{" + ValidEntry + "}", ValidData);

    private static byte[] WithEntry(string dtype, string shape, string offsets, int dataLength = 24) =>
        FileBytes("{" + Entry(Weight, dtype, shape, offsets) + "}", new byte[dataLength]);

    private static byte[] TwoTensors(string firstOffsets, string secondOffsets, int dataLength) =>
        FileBytes("{" + Entry("a", "F32", "[2]", firstOffsets) + "," + Entry("b", "F32", "[2]", secondOffsets) + "}", new byte[dataLength]);

    private static readonly Dictionary<string, (byte[] Bytes, string Problem)> Corruptions = new()
    {
        ["empty file"] = ([], "the file is 0 bytes, too short"),
        ["file cut inside the length field"] = (ValidFile[..5], "the file is 5 bytes, too short"),
        ["header length past the end of the file"] = (WithHeaderLength(1000, ValidFile[8..]), "header length 1000 runs past the end of the file"),
        ["header length over 100 MB"] = (WithHeaderLength(200_000_000, ValidFile[8..]), "header length 200000000 is over the 100000000-byte limit"),
        ["header length 2^64 - 1"] = (WithHeaderLength(ulong.MaxValue, ValidFile[8..]), $"header length {ulong.MaxValue} is over"),
        ["data cut short"] = (ValidFile[..^4], $"tensor '{Weight}' data_offsets [0, 24] reach past the end of the data buffer (20 bytes)"),
        ["bytes after the last tensor"] = ([.. ValidFile, 1, 2, 3, 4], "data bytes [24, 28) after the last tensor belong to no tensor"),
        ["JSON cut short"] = (FileBytes("{\"a\": {\"dtype\": \"F32\",", []), "the header is not valid JSON"),
        ["header not UTF-8"] = (HeaderNotUtf8(), "the header is not valid UTF-8"),
        ["header is an array"] = (FileBytes("[1, 2]", []), "the header is a JSON array, not an object"),
        ["entry is a number"] = (FileBytes("{\"a\": 5}", []), "tensor 'a' is described by a JSON number, not an object"),
        ["no dtype"] = (FileBytes($"{{\"{Weight}\":{{\"shape\":[2,3],\"data_offsets\":[0,24]}}}}", ValidData), $"tensor '{Weight}' has no 'dtype'"),
        ["no shape"] = (FileBytes($"{{\"{Weight}\":{{\"dtype\":\"F32\",\"data_offsets\":[0,24]}}}}", ValidData), $"tensor '{Weight}' has no 'shape'"),
        ["no data_offsets"] = (FileBytes($"{{\"{Weight}\":{{\"dtype\":\"F32\",\"shape\":[2,3]}}}}", ValidData), $"tensor '{Weight}' has no 'data_offsets'"),
        ["field twice"] = (FileBytes($"{{\"{Weight}\":{{\"dtype\":\"F32\",\"dtype\":\"I32\",\"shape\":[2,3],\"data_offsets\":[0,24]}}}}", ValidData), $"tensor '{Weight}' has field 'dtype' twice"),
        ["dtype is a number"] = (FileBytes($"{{\"{Weight}\":{{\"dtype\":4,\"shape\":[2,3],\"data_offsets\":[0,24]}}}}", ValidData), $"tensor '{Weight}' dtype is a JSON number, not a string"),
        ["unknown dtype"] = (WithEntry("Q4", "[2,3]", "[0,24]"), $"tensor '{Weight}' has unknown dtype 'Q4'"),
        ["shape is a number"] = (WithEntry("F32", "6", "[0,24]"), $"tensor '{Weight}' shape is a JSON number, not an array"),
        ["fractional dimension"] = (WithEntry("F32", "[1.5,4]", "[0,24]"), $"tensor '{Weight}' shape [1.5,4] has a dimension that is not an integer"),
        ["dimension is a string"] = (WithEntry("F32", "[\"6\"]", "[0,24]"), "has a dimension that is not an integer"),
        ["negative dimension"] = (WithEntry("F32", "[-2,-3]", "[0,24]"), $"tensor '{Weight}' shape [-2,-3] has a negative dimension"),
        ["dimension over 2^31"] = (WithEntry("F32", "[1099511627776,1099511627776]", "[0,24]"), "has a dimension over 2147483647"),
        ["dimensions whose product overflows"] = (WithEntry("F32", "[2147483647,2147483647,2147483647]", "[0,24]"), $"tensor '{Weight}' shape [2147483647, 2147483647, 2147483647] of F32 has more bytes than a 64-bit count holds"),
        ["65 dimensions"] = (WithEntry("F32", "[" + string.Join(",", Enumerable.Repeat(1, 65)) + "]", "[0,4]", 4), "shape has 65 dimensions, more than 64"),
        ["offsets not a pair"] = (WithEntry("F32", "[2,3]", "[0]"), $"tensor '{Weight}' data_offsets [0] is not a pair [begin, end]"),
        ["offsets not an array"] = (WithEntry("F32", "[2,3]", "\"0-24\""), "data_offsets \"0-24\" is not a pair"),
        ["negative offset"] = (WithEntry("F32", "[2,3]", "[-24,0]"), "data_offsets [-24,0] holds something other than a non-negative integer"),
        ["offset over 2^63"] = (WithEntry("F32", "[2,3]", "[0,18446744073709551616]"), "holds something other than a non-negative integer"),
        ["offsets reversed"] = (WithEntry("F32", "[2,3]", "[24,0]"), "data_offsets [24, 0] end before they begin"),
        ["offsets past the data"] = (WithEntry("F32", "[2,3]", "[24,48]"), "data_offsets [24, 48] reach past the end of the data buffer (24 bytes)"),
        ["offsets that do not match the shape"] = (WithEntry("F32", "[2,3]", "[0,12]", 12), $"tensor '{Weight}' data_offsets [0, 12] do not match shape [2, 3] of F32 (24 bytes)"),
        ["overlapping tensors"] = (TwoTensors("[0,8]", "[4,12]", 12), "tensors 'a' [0, 8] and 'b' [4, 12] overlap"),
        ["the same bytes twice"] = (TwoTensors("[0,8]", "[0,8]", 8), "tensors 'a' [0, 8] and 'b' [0, 8] overlap"),
        ["a hole between tensors"] = (TwoTensors("[0,8]", "[12,20]", 20), "data bytes [8, 12) before tensor 'b' belong to no tensor"),
        ["a hole at the start"] = (WithEntry("F32", "[2,3]", "[4,28]", 28), "data bytes [0, 4) before tensor"),
        ["a name twice"] = (FileBytes("{" + Entry("a", "F32", "[2]", "[0,8]") + "," + Entry("a", "F32", "[2]", "[8,16]") + "}", new byte[16]), "tensor 'a' appears twice in the header"),
        ["metadata twice"] = (FileBytes("{\"__metadata__\":{},\"__metadata__\":{}}", []), "'__metadata__' appears twice"),
        ["metadata is an array"] = (FileBytes("{\"__metadata__\":[\"a\"]}", []), "'__metadata__' is a JSON array, not an object of strings"),
        ["metadata value is a number"] = (FileBytes("{\"__metadata__\":{\"step\":3}}", []), "metadata 'step' is a JSON number, not a string"),
        ["metadata key twice"] = (FileBytes("{\"__metadata__\":{\"step\":\"1\",\"step\":\"2\"}}", []), "metadata 'step' appears twice"),
        ["name with a lone surrogate"] = (FileBytes("{\"\\ud800\":{}}", []), "the header has a name that is not valid Unicode"),
        ["dtype with a lone surrogate"] = (WithEntry("\\udc00", "[2,3]", "[0,24]"), "the header has a string that is not valid Unicode"),
    };

    private static byte[] HeaderNotUtf8()
    {
        // In the name of a field the reader ignores, so only a check of the whole header finds it.
        byte[] bytes = FileBytes("{\"__metadata__\":null,\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0],\"extra\":1}}", []);
        bytes[Array.IndexOf(bytes, (byte)'x')] = 0xFF;
        return bytes;
    }

    public static TheoryData<string> CorruptionNames()
    {
        var names = new TheoryData<string>();
        foreach (string name in Corruptions.Keys)
            names.Add(name);
        return names;
    }

    [Theory]
    [MemberData(nameof(CorruptionNames))]
    public void A_broken_file_is_refused_with_a_message_naming_the_file_and_the_problem(string corruption)
    {
        var (bytes, problem) = Corruptions[corruption];
        string path = PathOf("model.safetensors");
        File.WriteAllBytes(path, bytes);

        var error = Assert.Throws<InvalidDataException>(() => SafeTensors.Open(path).Dispose());

        Assert.StartsWith($"{path}: ", error.Message);
        Assert.Contains(problem, error.Message);
    }

    [Fact]
    public void The_size_mismatch_message_reads_in_full()
    {
        string path = PathOf("model.safetensors");
        File.WriteAllBytes(path, WithEntry("F32", "[2,3]", "[0,12]", 12));
        var error = Assert.Throws<InvalidDataException>(() => SafeTensors.Open(path).Dispose());
        Assert.Equal($"{path}: tensor '{Weight}' data_offsets [0, 12] do not match shape [2, 3] of F32 (24 bytes)", error.Message);
    }

    [Fact]
    public void A_file_cut_short_after_it_was_opened_is_reported_not_read_past()
    {
        string path = PathOf("model.safetensors");
        File.WriteAllBytes(path, ValidFile);
        using var file = SafeTensors.Open(path);

        using (var writer = new FileStream(path, FileMode.Open, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete))
            writer.SetLength(ValidFile.Length - 4);

        var error = Assert.Throws<InvalidDataException>(() => file.ReadFloats(Weight));
        Assert.Contains($"the file changed length from {ValidFile.Length} to {ValidFile.Length - 4} bytes", error.Message);
    }

    // ---- fuzz ----

    [Fact]
    public void Every_mutation_of_a_valid_file_loads_or_raises_InvalidDataException()
    {
        // Reading through ReadFloats/ReadInt32s rather than Load keeps the device out of the
        // loop: the fuzz is after the parsing and the checks, which are the same either way.
        using var scope = _device.Scope();
        string path = PathOf("fuzz.safetensors");
        SafeTensors.Save(path, new Dictionary<string, Tensor>
        {
            ["w"] = Tensor.Randn(_device, [2, 3], seed: 1),
            ["ids"] = Tensor.FromArray(_device, [1, 2, 3, 4]),
            ["scale"] = Tensor.Scalar(_device, 0.5f),
            ["none"] = Tensor.Zeros(_device, [0, 2]),
        }, new Dictionary<string, string> { ["step"] = "17" });
        byte[] original = File.ReadAllBytes(path);
        int headerEnd = 8 + (int)BinaryPrimitives.ReadUInt64LittleEndian(original);
        const int Mutations = 3000;
        var random = new Random(20240611);
        int loaded = 0, refused = 0;

        for (int i = 0; i < Mutations; i++)
        {
            var (mutated, mutation) = Mutate(original, headerEnd, random);
            Overwrite(path, mutated);
            try
            {
                using var file = SafeTensors.Open(path);
                foreach (string name in file.Names)
                {
                    if (file.Info(name).DataType == "I32")
                        file.ReadInt32s(name);
                    else
                        file.ReadFloats(name);
                }
                loaded++;
            }
            catch (InvalidDataException)
            {
                refused++;
            }
            catch (Exception e)
            {
                Assert.Fail($"mutation {i} ({mutation}) threw {e.GetType().Name} instead of InvalidDataException: {e.Message}");
            }
        }

        _output.WriteLine($"{Mutations} mutations: {loaded} loaded, {refused} refused");
        Assert.True(loaded > 100 && refused > 100, $"the mutations should both keep and break files: {loaded} loaded, {refused} refused");
    }

    // Rewrites the file in place. File.WriteAllBytes truncates to zero first, which makes ext4
    // push the file to the disk on every close and the fuzz some thirty times slower.
    private static void Overwrite(string path, byte[] bytes)
    {
        using var stream = new FileStream(path, FileMode.OpenOrCreate, FileAccess.Write);
        stream.Write(bytes);
        stream.SetLength(bytes.Length);
    }

    private static (byte[] Bytes, string Mutation) Mutate(byte[] original, int headerEnd, Random random)
    {
        var bytes = (byte[])original.Clone();
        int InHeader() => random.Next(8, headerEnd);
        switch (random.Next(8))
        {
            case 0:
                for (int flips = random.Next(1, 4); flips > 0; flips--)
                    bytes[random.Next(bytes.Length)] ^= (byte)(1 << random.Next(8));
                return (bytes, "flip bits anywhere");
            case 1:
                bytes[InHeader()] ^= (byte)(1 << random.Next(8));
                return (bytes, "flip a header bit");
            case 2:
                int[] digits = [.. Enumerable.Range(8, headerEnd - 8).Where(i => char.IsAsciiDigit((char)bytes[i]))];
                bytes[digits[random.Next(digits.Length)]] = (byte)('0' + random.Next(10));
                return (bytes, "change a header digit");
            case 3:
                const string punctuation = "{}[],:\"-.e0123456789 ";
                bytes[InHeader()] = (byte)punctuation[random.Next(punctuation.Length)];
                return (bytes, "write JSON punctuation into the header");
            case 4:
                return (bytes[..random.Next(bytes.Length)], "truncate");
            case 5:
                var tail = new byte[random.Next(1, 17)];
                random.NextBytes(tail);
                return ([.. bytes, .. tail], "extend");
            case 6:
                ulong length = random.Next(2) == 0 ? (ulong)(headerEnd - 8 + random.Next(-16, 17)) : (ulong)random.NextInt64();
                BinaryPrimitives.WriteUInt64LittleEndian(bytes, length);
                return (bytes, "rewrite the header length");
            default:
                int at = InHeader();
                return random.Next(2) == 0
                    ? ([.. bytes[..at], .. bytes[(at + 1)..]], "delete a header byte")
                    : ([.. bytes[..at], (byte)random.Next(256), .. bytes[at..]], "insert a header byte");
        }
    }

    // ---- atomic save ----

    private byte[] SaveOriginal(string path)
    {
        using var scope = _device.Scope();
        SafeTensors.Save(path, new Dictionary<string, Tensor> { ["w"] = Tensor.FromArray(_device, [1f, 2f, 3f]) }, new Dictionary<string, string> { ["step"] = "1" });
        return File.ReadAllBytes(path);
    }

    private static IEnumerable<KeyValuePair<string, Tensor>> FailingAfterOne(Tensor first)
    {
        yield return new("w", first);
        throw new InvalidOperationException("the model went away mid-save");
    }

    [Fact]
    public void A_save_that_fails_midway_leaves_the_previous_file_and_no_temporary_file()
    {
        using var scope = _device.Scope();
        string path = PathOf("checkpoint.safetensors");
        byte[] before = SaveOriginal(path);

        Assert.Throws<InvalidOperationException>(() => SafeTensors.Save(path, FailingAfterOne(Tensor.Zeros(_device, [1000]))));

        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.Equal([path], Directory.GetFiles(_directory));
        using var file = SafeTensors.Open(path);
        Assert.Equal([1f, 2f, 3f], file.ReadFloats("w"));
    }

    [Fact]
    public void A_writer_that_fails_after_writing_bytes_replaces_nothing()
    {
        string path = PathOf("checkpoint.safetensors");
        byte[] before = SaveOriginal(path);

        Assert.Throws<IOException>(() => AtomicFile.Write(path, stream =>
        {
            stream.Write(new byte[100_000]);
            stream.Flush();
            throw new IOException("disk full");
        }));

        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.Equal([path], Directory.GetFiles(_directory));
    }

    [Fact]
    public void Atomic_write_creates_a_new_file_and_replaces_an_old_one()
    {
        string path = PathOf("notes.txt");
        AtomicFile.Write(path, stream => stream.Write("first"u8));
        Assert.Equal("first", File.ReadAllText(path));
        AtomicFile.Write(path, stream => stream.Write("second"u8));
        Assert.Equal("second", File.ReadAllText(path));
        Assert.Equal([path], Directory.GetFiles(_directory));
    }

    [Fact]
    public void Saving_over_an_open_file_leaves_its_reader_on_the_old_contents()
    {
        using var scope = _device.Scope();
        string path = PathOf("checkpoint.safetensors");
        SaveOriginal(path);
        using var old = SafeTensors.Open(path);

        SafeTensors.Save(path, new Dictionary<string, Tensor> { ["w"] = Tensor.FromArray(_device, [9f, 8f]) });

        Assert.Equal([1f, 2f, 3f], old.ReadFloats("w"));
        using var current = SafeTensors.Open(path);
        Assert.Equal([9f, 8f], current.ReadFloats("w"));
    }

    [Fact]
    public void Save_refuses_what_the_format_cannot_hold_and_writes_nothing()
    {
        using var scope = _device.Scope();
        string path = PathOf("refused.safetensors");
        var t = Tensor.Ones(_device, [2]);
        var disposed = Tensor.Ones(_device, [2]);
        disposed.Dispose();

        Assert.Contains("'a' appears twice", Assert.Throws<ArgumentException>(() => SafeTensors.Save(path, [new("a", t), new("a", t)])).Message);
        Assert.Contains("'__metadata__' is reserved", Assert.Throws<ArgumentException>(() => SafeTensors.Save(path, [new("__metadata__", t)])).Message);
        Assert.Contains("tensor 'd' is disposed", Assert.Throws<ArgumentException>(() => SafeTensors.Save(path, [new("d", disposed)])).Message);
        Assert.Contains("metadata 'step' is null", Assert.Throws<ArgumentException>(() => SafeTensors.Save(path, [new("a", t)], new Dictionary<string, string> { ["step"] = null! })).Message);
        Assert.Empty(Directory.GetFiles(_directory));
    }
}
