using Engine.Models;
using Engine.Io.Onnx;

namespace Engine.Tests;

// A tiny BERT encoder written as torch.onnx exports one, with known weights: what the loader must
// give back is known exactly. Two export styles, as in the packaged models:
//  - MiniLM (torch 1.10): MatMul weights named by numbers, head counts as int64 initializers,
//    the pooler as Gemm(transB = 1) with its weight named and already [out, in];
//  - Arctic (torch 2.2): weights named "onnx::MatMul_N", head counts as Constant nodes, no pooler.
// LayerNorms are decomposed into ReduceMean/Sub/Pow/ReduceMean/Add/Sqrt/Div/Mul/Add, with epsilon
// in a Constant node, or (FusedLayerNorm) LayerNormalization nodes. Tests edit the node and
// initializer lists before Build() to break the model in one chosen way.
internal sealed class OnnxTinyBert
{
    public static readonly BertConfig Config = new(VocabSize: 11, Hidden: 8, Layers: 2, Heads: 2, Intermediate: 12,
        MaxPositions: 7, TypeVocabSize: 2, LayerNormEps: 1e-12f);

    private readonly bool _arctic;
    private readonly bool _fusedLayerNorm;
    private readonly bool _headConstants;
    private int _counter = 100;

    public OnnxTinyBert(bool arctic = false, bool fusedLayerNorm = false, bool headConstants = true, int seed = 1)
    {
        _arctic = arctic;
        _fusedLayerNorm = fusedLayerNorm;
        _headConstants = headConstants;
        var random = new Random(seed);
        Parameters = [];
        foreach (var (name, shape) in Expected(Config, pooler: !arctic))
            Parameters[name] = (shape, Enumerable.Range(0, shape.Aggregate(1, (a, b) => a * b)).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray());
        BuildGraph();
    }

    // The parameters as Hugging Face holds them (Linear weights [out, in]).
    public Dictionary<string, (int[] Shape, float[] Data)> Parameters { get; }

    public List<ProtoWriter> Nodes { get; } = [];

    public List<(string Name, ProtoWriter Tensor)> Initializers { get; } = [];

    // The initializer name holding each Hugging Face parameter.
    public Dictionary<string, string> OnnxNames { get; } = [];

    public byte[] Build() => OnnxMessages.Model(OnnxMessages.Graph(Nodes, Initializers.Select(i => i.Tensor), ["input_ids", "token_type_ids", "position_ids"], ["last_hidden_state"]), opset: _arctic ? 11 : 13);

    public void RemoveInitializer(string name) => Initializers.RemoveAll(i => i.Name == name);

    public void ReplaceInitializer(string name, ProtoWriter tensor) => Initializers[Initializers.FindIndex(i => i.Name == name)] = (name, tensor);

    // Every parameter with its shape, in the loader's order.
    public static IEnumerable<(string Name, int[] Shape)> Expected(BertConfig config, bool pooler)
    {
        int h = config.Hidden, m = config.Intermediate;
        yield return ("embeddings.word_embeddings.weight", [config.VocabSize, h]);
        yield return ("embeddings.position_embeddings.weight", [config.MaxPositions, h]);
        yield return ("embeddings.token_type_embeddings.weight", [config.TypeVocabSize, h]);
        yield return ("embeddings.LayerNorm.weight", [h]);
        yield return ("embeddings.LayerNorm.bias", [h]);
        for (int i = 0; i < config.Layers; i++)
        {
            foreach (string norm in new[] { "attention.output.LayerNorm", "output.LayerNorm" })
            {
                yield return ($"encoder.layer.{i}.{norm}.weight", [h]);
                yield return ($"encoder.layer.{i}.{norm}.bias", [h]);
            }
        }
        for (int i = 0; i < config.Layers; i++)
        {
            foreach (var (module, output, input) in new[] { ("attention.self.query", h, h), ("attention.self.key", h, h), ("attention.self.value", h, h),
                ("attention.output.dense", h, h), ("intermediate.dense", m, h), ("output.dense", h, m) })
            {
                yield return ($"encoder.layer.{i}.{module}.weight", [output, input]);
                yield return ($"encoder.layer.{i}.{module}.bias", [output]);
            }
        }
        if (pooler)
        {
            yield return ("pooler.dense.weight", [h, h]);
            yield return ("pooler.dense.bias", [h]);
        }
    }

    private void BuildGraph()
    {
        foreach (string name in new[] { "embeddings.word_embeddings.weight", "embeddings.position_embeddings.weight", "embeddings.token_type_embeddings.weight" })
            Named(name);
        Node("Gather", ["embeddings.word_embeddings.weight", "input_ids"], "words");
        Node("Gather", ["embeddings.token_type_embeddings.weight", "token_type_ids"], "types");
        Node("Add", ["words", "types"], "words_types");
        Node("Gather", ["embeddings.position_embeddings.weight", "position_ids"], "positions");
        Node("Add", ["words_types", "positions"], "embedded");
        string hidden = LayerNorm("embedded", "embeddings.LayerNorm");

        string heads = HeadConstant("heads", Config.Heads), headSize = HeadConstant("head_size", Config.HeadSize);
        for (int i = 0; i < Config.Layers; i++)
        {
            string prefix = $"encoder.layer.{i}";
            string value = "";
            foreach (string projection in new[] { "query", "key", "value" })
            {
                string projected = Linear(hidden, $"{prefix}.attention.self.{projection}");
                value = _headConstants
                    ? Node("Reshape", [projected, Node("Concat", ["batch", "sequence", heads, headSize], Fresh("shape"), OnnxMessages.IntAttribute("axis", 0))], Fresh("split"))
                    : projected;
            }
            string context = Node("Identity", [value], Fresh("context"));
            string attended = Node("Add", [Linear(context, $"{prefix}.attention.output.dense"), hidden], Fresh("residual"));
            string normed = LayerNorm(attended, $"{prefix}.attention.output.LayerNorm");
            string gelu = Gelu(Linear(normed, $"{prefix}.intermediate.dense"));
            string output = Node("Add", [Linear(gelu, $"{prefix}.output.dense"), normed], Fresh("residual"));
            hidden = LayerNorm(output, $"{prefix}.output.LayerNorm", i == Config.Layers - 1 ? "last_hidden_state" : null);
        }
        if (!_arctic)
        {
            string first = Node("Gather", [hidden, Constant(OnnxMessages.Int64Tensor("", [], [0]))], Fresh("cls"), OnnxMessages.IntAttribute("axis", 1));
            Named("pooler.dense.weight");
            Named("pooler.dense.bias");
            Node("Tanh", [Node("Gemm", [first, "pooler.dense.weight", "pooler.dense.bias"], Fresh("pooled"),
                OnnxMessages.FloatAttribute("alpha", 1f), OnnxMessages.FloatAttribute("beta", 1f), OnnxMessages.IntAttribute("transB", 1))], "pooler_output");
        }
    }

    // MatMul by the weight stored [in, out] under an exporter's name, then Add of the named bias (bias first, as torch writes it).
    private string Linear(string input, string module)
    {
        var (shape, data) = Parameters[$"{module}.weight"];
        string weight = _arctic ? $"onnx::MatMul_{_counter++}" : $"{_counter++}";
        OnnxNames[$"{module}.weight"] = weight;
        Initializers.Add((weight, OnnxMessages.FloatTensor(weight, [shape[1], shape[0]], Transpose(data, shape[0], shape[1]))));
        Named($"{module}.bias");
        string product = Node("MatMul", [input, weight], Fresh("product"));
        return Node("Add", [$"{module}.bias", product], Fresh("biased"));
    }

    private string LayerNorm(string input, string module, string? output = null)
    {
        Named($"{module}.weight");
        Named($"{module}.bias");
        output ??= Fresh("normed");
        if (_fusedLayerNorm)
            return Node("LayerNormalization", [input, $"{module}.weight", $"{module}.bias"], output, OnnxMessages.FloatAttribute("epsilon", Config.LayerNormEps), OnnxMessages.IntAttribute("axis", -1));
        string mean = Node("ReduceMean", [input], Fresh("mean"), OnnxMessages.IntsAttribute("axes", -1));
        string centered = Node("Sub", [input, mean], Fresh("centered"));
        string squared = Node("Pow", [centered, Constant(OnnxMessages.FloatTensor("", [], [2f]))], Fresh("squared"));
        string variance = Node("ReduceMean", [squared], Fresh("variance"), OnnxMessages.IntsAttribute("axes", -1));
        string shifted = Node("Add", [variance, Constant(OnnxMessages.FloatTensor("", [], [Config.LayerNormEps]))], Fresh("shifted"));
        string normalized = Node("Div", [centered, Node("Sqrt", [shifted], Fresh("deviation"))], Fresh("normalized"));
        return Node("Add", [Node("Mul", [normalized, $"{module}.weight"], Fresh("scaled")), $"{module}.bias"], output);
    }

    // 0.5 x (1 + erf(x / sqrt 2)), as torch exports the erf GELU.
    private string Gelu(string x)
    {
        string erf = Node("Erf", [Node("Div", [x, Constant(OnnxMessages.FloatTensor("", [], [MathF.Sqrt(2f)]))], Fresh("scaled"))], Fresh("erf"));
        string shifted = Node("Add", [erf, Constant(OnnxMessages.FloatTensor("", [], [1f]))], Fresh("shifted"));
        return Node("Mul", [Node("Mul", [x, shifted], Fresh("gated")), Constant(OnnxMessages.FloatTensor("", [], [0.5f]))], Fresh("gelu"));
    }

    private string HeadConstant(string name, int value)
    {
        if (_arctic)
            return Constant(OnnxMessages.Int64Tensor("", [1], [value]));
        Initializers.Add((name, OnnxMessages.Int64Tensor(name, [1], [value])));
        return name;
    }

    private string Constant(ProtoWriter tensor) => Node("Constant", [], Fresh("constant"), OnnxMessages.TensorAttribute("value", tensor));

    private void Named(string name)
    {
        var (shape, data) = Parameters[name];
        OnnxNames[name] = name;
        Initializers.Add((name, OnnxMessages.FloatTensor(name, shape, data)));
    }

    private string Node(string op, string[] inputs, string output, params ProtoWriter[] attributes)
    {
        Nodes.Add(OnnxMessages.Node(op, $"{op}_{Nodes.Count}", inputs, [output], attributes));
        return output;
    }

    private string Fresh(string stem) => $"{stem}_{_counter++}";

    // [rows, columns] -> [columns, rows]
    public static float[] Transpose(float[] matrix, int rows, int columns)
    {
        var result = new float[matrix.Length];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < columns; c++)
                result[c * rows + r] = matrix[r * columns + c];
        return result;
    }
}
