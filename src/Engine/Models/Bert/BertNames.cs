namespace Engine.Models;

/// <summary>
/// The Hugging Face names of a BERT encoder's parameters and the shape each must have, given the
/// sizes in a <see cref="BertConfig"/>. Linear weights are [out, in], as torch.nn.Linear keeps them.
/// </summary>
internal static class BertNames
{
    public const string WordEmbeddings = "embeddings.word_embeddings.weight";
    public const string PositionEmbeddings = "embeddings.position_embeddings.weight";
    public const string TokenTypeEmbeddings = "embeddings.token_type_embeddings.weight";
    public const string EmbeddingsLayerNorm = "embeddings.LayerNorm";
    public const string Pooler = "pooler.dense";

    /// <summary>The six Linear modules of a layer, in the order the layer applies them.</summary>
    public static readonly string[] LayerLinears =
    [
        "attention.self.query", "attention.self.key", "attention.self.value",
        "attention.output.dense", "intermediate.dense", "output.dense",
    ];

    /// <summary>The two LayerNorm modules of a layer.</summary>
    public static readonly string[] LayerNorms = ["attention.output.LayerNorm", "output.LayerNorm"];

    /// <summary>The name of module <paramref name="module"/> of encoder layer <paramref name="layer"/>.</summary>
    public static string Layer(int layer, string module) => $"encoder.layer.{layer}.{module}";

    /// <summary>The Linear modules: the six of each layer, then the pooler's when there is one.</summary>
    public static IEnumerable<string> Linears(int layers, bool pooler)
    {
        for (int i = 0; i < layers; i++)
            foreach (string module in LayerLinears)
                yield return Layer(i, module);
        if (pooler)
            yield return Pooler;
    }

    /// <summary>The LayerNorm modules, the embeddings' first.</summary>
    public static IEnumerable<string> Norms(int layers)
    {
        yield return EmbeddingsLayerNorm;
        for (int i = 0; i < layers; i++)
            foreach (string module in LayerNorms)
                yield return Layer(i, module);
    }

    /// <summary>Every parameter of a model of <paramref name="config"/>, with the shape it must have.</summary>
    public static IEnumerable<(string Name, int[] Shape)> Parameters(BertConfig config, bool pooler)
    {
        int h = config.Hidden, m = config.Intermediate;
        yield return (WordEmbeddings, [config.VocabSize, h]);
        yield return (PositionEmbeddings, [config.MaxPositions, h]);
        yield return (TokenTypeEmbeddings, [config.TypeVocabSize, h]);
        foreach (string norm in Norms(config.Layers))
        {
            yield return ($"{norm}.weight", [h]);
            yield return ($"{norm}.bias", [h]);
        }
        for (int i = 0; i < config.Layers; i++)
        {
            foreach (string module in LayerLinears)
            {
                var (output, input) = module switch
                {
                    "intermediate.dense" => (m, h),
                    "output.dense" => (h, m),
                    _ => (h, h),
                };
                yield return ($"{Layer(i, module)}.weight", [output, input]);
                yield return ($"{Layer(i, module)}.bias", [output]);
            }
        }
        if (pooler)
        {
            yield return ($"{Pooler}.weight", [h, h]);
            yield return ($"{Pooler}.bias", [h]);
        }
    }
}
