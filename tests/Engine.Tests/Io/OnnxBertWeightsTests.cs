using Engine.Io.Onnx;

namespace Engine.Tests;

// The BERT mapping on a tiny encoder with known weights, written in both export styles: every
// parameter comes back exactly, Linear weights as [out, in]; and each way the graph can fail to
// be a BERT encoder gives an error that names the source and the parameter.
public sealed class OnnxBertWeightsTests
{
    private const string Source = "tiny.onnx";

    private static InvalidDataException Refused(byte[] bytes, int? heads = null)
    {
        var e = Assert.Throws<InvalidDataException>(() => BertOnnxWeights.Load(Source, bytes, heads));
        Assert.StartsWith($"{Source}: ", e.Message);
        return e;
    }

    private static void AssertLoadsExactly(OnnxTinyBert tiny, BertOnnxWeights bert, bool pooler)
    {
        Assert.Equal(OnnxTinyBert.Config, bert.Config);
        Assert.Equal(pooler, bert.HasPooler);
        Assert.Equal(tiny.Parameters.Keys.Order(), bert.Parameters.Keys.Order());
        foreach (var (name, (shape, data)) in tiny.Parameters)
        {
            Assert.Equal(shape, bert.Parameters[name].Shape);
            Assert.Equal(data, bert.Parameters[name].Data);
        }
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public void Tiny_encoder_loads_exactly_in_both_export_styles(bool arctic, bool fusedLayerNorm)
    {
        var tiny = new OnnxTinyBert(arctic, fusedLayerNorm);
        AssertLoadsExactly(tiny, BertOnnxWeights.Load(Source, tiny.Build()), pooler: !arctic);
    }

    [Fact]
    public void Parameters_become_tensors_of_their_shape()
    {
        var tiny = new OnnxTinyBert();
        var bert = BertOnnxWeights.Load(Source, tiny.Build());
        using var device = Device.Cpu();
        using var tensor = bert.Parameters["encoder.layer.1.intermediate.dense.weight"].ToTensor(device);
        Assert.Equal([12, 8], tensor.Shape.ToArray());
        Assert.Equal(tiny.Parameters["encoder.layer.1.intermediate.dense.weight"].Data, tensor.ToArray());
    }

    [Fact]
    public void Heads_come_from_the_caller_when_the_graph_has_no_constant_for_them()
    {
        var tiny = new OnnxTinyBert(headConstants: false);
        byte[] bytes = tiny.Build();

        Assert.Contains("pass the count", Refused(bytes).Message);
        Assert.Contains("not a multiple of the 3 attention heads", Refused(bytes, heads: 3).Message);
        AssertLoadsExactly(tiny, BertOnnxWeights.Load(Source, bytes, heads: 2), pooler: true);
        Assert.Equal(4, BertOnnxWeights.Load(Source, bytes, heads: 4).Config.Heads);
        Assert.Throws<ArgumentOutOfRangeException>(() => BertOnnxWeights.Load(Source, bytes, heads: 0));
    }

    [Fact]
    public void Heads_given_must_agree_with_the_graph() =>
        Assert.Contains("2 attention heads, not the 4 given", Refused(new OnnxTinyBert().Build(), heads: 4).Message);

    [Fact]
    public void Head_constants_must_split_hidden_exactly()
    {
        var tiny = new OnnxTinyBert();
        tiny.ReplaceInitializer("heads", OnnxMessages.Int64Tensor("heads", [1], [3]));
        Assert.Contains("splits hidden size 8 into 3 heads of 4", Refused(tiny.Build()).Message);
    }

    [Theory]
    [InlineData("embeddings.LayerNorm.bias")]
    [InlineData("embeddings.token_type_embeddings.weight")]
    [InlineData("encoder.layer.1.output.LayerNorm.weight")]
    public void A_missing_named_initializer_is_named(string name)
    {
        var tiny = new OnnxTinyBert();
        tiny.RemoveInitializer(name);
        Assert.Contains($"'{name}'", Refused(tiny.Build()).Message);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_missing_matmul_weight_names_its_layer(bool arctic)
    {
        var tiny = new OnnxTinyBert(arctic);
        tiny.RemoveInitializer(tiny.OnnxNames["encoder.layer.1.intermediate.dense.weight"]);
        Assert.Contains("'encoder.layer.1.intermediate.dense' has no weight", Refused(tiny.Build()).Message);
    }

    [Fact]
    public void A_missing_bias_leaves_its_weight_unnamed()
    {
        var tiny = new OnnxTinyBert();
        tiny.RemoveInitializer("encoder.layer.0.attention.self.key.bias");
        Assert.Contains("'encoder.layer.0.attention.self.key.bias', which is not an initializer", Refused(tiny.Build()).Message);
    }

    [Theory]
    [InlineData("encoder.layer.1.intermediate.dense.bias", new[] { 13 }, "[12]")]
    [InlineData("embeddings.LayerNorm.weight", new[] { 8, 1 }, "[8]")]
    [InlineData("encoder.layer.0.output.LayerNorm.bias", new[] { 9 }, "[8]")]
    [InlineData("embeddings.token_type_embeddings.weight", new[] { 2, 9 }, "[2, 8]")]
    public void A_parameter_of_the_wrong_shape_is_named_with_the_shape_expected(string name, int[] shape, string expected)
    {
        var tiny = new OnnxTinyBert();
        tiny.ReplaceInitializer(name, OnnxMessages.FloatTensor(name, shape, new float[shape.Aggregate(1, (a, b) => a * b)]));
        string message = Refused(tiny.Build()).Message;
        Assert.Contains($"'{name}'", message);
        Assert.Contains($"makes it {expected}", message);
    }

    [Fact]
    public void A_matmul_weight_of_the_wrong_shape_is_named_by_its_parameter()
    {
        var tiny = new OnnxTinyBert(arctic: true);
        string weight = tiny.OnnxNames["encoder.layer.1.output.dense.weight"];
        tiny.ReplaceInitializer(weight, OnnxMessages.FloatTensor(weight, [12, 9], new float[108]));
        string message = Refused(tiny.Build()).Message;
        Assert.Contains("'encoder.layer.1.output.dense.weight'", message);
        Assert.Contains($"'{weight}'", message);
        Assert.Contains("has shape [9, 12], but", message);
        Assert.Contains("makes it [8, 12]", message);
    }

    [Fact]
    public void A_parameter_that_is_not_float_is_refused()
    {
        var tiny = new OnnxTinyBert();
        tiny.ReplaceInitializer("embeddings.LayerNorm.weight", OnnxMessages.Int64Tensor("embeddings.LayerNorm.weight", [8], new long[8]));
        Assert.Contains("'embeddings.LayerNorm.weight' is tensor 'embeddings.LayerNorm.weight' Int64 [8], not FLOAT", Refused(tiny.Build()).Message);
    }

    [Fact]
    public void A_parameter_in_an_external_file_is_refused_but_the_model_parses()
    {
        var tiny = new OnnxTinyBert();
        tiny.ReplaceInitializer("embeddings.LayerNorm.bias", OnnxMessages.Tensor("embeddings.LayerNorm.bias", OnnxMessages.FloatType, [8])
            .Message(13, new ProtoWriter().String(1, "location").String(2, "weights.bin")).Int(14, 1));
        byte[] bytes = tiny.Build();

        var tensor = OnnxModel.Parse(Source, bytes).Graph.Initializer("embeddings.LayerNorm.bias")!;
        Assert.True(tensor.IsExternal);
        Assert.Contains("external file, which is not supported", Assert.Throws<InvalidDataException>(() => tensor.ToFloats()).Message);
        Assert.Contains("external file, which is not supported", Refused(bytes).Message);
    }

    [Fact]
    public void Float_data_is_read_like_raw_data()
    {
        var tiny = new OnnxTinyBert();
        var (shape, data) = tiny.Parameters["embeddings.LayerNorm.weight"];
        var packed = new ProtoWriter();
        foreach (float value in data)
            packed.Raw(BitConverter.GetBytes(value));
        tiny.ReplaceInitializer("embeddings.LayerNorm.weight", OnnxMessages.Tensor("embeddings.LayerNorm.weight", OnnxMessages.FloatType, shape).Bytes(4, packed.ToArray()));
        Assert.Equal(data, BertOnnxWeights.Load(Source, tiny.Build()).Parameters["embeddings.LayerNorm.weight"].Data);
    }

    [Fact]
    public void A_layer_norm_without_its_epsilon_pattern_is_refused()
    {
        var tiny = new OnnxTinyBert(fusedLayerNorm: true);
        // A LayerNorm weight that no LayerNormalization reads: the embeddings' LayerNorm becomes a plain Mul.
        int index = tiny.Nodes.FindIndex(n => n.ToArray().AsSpan().IndexOf("LayerNormalization"u8) >= 0);
        tiny.Nodes[index] = OnnxMessages.Node("Mul", "not_a_norm", ["embedded", "embeddings.LayerNorm.weight"], ["normed_x"]);
        Assert.Contains("cannot find the epsilon of LayerNorm 'embeddings.LayerNorm'", Refused(tiny.Build()).Message);
    }

    [Fact]
    public void Layer_norms_must_share_one_epsilon()
    {
        var tiny = new OnnxTinyBert(fusedLayerNorm: true);
        int last = tiny.Nodes.FindLastIndex(n => n.ToArray().AsSpan().IndexOf("LayerNormalization"u8) >= 0);
        tiny.Nodes[last] = OnnxMessages.Node("LayerNormalization", "last_norm", ["residual_x", "encoder.layer.1.output.LayerNorm.weight", "encoder.layer.1.output.LayerNorm.bias"],
            ["last_hidden_state"], OnnxMessages.FloatAttribute("epsilon", 1e-5f));
        Assert.Contains("'encoder.layer.1.output.LayerNorm' has 1E-05", Refused(tiny.Build()).Message);
    }

    [Fact]
    public void Duplicate_initializers_and_values_are_refused()
    {
        var tiny = new OnnxTinyBert();
        tiny.Initializers.Add(tiny.Initializers[0]);
        Assert.Contains("initializer 'embeddings.word_embeddings.weight' appears twice", Refused(tiny.Build()).Message);

        var twice = new OnnxTinyBert();
        twice.Nodes.Add(OnnxMessages.Node("Identity", "again", ["input_ids"], ["embedded"]));
        Assert.Contains("value 'embedded' is produced by two nodes", Refused(twice.Build()).Message);
    }

    [Fact]
    public void A_graph_without_encoder_layers_is_refused()
    {
        byte[] bytes = OnnxMessages.Model(OnnxMessages.Graph([OnnxMessages.Node("Relu", "relu", ["x"], ["y"])], [], ["x"], ["y"]));
        Assert.Contains("found no encoder layer", Refused(bytes).Message);
    }
}
