namespace Engine.Io.Onnx;

/// <summary>
/// Lookups over a graph for pattern matching: the node producing each value, the nodes consuming
/// it, and the value of constants (initializers and Constant nodes).
/// </summary>
internal sealed class OnnxGraphIndex
{
    private static readonly IReadOnlyList<OnnxNode> NoNodes = [];

    private readonly Dictionary<string, OnnxNode> _producers = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<OnnxNode>> _consumers = new(StringComparer.Ordinal);

    /// <summary>Indexes <paramref name="model"/>'s graph.</summary>
    /// <exception cref="InvalidDataException">Two nodes produce the same value (ONNX graphs assign each value once).</exception>
    public OnnxGraphIndex(OnnxModel model)
    {
        Source = model.Source;
        Graph = model.Graph;
        foreach (var node in Graph.Nodes)
        {
            foreach (string output in node.Outputs)
            {
                if (output.Length == 0)
                    continue;
                if (!_producers.TryAdd(output, node))
                    throw OnnxErrors.Invalid(Source, $"value '{output}' is produced by two nodes, {_producers[output]} and {node}");
            }
            foreach (string input in node.Inputs)
            {
                if (input.Length == 0)
                    continue;
                if (!_consumers.TryGetValue(input, out var list))
                    _consumers[input] = list = [];
                if (list.Count == 0 || !ReferenceEquals(list[^1], node))
                    list.Add(node);
            }
        }
    }

    /// <summary>The name error messages start with.</summary>
    public string Source { get; }

    /// <summary>The indexed graph.</summary>
    public OnnxGraph Graph { get; }

    /// <summary>The node producing <paramref name="value"/>, or null for graph inputs, initializers and unknown names.</summary>
    public OnnxNode? Producer(string value) => _producers.GetValueOrDefault(value);

    /// <summary>The nodes reading <paramref name="value"/>, in graph order, each once.</summary>
    public IReadOnlyList<OnnxNode> Consumers(string value) => _consumers.TryGetValue(value, out var list) ? list : NoNodes;

    /// <summary>The producer of <paramref name="value"/> when it is an <paramref name="opType"/> node, else null.</summary>
    public OnnxNode? ProducerOf(string value, string opType) => Producer(value) is { } node && node.OpType == opType ? node : null;

    /// <summary>The tensor <paramref name="value"/> holds when it is an initializer or the output of a Constant node with a tensor value.</summary>
    public OnnxTensor? ConstantTensor(string value) =>
        Graph.Initializer(value) ?? ProducerOf(value, "Constant")?.Attribute("value")?.Tensor;

    /// <summary>The integers of a constant INT64 or INT32 <paramref name="value"/> (a tensor, or a Constant's value_int(s)), else null.</summary>
    public long[]? IntegerConstant(string value)
    {
        if (ConstantTensor(value) is { DataType: OnnxDataType.Int64 or OnnxDataType.Int32, IsExternal: false } tensor)
            return tensor.ToInt64s();
        var constant = ProducerOf(value, "Constant");
        if (constant?.Attribute("value_int")?.Int is { } single)
            return [single];
        return constant?.Attribute("value_ints")?.Ints.ToArray();
    }

    /// <summary>The number a constant one-element FLOAT <paramref name="value"/> holds (a tensor, or a Constant's value_float), else null.</summary>
    public float? FloatScalar(string value)
    {
        if (ConstantTensor(value) is { DataType: OnnxDataType.Float, IsExternal: false, ElementCount: 1 } tensor)
            return tensor.ToFloats()[0];
        return ProducerOf(value, "Constant")?.Attribute("value_float")?.Float;
    }
}
