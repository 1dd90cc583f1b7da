using Engine.Models;
using System.Buffers.Binary;
using System.Text;
using Engine.Io.Onnx;
using Xunit.Abstractions;

namespace Engine.Tests;

// The two packaged BERT encoders (all-MiniLM-L6-v2 and snowflake-arctic-embed-xs, both 6 layers
// of hidden 384) read through the manifest resource reader, the ONNX parser and the BERT mapping,
// with values checked against reads of the file that share no code with the loader.
public sealed class OnnxPackagedModelTests(OnnxPackagedModelFixture models, ITestOutputHelper output) : IClassFixture<OnnxPackagedModelFixture>
{
    private static readonly BertConfig Expected = new(VocabSize: 30522, Hidden: 384, Layers: 6, Heads: 12, Intermediate: 1536,
        MaxPositions: 512, TypeVocabSize: 2, LayerNormEps: 1e-12f);

    public static TheoryData<string> Packages => new() { "MiniLM", "ArcticXs" };

    private static OnnxPackagedModel Package(string name) => name == "MiniLM" ? OnnxPackagedModel.MiniLM : OnnxPackagedModel.ArcticXs;

    [Theory]
    [MemberData(nameof(Packages))]
    public void Vocabulary_resource_has_30522_tokens(string name)
    {
        var package = Package(name);
        using var assembly = ManifestResourceReader.Open(package.AssemblyPath);

        Assert.Contains(package.ModelResource, assembly.Names);
        Assert.Contains(package.VocabResource, assembly.Names);
        string text = Encoding.UTF8.GetString(assembly.Read(package.VocabResource));
        string[] tokens = text.Split('\n').Select(line => line.TrimEnd('\r')).ToArray();
        if (tokens[^1].Length == 0)
            tokens = tokens[..^1];

        Assert.Equal(30522, tokens.Length);
        Assert.Equal("[PAD]", tokens[0]);
        Assert.Equal("[UNK]", tokens[100]);
        Assert.Equal("[CLS]", tokens[101]);
        Assert.Equal("[SEP]", tokens[102]);
        Assert.Equal(assembly.Length(package.ModelResource), assembly.Read(package.ModelResource).Length);
    }

    [Theory]
    [MemberData(nameof(Packages))]
    public void Model_loads_with_every_parameter_and_its_shape(string name)
    {
        var (bytes, model, bert) = models.Get(name);
        output.WriteLine($"{name}: {bytes.Length} bytes, IR {model.IrVersion}, opsets {string.Join(", ", model.Opsets)}, producer {model.ProducerName} {model.ProducerVersion}, " +
            $"{model.Graph.Nodes.Count} nodes, {model.Graph.Initializers.Count} initializers");
        output.WriteLine("ops: " + string.Join(", ", model.Graph.Nodes.GroupBy(n => n.OpType).OrderBy(g => g.Key).Select(g => $"{g.Key} {g.Count()}")));

        bool pooler = name == "MiniLM";
        Assert.Equal(Expected, bert.Config);
        Assert.Equal(pooler, bert.HasPooler);
        var expected = OnnxTinyBert.Expected(Expected, pooler).ToList();
        Assert.Equal(expected.Select(e => e.Name).Order(), bert.Parameters.Keys.Order());
        foreach (var (parameter, shape) in expected)
        {
            Assert.Equal(shape, bert.Parameters[parameter].Shape);
            Assert.Equal(shape.Aggregate(1, (a, b) => a * b), bert.Parameters[parameter].Data.Length);
        }
    }

    [Theory]
    [InlineData("MiniLM", "927", "938")]
    [InlineData("ArcticXs", "onnx::MatMul_788", "onnx::MatMul_799")]
    public void Values_match_an_independent_read_of_the_initializers(string name, string query0, string intermediate0)
    {
        var (bytes, _, bert) = models.Get(name);

        // Row 0 of the word embeddings, then the whole table, as stored.
        float[] words = RawFloats(bytes, "embeddings.word_embeddings.weight", 30522 * 384);
        var loaded = bert.Parameters["embeddings.word_embeddings.weight"].Data;
        Assert.True(words.AsSpan(0, 384).SequenceEqual(loaded.AsSpan(0, 384)));
        Assert.True(words.AsSpan().SequenceEqual(loaded));
        Assert.Equal(RawFloats(bytes, "encoder.layer.5.output.LayerNorm.bias", 384), bert.Parameters["encoder.layer.5.output.LayerNorm.bias"].Data);

        // MatMul weights are stored [in, out]; the loader gives [out, in].
        AssertTransposed(RawFloats(bytes, query0, 384 * 384), bert.Parameters["encoder.layer.0.attention.self.query.weight"], 384, 384);
        AssertTransposed(RawFloats(bytes, intermediate0, 384 * 1536), bert.Parameters["encoder.layer.0.intermediate.dense.weight"], 384, 1536);
        Assert.Contains(words, v => v != 0f);
    }

    private static void AssertTransposed(float[] stored, BertParameter loaded, int inputs, int outputs)
    {
        Assert.Equal([outputs, inputs], loaded.Shape);
        int mismatches = 0;
        for (int i = 0; i < inputs; i++)
            for (int o = 0; o < outputs; o++)
                mismatches += stored[i * outputs + o] == loaded.Data[o * inputs + i] ? 0 : 1;
        Assert.Equal(0, mismatches);
    }

    // The raw_data of the TensorProto named `name`, found by its bytes as torch writes them: the
    // name (field 8), then raw_data (field 9, a varint length and the little-endian floats).
    private static float[] RawFloats(byte[] model, string name, int count)
    {
        byte[] pattern = [0x42, (byte)name.Length, .. Encoding.UTF8.GetBytes(name), 0x4A];
        int at = model.AsSpan().IndexOf(pattern);
        Assert.True(at >= 0, $"initializer '{name}' not found");
        int position = at + pattern.Length;
        ulong length = 0;
        for (int shift = 0; ; shift += 7)
        {
            byte b = model[position++];
            length |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80)
                break;
        }
        Assert.Equal((ulong)count * 4, length);
        var values = new float[count];
        for (int i = 0; i < count; i++)
            values[i] = BinaryPrimitives.ReadSingleLittleEndian(model.AsSpan(position + 4 * i));
        return values;
    }
}
