using Engine.Models;
namespace Engine.Io.Onnx;

/// <summary>
/// Reads the two sizes of a BERT encoder that no weight's shape gives: the number of attention
/// heads and the LayerNorm epsilon, from the constants of the graph's nodes.
/// </summary>
internal static class BertOnnxHyperparameters
{
    // The default of LayerNormalization's epsilon attribute (ONNX operator spec).
    private const float DefaultLayerNormalizationEpsilon = 1e-5f;

    private static readonly string[] Projections = ["attention.self.query", "attention.self.key", "attention.self.value"];

    /// <summary>
    /// The epsilon shared by every LayerNorm: a LayerNormalization node's attribute, or the constant
    /// of the decomposed form torch exports, Mul(Div(x - mean, Sqrt(Add(variance, epsilon))), weight).
    /// </summary>
    /// <exception cref="InvalidDataException">A LayerNorm matches neither form, or two LayerNorms differ.</exception>
    public static float LayerNormEps(OnnxGraphIndex index, int layers)
    {
        float? shared = null;
        string? first = null;
        foreach (string norm in BertNames.Norms(layers))
        {
            string weight = $"{norm}.weight";
            float eps = FindEpsilon(index, weight)
                ?? throw OnnxErrors.Invalid(index.Source, $"cannot find the epsilon of LayerNorm '{norm}': its weight '{weight}' feeds neither a LayerNormalization node nor Mul(Div(x - mean, Sqrt(Add(variance, epsilon))), weight)");
            if (shared is { } value && value != eps)
                throw OnnxErrors.Invalid(index.Source, $"LayerNorm '{first}' has epsilon {value:R} but '{norm}' has {eps:R}; a BERT encoder uses one");
            shared = eps;
            first ??= norm;
        }
        return shared!.Value;
    }

    /// <summary>
    /// The number of heads (and their width) the Reshape after each query, key and value projection
    /// splits its hidden state into, or null when the graph never says it with a constant.
    /// </summary>
    /// <exception cref="InvalidDataException">Two projections give different head counts.</exception>
    public static (long Heads, long HeadSize)? Heads(OnnxGraphIndex index, IReadOnlyDictionary<string, OnnxLinear> linears, int layers)
    {
        (long Heads, long HeadSize)? found = null;
        string? where = null;
        for (int layer = 0; layer < layers; layer++)
        {
            foreach (string projection in Projections)
            {
                string module = BertNames.Layer(layer, projection);
                foreach (var split in Splits(index, linears[module].Output))
                {
                    if (found is { } known && known != split)
                        throw OnnxErrors.Invalid(index.Source, $"'{where}' splits into {known.Heads} heads of {known.HeadSize}, but '{module}' into {split.Heads} of {split.HeadSize}");
                    found = split;
                    where ??= module;
                }
            }
        }
        return found;
    }

    private static float? FindEpsilon(OnnxGraphIndex index, string weight)
    {
        foreach (var node in index.Consumers(weight))
        {
            if (node.OpType == "LayerNormalization" && node.Inputs.Count >= 2 && node.Inputs[1] == weight)
                return node.Attribute("epsilon")?.Float ?? DefaultLayerNormalizationEpsilon;
            if (node.OpType != "Mul" || node.Inputs.Count != 2)
                continue;
            string normalized = node.Inputs[0] == weight ? node.Inputs[1] : node.Inputs[0];
            if (index.ProducerOf(normalized, "Div") is not { Inputs.Count: 2 } div
                || index.ProducerOf(div.Inputs[1], "Sqrt") is not { Inputs.Count: 1 } sqrt
                || index.ProducerOf(sqrt.Inputs[0], "Add") is not { Inputs.Count: 2 } add)
                continue;
            if ((index.FloatScalar(add.Inputs[1]) ?? index.FloatScalar(add.Inputs[0])) is { } eps)
                return eps;
        }
        return null;
    }

    // (heads, head size) from each Reshape of the projection's output: its target shape is a
    // constant [batch, sequence, heads, head size], or a Concat whose last two parts are constants.
    private static IEnumerable<(long Heads, long HeadSize)> Splits(OnnxGraphIndex index, string projection)
    {
        foreach (var reshape in index.Consumers(projection))
        {
            if (reshape.OpType != "Reshape" || reshape.Inputs.Count != 2 || reshape.Inputs[0] != projection)
                continue;
            string shape = reshape.Inputs[1];
            if (index.IntegerConstant(shape) is [_, _, long heads, long headSize])
                yield return (heads, headSize);
            else if (index.ProducerOf(shape, "Concat") is { Inputs.Count: 4 } concat
                && index.IntegerConstant(concat.Inputs[2]) is [long concatHeads]
                && index.IntegerConstant(concat.Inputs[3]) is [long concatHeadSize])
                yield return (concatHeads, concatHeadSize);
        }
    }
}
