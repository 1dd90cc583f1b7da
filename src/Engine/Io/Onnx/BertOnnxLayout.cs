using Engine.Models;
namespace Engine.Io.Onnx;

/// <summary>Where one BERT parameter comes from: an initializer, stored as is or [in, out] to transpose.</summary>
/// <param name="Name">The Hugging Face parameter name.</param>
/// <param name="Tensor">The FLOAT initializer holding it.</param>
/// <param name="Transposed">True when <paramref name="Tensor"/> is [in, out] and the parameter is its transpose.</param>
/// <param name="Shape">The parameter's shape (already checked against the config).</param>
internal sealed record BertOnnxSource(string Name, OnnxTensor Tensor, bool Transposed, int[] Shape);

/// <summary>
/// Maps an exported BERT graph onto the Hugging Face parameters and checks it completely, without
/// copying any weight: the config, and for every parameter its initializer and shape.
/// </summary>
internal sealed class BertOnnxLayout
{
    private BertOnnxLayout(BertConfig config, List<BertOnnxSource> sources)
    {
        Config = config;
        Sources = sources;
    }

    /// <summary>The sizes of the encoder.</summary>
    public BertConfig Config { get; }

    /// <summary>Every parameter, in the order <see cref="BertNames.Parameters"/> lists them.</summary>
    public IReadOnlyList<BertOnnxSource> Sources { get; }

    /// <summary>Finds every parameter of the encoder in <paramref name="model"/> and checks it against the sizes the graph implies.</summary>
    /// <param name="model">The parsed model.</param>
    /// <param name="heads">The number of attention heads, when the caller knows it; the graph's, when it has one, must agree.</param>
    /// <exception cref="InvalidDataException">A parameter is missing, has the wrong type or shape, or the graph is not a BERT encoder this reader knows.</exception>
    public static BertOnnxLayout Plan(OnnxModel model, int? heads)
    {
        var index = new OnnxGraphIndex(model);
        var linears = BertOnnxLinears.Find(index);
        int layers = 0;
        while (linears.ContainsKey(BertNames.Layer(layers, BertNames.LayerLinears[0])))
            layers++;
        if (layers == 0)
            throw Invalid(model, $"found no encoder layer: no MatMul is followed by the Add of '{BertNames.Layer(0, BertNames.LayerLinears[0])}.bias'");
        bool pooler = linears.ContainsKey(BertNames.Pooler);

        var sources = CollectSources(model, linears, layers, pooler);
        var config = MakeConfig(model, index, linears, sources, layers, heads);
        var ordered = new List<BertOnnxSource>();
        foreach (var (name, expected) in BertNames.Parameters(config, pooler))
        {
            var source = sources[name];
            if (!source.Shape.AsSpan().SequenceEqual(expected))
                throw Invalid(model, $"'{name}' ({source.Tensor}{(source.Transposed ? ", transposed from [in, out]" : "")}) has shape {ShapeMath.Format(source.Shape)}, but {config} makes it {ShapeMath.Format(expected)}");
            ordered.Add(source);
        }
        return new BertOnnxLayout(config, ordered);
    }

    // Every parameter's initializer: Linear weights and biases through their MatMul (or Gemm), the rest by name.
    private static Dictionary<string, BertOnnxSource> CollectSources(OnnxModel model, Dictionary<string, OnnxLinear> linears, int layers, bool pooler)
    {
        var expected = BertNames.Linears(layers, pooler).ToHashSet(StringComparer.Ordinal);
        var sources = new Dictionary<string, BertOnnxSource>(StringComparer.Ordinal);
        foreach (var linear in linears.Values)
        {
            if (!expected.Contains(linear.Module))
                throw Invalid(model, $"weight '{linear.Weight.Name}' with bias '{linear.Bias.Name}' is no parameter of a BERT encoder of {layers} layers");
            Add(model, sources, $"{linear.Module}.weight", linear.Weight, linear.Transposed);
            Add(model, sources, $"{linear.Module}.bias", linear.Bias, transposed: false);
        }
        foreach (string module in expected)
        {
            if (!linears.ContainsKey(module))
                throw Invalid(model, $"no MatMul is followed by the Add of '{module}.bias', so '{module}' has no weight");
        }
        string[] named = [BertNames.WordEmbeddings, BertNames.PositionEmbeddings, BertNames.TokenTypeEmbeddings,
            .. BertNames.Norms(layers).SelectMany(norm => new[] { $"{norm}.weight", $"{norm}.bias" })];
        foreach (string name in named)
            Add(model, sources, name, model.Graph.Initializer(name) ?? throw Invalid(model, $"the graph has no initializer '{name}'"), transposed: false);
        return sources;
    }

    private static void Add(OnnxModel model, Dictionary<string, BertOnnxSource> sources, string name, OnnxTensor tensor, bool transposed)
    {
        if (tensor.DataType != OnnxDataType.Float)
            throw Invalid(model, $"'{name}' is {tensor}, not FLOAT");
        if (tensor.IsExternal)
            throw Invalid(model, $"'{name}' is {tensor}, whose data is in an external file, which is not supported");
        int[] shape = tensor.Shape.ToArray();
        if (transposed)
            Array.Reverse(shape);
        sources.Add(name, new BertOnnxSource(name, tensor, transposed, shape));
    }

    // Vocabulary, hidden, positions and token types from the embedding tables; intermediate from the
    // first feed-forward weight; heads and epsilon from the graph's constants.
    private static BertConfig MakeConfig(OnnxModel model, OnnxGraphIndex index, Dictionary<string, OnnxLinear> linears, Dictionary<string, BertOnnxSource> sources, int layers, int? heads)
    {
        int[] words = Matrix(BertNames.WordEmbeddings);
        int hidden = words[1];
        int intermediate = Matrix($"{BertNames.Layer(0, "intermediate.dense")}.weight")[0];
        int headCount = ResolveHeads(model, BertOnnxHyperparameters.Heads(index, linears, layers), heads, hidden);
        float eps = BertOnnxHyperparameters.LayerNormEps(index, layers);
        if (!float.IsFinite(eps) || eps < 0)
            throw Invalid(model, $"the LayerNorm epsilon is {eps:R}, not a finite non-negative number");
        return new BertConfig(words[0], hidden, layers, headCount, intermediate,
            Matrix(BertNames.PositionEmbeddings)[0], Matrix(BertNames.TokenTypeEmbeddings)[0], eps);

        int[] Matrix(string name) =>
            sources[name].Shape is { Length: 2 } shape ? shape : throw Invalid(model, $"'{name}' is {sources[name].Tensor}, not a matrix");
    }

    private static int ResolveHeads(OnnxModel model, (long Heads, long HeadSize)? found, int? given, int hidden)
    {
        if (found is { } split)
        {
            if (split.Heads <= 0 || split.HeadSize <= 0 || split.Heads * split.HeadSize != hidden)
                throw Invalid(model, $"the attention splits hidden size {hidden} into {split.Heads} heads of {split.HeadSize}");
            if (given is { } g && g != split.Heads)
                throw Invalid(model, $"the graph has {split.Heads} attention heads, not the {g} given");
            return (int)split.Heads;
        }
        int heads = given ?? throw Invalid(model, "the graph does not say how many attention heads it has (no constant Reshape after the query, key and value projections); pass the count");
        if (hidden % heads != 0)
            throw Invalid(model, $"hidden size {hidden} is not a multiple of the {heads} attention heads given");
        return heads;
    }

    private static InvalidDataException Invalid(OnnxModel model, string problem) => OnnxErrors.Invalid(model.Source, problem);
}
