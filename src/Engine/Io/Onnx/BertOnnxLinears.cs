namespace Engine.Io.Onnx;

/// <summary>
/// A Linear layer found in an ONNX graph: a MatMul by a weight initializer followed by the Add of
/// a bias initializer, or a Gemm with both.
/// </summary>
/// <param name="Module">The Hugging Face module name: the bias initializer's name without ".bias".</param>
/// <param name="Weight">The weight initializer.</param>
/// <param name="Transposed">True when <paramref name="Weight"/> is stored [in, out] (MatMul, or Gemm without transB) and must be transposed to [out, in].</param>
/// <param name="Bias">The bias initializer.</param>
/// <param name="Output">The value holding the layer's output, bias included.</param>
internal sealed record OnnxLinear(string Module, OnnxTensor Weight, bool Transposed, OnnxTensor Bias, string Output);

/// <summary>
/// Finds the Linear layers of an exported BERT graph and names them by their biases.
/// </summary>
/// <remarks>
/// Exporters give the MatMul weights numeric names ("927", "onnx::MatMul_788") but keep the
/// PyTorch names of the biases ("encoder.layer.0.attention.self.query.bias"), which a separate
/// Add node applies to the MatMul's output. So each weight is named through the Add that consumes
/// its MatMul's output. A Gemm (the pooler's, in some exports) holds weight and bias itself.
/// </remarks>
internal static class BertOnnxLinears
{
    private const string BiasSuffix = ".bias";

    /// <summary>Every Linear layer of the graph, by module name.</summary>
    /// <exception cref="InvalidDataException">A weight's MatMul is not followed by the Add of a named bias, or two layers share a name.</exception>
    public static Dictionary<string, OnnxLinear> Find(OnnxGraphIndex index)
    {
        var linears = new Dictionary<string, OnnxLinear>(StringComparer.Ordinal);
        foreach (var node in index.Graph.Nodes)
        {
            var linear = node.OpType switch
            {
                "MatMul" when node.Inputs.Count == 2 && node.Outputs.Count > 0 && index.Graph.Initializer(node.Inputs[1]) is { } weight => FromMatMul(index, node, weight),
                "Gemm" when node.Inputs.Count == 3 && node.Outputs.Count > 0 && index.Graph.Initializer(node.Inputs[1]) is { } weight => FromGemm(index, node, weight),
                _ => null,
            };
            if (linear is null)
                continue;
            if (!linears.TryAdd(linear.Module, linear))
                throw OnnxErrors.Invalid(index.Source, $"two layers add bias '{linear.Bias.Name}': weights '{linears[linear.Module].Weight.Name}' and '{linear.Weight.Name}'");
        }
        return linears;
    }

    private static OnnxLinear FromMatMul(OnnxGraphIndex index, OnnxNode matMul, OnnxTensor weight)
    {
        string product = matMul.Outputs[0];
        var consumers = index.Consumers(product);
        if (consumers is not [{ OpType: "Add", Inputs.Count: 2 } add] || add.Outputs.Count == 0)
            throw OnnxErrors.Invalid(index.Source, $"{matMul} multiplies by initializer '{weight.Name}', but its output feeds {Describe(consumers)} rather than one Add of a bias");
        string other = add.Inputs[0] == product ? add.Inputs[1] : add.Inputs[0];
        var bias = index.Graph.Initializer(other)
            ?? throw OnnxErrors.Invalid(index.Source, $"{add} after the MatMul by '{weight.Name}' adds '{other}', which is not an initializer");
        return Make(index, weight, transposed: true, bias, add.Outputs[0]);
    }

    // Y = alpha * A' * B' + beta * C, with B' = B^T when transB = 1: only alpha = beta = 1 and an untransposed A is a Linear.
    private static OnnxLinear FromGemm(OnnxGraphIndex index, OnnxNode gemm, OnnxTensor weight)
    {
        var bias = index.Graph.Initializer(gemm.Inputs[2])
            ?? throw OnnxErrors.Invalid(index.Source, $"{gemm} multiplies by initializer '{weight.Name}', but its bias '{gemm.Inputs[2]}' is not an initializer");
        if ((gemm.Attribute("alpha")?.Float ?? 1f) != 1f || (gemm.Attribute("beta")?.Float ?? 1f) != 1f || (gemm.Attribute("transA")?.Int ?? 0) != 0)
            throw OnnxErrors.Invalid(index.Source, $"{gemm} scales its product or bias, or transposes its input, so it is not a Linear layer");
        bool transB = (gemm.Attribute("transB")?.Int ?? 0) != 0;
        return Make(index, weight, transposed: !transB, bias, gemm.Outputs[0]);
    }

    private static OnnxLinear Make(OnnxGraphIndex index, OnnxTensor weight, bool transposed, OnnxTensor bias, string output)
    {
        if (!bias.Name.EndsWith(BiasSuffix, StringComparison.Ordinal))
            throw OnnxErrors.Invalid(index.Source, $"the bias of weight '{weight.Name}' is '{bias.Name}', whose name does not end in '{BiasSuffix}', so the layer cannot be named");
        if (weight.Shape.Length != 2)
            throw OnnxErrors.Invalid(index.Source, $"the weight of '{bias.Name}' is {weight}, not a matrix");
        return new OnnxLinear(bias.Name[..^BiasSuffix.Length], weight, transposed, bias, output);
    }

    private static string Describe(IReadOnlyList<OnnxNode> nodes) =>
        nodes.Count == 0 ? "no node" : string.Join(" and ", nodes.Take(3)) + (nodes.Count > 3 ? $" and {nodes.Count - 3} more" : "");
}
