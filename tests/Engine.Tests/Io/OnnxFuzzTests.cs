using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using Engine.Io.Onnx;
using Xunit.Abstractions;

namespace Engine.Tests;

// Mutated inputs to each loader, with fixed seeds: every outcome must be a success or an
// InvalidDataException that names the source; any other exception, a crash or a hang fails.
//  - the tiny encoder in both export styles: bytes changed, cut, deleted and repeated, then
//    parsed, mapped and copied in full;
//  - the packaged models: bytes of their structure (everything but tensor payloads, where a
//    change is only a different weight) changed in place and restored, and cuts; parsed and
//    mapped without the 90 MB copy;
//  - the packaged assembly: bytes of its PE headers, metadata and resource lengths changed in
//    place, then its resources listed and the vocabulary read.
public sealed class OnnxFuzzTests(ITestOutputHelper output)
{
    private const string Source = "fuzzed";

    private static readonly byte[] Interesting = [0x00, 0x01, 0x7F, 0x80, 0xFF];

    [Theory]
    [InlineData(false, 2500)]
    [InlineData(true, 2500)]
    public void Mutated_tiny_encoders_load_or_are_refused(bool arctic, int cases)
    {
        byte[] original = new OnnxTinyBert(arctic).Build();
        var random = new Random(arctic ? 7 : 3);
        var tally = new Tally();
        for (int i = 0; i < cases; i++)
        {
            byte[] bytes = original;
            int mutations = random.Next(1, 4);
            for (int m = 0; m < mutations; m++)
                bytes = Mutate(bytes, random);
            tally.Attempt($"case {i}", () => BertOnnxWeights.Load(Source, bytes));
        }
        output.WriteLine($"{original.Length}-byte tiny encoder ({(arctic ? "Arctic" : "MiniLM")} style): {tally}");
    }

    [Theory]
    [InlineData("MiniLM", 1000)]
    [InlineData("ArcticXs", 1000)]
    public void Mutated_packaged_models_parse_and_map_or_are_refused(string name, int cases)
    {
        var package = name == "MiniLM" ? OnnxPackagedModel.MiniLM : OnnxPackagedModel.ArcticXs;
        byte[] bytes = package.ReadModel();
        int[] structure = StructuralOffsets(bytes);
        var random = new Random(name.Length);
        var tally = new Tally();
        for (int i = 0; i < cases; i++)
        {
            int at = structure[random.Next(structure.Length)];
            int count = Math.Min(random.Next(1, 5), bytes.Length - at);
            byte[] saved = bytes.AsSpan(at, count).ToArray();
            for (int k = 0; k < count; k++)
                bytes[at + k] = random.Next(3) == 0 ? Interesting[random.Next(Interesting.Length)] : (byte)random.Next(256);
            tally.Attempt($"case {i}: {count} bytes at {at}", () => BertOnnxLayout.Plan(OnnxModel.Parse(Source, bytes), heads: null));
            saved.CopyTo(bytes, at);
        }
        for (int i = 0; i < 100; i++)
        {
            int cut = i % 2 == 0 ? structure[random.Next(structure.Length)] : random.Next(bytes.Length);
            tally.Attempt($"cut at {cut}", () => BertOnnxLayout.Plan(OnnxModel.Parse(Source, bytes.AsMemory(0, cut)), heads: null));
        }
        BertOnnxLayout.Plan(OnnxModel.Parse(Source, bytes), heads: null);
        output.WriteLine($"{name}: {structure.Length} structural bytes of {bytes.Length}; {tally}");
    }

    [Fact]
    public void Mutated_assembly_headers_read_or_are_refused()
    {
        var package = OnnxPackagedModel.MiniLM;
        byte[] bytes = File.ReadAllBytes(package.AssemblyPath);
        int[] targets = AssemblyHeaderOffsets(bytes);
        var random = new Random(11);
        var tally = new Tally();
        for (int i = 0; i < 400; i++)
        {
            int at = targets[random.Next(targets.Length)];
            int count = Math.Min(random.Next(1, 4), bytes.Length - at);
            byte[] saved = bytes.AsSpan(at, count).ToArray();
            for (int k = 0; k < count; k++)
                bytes[at + k] = random.Next(3) == 0 ? Interesting[random.Next(Interesting.Length)] : (byte)random.Next(256);
            tally.Attempt($"case {i}: {count} bytes at {at}", () =>
            {
                using var reader = new ManifestResourceReader(new MemoryStream(bytes, writable: false), Source);
                if (reader.Names.Contains(package.VocabResource))
                    reader.Read(package.VocabResource);
            });
            saved.CopyTo(bytes, at);
        }
        output.WriteLine($"{targets.Length} header bytes of {bytes.Length}: {tally}");
    }

    private static byte[] Mutate(byte[] bytes, Random random)
    {
        if (bytes.Length == 0)
            return bytes;
        int at = random.Next(bytes.Length);
        int span = Math.Min(random.Next(1, 17), bytes.Length - at);
        switch (random.Next(6))
        {
            case 0:
                return Changed(bytes, at, (byte)random.Next(256));
            case 1:
                return Changed(bytes, at, (byte)(bytes[at] ^ (1 << random.Next(8))));
            case 2:
                return Changed(bytes, at, Interesting[random.Next(Interesting.Length)]);
            case 3:
                return bytes[..at];
            case 4:
                return [.. bytes[..at], .. bytes[(at + span)..]];
            default:
                return [.. bytes[..(at + span)], .. bytes[at..]];
        }
    }

    private static byte[] Changed(byte[] bytes, int at, byte value)
    {
        byte[] copy = (byte[])bytes.Clone();
        copy[at] = value;
        return copy;
    }

    // Every byte of the model except the payloads of raw_data fields of initializers.
    private static int[] StructuralOffsets(byte[] model)
    {
        var payloads = new List<(int Start, int End)>();
        var reader = new ProtoReader("scan", "ModelProto", model);
        while (reader.TryReadTag(out int field, out var wire))
        {
            if (field != 7)
            {
                reader.Skip(wire);
                continue;
            }
            var graph = reader.ReadMessage("GraphProto");
            while (graph.TryReadTag(out int graphField, out var graphWire))
            {
                if (graphField != 5)
                {
                    graph.Skip(graphWire);
                    continue;
                }
                var tensor = graph.ReadMessage("TensorProto");
                while (tensor.TryReadTag(out int tensorField, out var tensorWire))
                {
                    if (tensorField != 9)
                    {
                        tensor.Skip(tensorWire);
                        continue;
                    }
                    int length = tensor.ReadBytes().Length;
                    payloads.Add(((int)tensor.Position - length, (int)tensor.Position));
                }
            }
        }
        var offsets = new List<int>();
        int next = 0;
        foreach (var (start, end) in payloads.Append((model.Length, model.Length)))
        {
            for (int i = next; i < start; i++)
                offsets.Add(i);
            next = end;
        }
        return [.. offsets];
    }

    // The PE headers and section table, the CLI header, the metadata, and the resources' length prefixes.
    private static int[] AssemblyHeaderOffsets(byte[] assembly)
    {
        using var pe = new PEReader(new MemoryStream(assembly, writable: false));
        var headers = pe.PEHeaders;
        var offsets = Enumerable.Range(0, headers.SectionHeaders.Length * 40 + headers.PEHeaderStartOffset + 256)
            .Concat(Enumerable.Range(headers.CorHeaderStartOffset, 72))
            .Concat(Enumerable.Range(headers.MetadataStartOffset, headers.MetadataSize));
        int block = (int)OnnxManifestResourceTests.ResourcesBlockStart(assembly);
        var metadata = pe.GetMetadataReader();
        foreach (var handle in metadata.ManifestResources)
            offsets = offsets.Concat(Enumerable.Range(block + (int)metadata.GetManifestResource(handle).Offset, 4));
        return [.. offsets.Distinct()];
    }

    private sealed class Tally
    {
        private int _accepted;
        private int _refused;
        private readonly Dictionary<string, int> _problems = [];

        public void Attempt(string what, Action action)
        {
            try
            {
                action();
                _accepted++;
            }
            catch (InvalidDataException e)
            {
                Assert.StartsWith($"{Source}: ", e.Message);
                _refused++;
                string kind = e.Message.Length > 60 ? e.Message[..60] : e.Message;
                _problems[kind] = _problems.GetValueOrDefault(kind) + 1;
            }
            catch (Exception e)
            {
                Assert.Fail($"{what}: {e.GetType().Name} instead of success or InvalidDataException: {e}");
            }
        }

        public override string ToString() =>
            $"{_accepted} accepted, {_refused} refused; most common: {string.Join(" | ", _problems.OrderByDescending(p => p.Value).Take(3).Select(p => $"{p.Value}x {p.Key}"))}";
    }
}
