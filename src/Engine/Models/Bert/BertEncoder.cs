namespace Engine.Models;

/// <summary>
/// A BERT encoder for inference (post-LayerNorm blocks, erf GELU), computing Hugging Face's
/// last_hidden_state. Parameters use Hugging Face's names, Linear weights stored [out, in]:
/// <c>embeddings.word_embeddings.weight</c>, <c>encoder.layer.{i}.attention.self.query.weight</c>, ...
/// The model is immutable once built: Forward may be called from many threads at once.
/// </summary>
public sealed class BertEncoder : IDisposable
{
    private readonly Dictionary<string, Tensor> _parameters;
    /// <summary>The attention output and feed-forward weights of every layer packed once for the matrix product, by weight name.</summary>
    private readonly Dictionary<string, PackedWeight> _packed;
    /// <summary>Each layer's query, key and value projections as one.</summary>
    private readonly FusedProjection[] _queryKeyValue;

    private BertEncoder(Device device, BertConfig config, Dictionary<string, Tensor> parameters)
    {
        Device = device;
        Config = config;
        _parameters = parameters;
        _packed = parameters.Where(kv => kv.Key.StartsWith("encoder.layer.", StringComparison.Ordinal) && kv.Value.Rank == 2
                && !kv.Key.Contains(".attention.self.", StringComparison.Ordinal))
            .ToDictionary(kv => kv.Key, kv => PackedWeight.Pack(kv.Value));
        _queryKeyValue = Enumerable.Range(0, config.Layers)
            .Select(i => new FusedProjection(device, ["query", "key", "value"], name => parameters[$"encoder.layer.{i}.attention.self.{name}"]))
            .ToArray();
    }

    /// <summary>The device holding the weights.</summary>
    public Device Device { get; }

    /// <summary>The model's shape.</summary>
    public BertConfig Config { get; }

    /// <summary>Every parameter by its Hugging Face name.</summary>
    public IReadOnlyDictionary<string, Tensor> Parameters => _parameters;

    /// <summary>
    /// Builds the encoder on <paramref name="device"/> from host weights by Hugging Face name.
    /// Every expected parameter must be present with its exact shape; extra entries (a pooler) are ignored.
    /// </summary>
    public static BertEncoder Create(Device device, BertConfig config, Func<string, (float[] Data, int[] Shape)?> weights)
    {
        if (config.Heads <= 0 || config.Hidden % config.Heads != 0)
            throw new ArgumentException($"BertEncoder: hidden size {config.Hidden} is not divisible by {config.Heads} heads.");
        var parameters = new Dictionary<string, Tensor>();
        try
        {
            foreach (var (name, shape) in BertNames.Parameters(config, pooler: false))
            {
                var found = weights(name) ?? throw new ArgumentException($"BertEncoder: parameter '{name}' {ShapeMath.Format(shape)} is missing.");
                if (!found.Shape.AsSpan().SequenceEqual(shape))
                    throw new ArgumentException($"BertEncoder: parameter '{name}' has shape {ShapeMath.Format(found.Shape)}, expected {ShapeMath.Format(shape)}.");
                using (TensorScope.Suspend())
                    parameters[name] = Tensor.FromArray(device, found.Data, shape);
            }
        }
        catch
        {
            foreach (var t in parameters.Values) t.Dispose();
            throw;
        }
        return new BertEncoder(device, config, parameters);
    }

    /// <summary>
    /// Writes the weights to a safetensors file (atomically) with the config in its metadata
    /// under "bert_config" (JSON), so <see cref="Load"/> can rebuild the encoder from the file alone.
    /// </summary>
    public void Save(string path) =>
        Io.SafeTensors.Save(path, _parameters, new Dictionary<string, string> { ["bert_config"] = System.Text.Json.JsonSerializer.Serialize(Config) });

    /// <summary>An encoder from a safetensors file written by <see cref="Save"/> (or any file with Hugging Face BERT names plus that metadata).</summary>
    public static BertEncoder Load(Device device, string path)
    {
        using var file = Io.SafeTensors.Open(path);
        if (!file.Metadata.TryGetValue("bert_config", out var json))
            throw new InvalidDataException($"{path}: no 'bert_config' metadata; the file was not written by BertEncoder.Save.");
        BertConfig config;
        try
        {
            config = System.Text.Json.JsonSerializer.Deserialize<BertConfig>(json)
                ?? throw new InvalidDataException($"{path}: 'bert_config' metadata is null.");
        }
        catch (System.Text.Json.JsonException e)
        {
            throw new InvalidDataException($"{path}: 'bert_config' metadata is not a valid config: {e.Message}", e);
        }
        if (config.Hidden <= 0 || config.Heads <= 0 || config.Layers < 0 || config.VocabSize <= 0 || config.MaxPositions <= 0)
            throw new InvalidDataException($"{path}: 'bert_config' metadata describes an impossible model: {config}.");
        try
        {
            return Create(device, config, name => file.Contains(name) ? (file.ReadFloats(name), file.Info(name).Shape.ToArray()) : null);
        }
        catch (ArgumentException e)
        {
            throw new InvalidDataException($"{path}: {e.Message}", e);
        }
    }

    private Tensor P(string name) => _parameters[name];

    /// <summary>Linear layer <paramref name="name"/> (a prefix such as "encoder.layer.0.intermediate.dense") through its packed weight.</summary>
    private Tensor Linear(Tensor x, string name) => F.Linear(x, _packed[name + ".weight"], P(name + ".bias"));

    /// <summary>
    /// last_hidden_state [B, T, hidden] for int32 token ids [B, T], an int32 attention mask [B, T]
    /// (1 = token, 0 = padding) and optional int32 token type ids [B, T] (default all 0).
    /// </summary>
    public Tensor Forward(Tensor inputIds, Tensor attentionMask, Tensor? tokenTypeIds = null)
    {
        const string op = "BertEncoder.Forward";
        if (inputIds.Rank != 2)
            throw new ArgumentException($"{op}: input ids {ShapeMath.Format(inputIds.Shape)} must be [batch, tokens].");
        int batch = inputIds.Size(0), tokens = inputIds.Size(1);
        if (!attentionMask.Shape.SequenceEqual(inputIds.Shape) || (tokenTypeIds is not null && !tokenTypeIds.Shape.SequenceEqual(inputIds.Shape)))
            throw new ArgumentException($"{op}: attention mask {ShapeMath.Format(attentionMask.Shape)} and token types {(tokenTypeIds is null ? "(none)" : ShapeMath.Format(tokenTypeIds.Shape))} must match input ids {ShapeMath.Format(inputIds.Shape)}.");
        if (tokens > Config.MaxPositions)
            throw new ArgumentException($"{op}: {tokens} tokens exceed the model's {Config.MaxPositions} positions (input ids {ShapeMath.Format(inputIds.Shape)}).");

        using var scope = Device.Scope();
        var embeddings = Embeddings(inputIds, tokenTypeIds);
        return scope.Keep(Config.Layers == 0 ? embeddings : Layers(embeddings, attentionMask, 0, Config.Layers));
    }

    /// <summary>
    /// The embedding block's output [B, T, hidden]: word + position + token-type embeddings, then
    /// LayerNorm, for int32 token ids [B, T] and optional token type ids [B, T] (default all 0).
    /// </summary>
    public Tensor Embeddings(Tensor inputIds, Tensor? tokenTypeIds = null)
    {
        if (inputIds.Rank != 2 || inputIds.Size(1) > Config.MaxPositions || (tokenTypeIds is not null && !tokenTypeIds.Shape.SequenceEqual(inputIds.Shape)))
            throw new ArgumentException($"BertEncoder.Embeddings: input ids {ShapeMath.Format(inputIds.Shape)} must be [batch, tokens] with at most {Config.MaxPositions} tokens, and token types {(tokenTypeIds is null ? "(none)" : ShapeMath.Format(tokenTypeIds.Shape))} the same shape.");
        int batch = inputIds.Size(0), tokens = inputIds.Size(1);
        using var scope = Device.Scope();
        var positions = Tensor.FromArray(Device, Enumerable.Range(0, tokens).ToArray());
        var types = tokenTypeIds ?? Tensor.Zeros(Device, [batch, tokens], DType.Int32);
        var x = F.Embedding(P("embeddings.word_embeddings.weight"), inputIds)
              + F.Embedding(P("embeddings.position_embeddings.weight"), positions)
              + F.Embedding(P("embeddings.token_type_embeddings.weight"), types);
        return scope.Keep(F.LayerNorm(x, P("embeddings.LayerNorm.weight"), P("embeddings.LayerNorm.bias"), Config.LayerNormEps));
    }

    /// <summary>
    /// Runs <paramref name="count"/> (at least one) transformer layers starting at layer <paramref name="first"/> on
    /// hidden states [B, T, hidden] (the embeddings' output, or layer first - 1's), under the int32
    /// attention mask [B, T] (1 = token, 0 = padding). A model trained from some layer up runs the
    /// layers below once and this for the rest.
    /// </summary>
    public Tensor Layers(Tensor hidden, Tensor attentionMask, int first, int count)
    {
        if (hidden.Rank != 3 || hidden.Size(2) != Config.Hidden || attentionMask.Rank != 2 || attentionMask.Size(0) != hidden.Size(0) || attentionMask.Size(1) != hidden.Size(1))
            throw new ArgumentException($"BertEncoder.Layers: hidden {ShapeMath.Format(hidden.Shape)} must be [B, T, {Config.Hidden}] and the attention mask {ShapeMath.Format(attentionMask.Shape)} [B, T].");
        if (first < 0 || count < 1 || first + count > Config.Layers)
            throw new ArgumentException($"BertEncoder.Layers: layers {first} to {first + count - 1} are outside the model's {Config.Layers}.");
        int batch = hidden.Size(0), tokens = hidden.Size(1);
        using var scope = Device.Scope();
        // Additive mask over keys, [B, 1, 1, T]: 0 for tokens, a large negative number for padding
        // (not -inf, so a row is never all -inf; its softmax weight underflows to exactly 0).
        // The mask is B x T small integers, so it is turned into floats on the host. Without
        // padding there is no mask at all: attention then adds nothing to its scores.
        var keep = attentionMask.ToInt32Array();
        var keyBias = keep.Contains(0)
            ? Tensor.FromArray(Device, keep.Select(m => m == 0 ? -1e9f : 0f).ToArray(), [batch, 1, 1, tokens])
            : null;
        var x = hidden;
        for (int i = first; i < first + count; i++)
            x = Layer(x, keyBias, i);
        return scope.Keep(x);
    }

    private Tensor Layer(Tensor x, Tensor? keyBias, int layer)
    {
        string p = $"encoder.layer.{layer}.";
        int batch = x.Size(0), tokens = x.Size(1), heads = Config.Heads, headSize = Config.HeadSize;
        // One projection on its own, split into heads: [B, H, T, D].
        Tensor Heads(string name) =>
            F.Linear(x, P(p + name + ".weight"), P(p + name + ".bias")).Reshape(batch, tokens, heads, headSize).Permute(0, 2, 1, 3);

        Tensor q, k, v;
        var fused = _queryKeyValue[layer];
        if (fused.IsCurrent)
        {
            var qkv = F.Linear(x, fused.Weight, fused.Bias)                                      // [B, T, 3 * hidden]
                .Reshape(batch, tokens, 3, heads, headSize).Permute(2, 0, 3, 1, 4);             // [3, B, H, T, D]
            (q, k, v) = (qkv.Narrow(0, 0, 1).Squeeze(0), qkv.Narrow(0, 1, 1).Squeeze(0), qkv.Narrow(0, 2, 1).Squeeze(0));
        }
        else
        {
            (q, k, v) = (Heads("attention.self.query"), Heads("attention.self.key"), Heads("attention.self.value"));
        }
        var context = F.ScaledDotProductAttention(q, k, v, mask: keyBias)                      // [B, H, T, D]
            .Permute(0, 2, 1, 3).Reshape(batch, tokens, Config.Hidden);
        var attention = Linear(context, p + "attention.output.dense");
        x = F.LayerNorm(x + attention, P(p + "attention.output.LayerNorm.weight"), P(p + "attention.output.LayerNorm.bias"), Config.LayerNormEps);

        var hidden = Linear(x, p + "intermediate.dense").Gelu(GeluApproximation.None);
        var output = Linear(hidden, p + "output.dense");
        return F.LayerNorm(x + output, P(p + "output.LayerNorm.weight"), P(p + "output.LayerNorm.bias"), Config.LayerNormEps);
    }

    /// <summary>Token id sequences padded on the right to the longest: int32 ids and mask [B, T].</summary>
    internal static (Tensor Ids, Tensor Mask) Pad(Device device, IReadOnlyList<int[]> sequences)
    {
        int batch = sequences.Count, tokens = sequences.Max(s => s.Length);
        var ids = new int[batch * tokens];
        var mask = new int[batch * tokens];
        for (int b = 0; b < batch; b++)
            for (int t = 0; t < sequences[b].Length; t++)
            {
                ids[b * tokens + t] = sequences[b][t];
                mask[b * tokens + t] = 1;
            }
        return (Tensor.FromArray(device, ids, [batch, tokens]), Tensor.FromArray(device, mask, [batch, tokens]));
    }

    /// <summary>Frees the weights.</summary>
    public void Dispose()
    {
        foreach (var w in _packed.Values) w.Dispose();
        foreach (var f in _queryKeyValue) f.Dispose();
        foreach (var t in _parameters.Values) t.Dispose();
    }
}
