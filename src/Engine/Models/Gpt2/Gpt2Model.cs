namespace Engine.Models;

/// <summary>
/// A GPT-2-style decoder for training and generation: token + position embeddings, pre-LayerNorm
/// blocks (causal self-attention, tanh-GELU MLP), a final layer norm and an LM head tied to the
/// token embedding. Parameters carry Hugging Face's GPT-2 names (<c>h.0.attn.c_attn.weight</c> ...)
/// with Conv1D weights stored [in, out]. Every parameter requires a gradient.
/// </summary>
public sealed class Gpt2Model : IDisposable
{
    private const string ConfigKey = "gpt2_config";
    private readonly Dictionary<string, Tensor> _parameters;

    private Gpt2Model(Device device, Gpt2Config config, Dictionary<string, Tensor> parameters)
    {
        Device = device;
        Config = config;
        _parameters = parameters;
    }

    /// <summary>The device holding the weights.</summary>
    public Device Device { get; }

    /// <summary>The model's shape.</summary>
    public Gpt2Config Config { get; }

    /// <summary>Every parameter by its Hugging Face name, in GPT2Model's order.</summary>
    public IReadOnlyDictionary<string, Tensor> Parameters => _parameters;

    /// <summary>Number of parameter values (the tied LM head counted once).</summary>
    public long ParameterCount => _parameters.Values.Sum(p => p.Count);

    /// <summary>
    /// A freshly initialised model, as GPT-2 initialises: weights ~ N(0, 0.02), the residual
    /// projections (<c>c_proj</c>) ~ N(0, 0.02 / sqrt(2 * layers)), biases 0, layer norm gains 1.
    /// The same seed gives the same weights on every device.
    /// </summary>
    public static Gpt2Model Create(Device device, Gpt2Config config, ulong seed = 0)
    {
        config.Validate();
        float projectionStd = 0.02f / MathF.Sqrt(2f * config.Layers);
        ulong index = 0;
        return Build(device, config, (name, shape) =>
        {
            ulong parameterSeed = seed * 1_000_003UL + index++;
            var values = new float[ShapeMath.Count(shape)];
            if (name.EndsWith(".bias", StringComparison.Ordinal)) return values;
            if (name.Contains("ln_", StringComparison.Ordinal))
            {
                Array.Fill(values, 1f);
                return values;
            }
            float std = name.EndsWith("c_proj.weight", StringComparison.Ordinal) ? projectionStd : 0.02f;
            CounterRandom.FillNormal(values, parameterSeed, 0f, std);
            return values;
        });
    }

    /// <summary>A model from host weights by Hugging Face name; every parameter must be present with its exact shape.</summary>
    public static Gpt2Model FromWeights(Device device, Gpt2Config config, Func<string, (float[] Data, int[] Shape)?> weights)
    {
        config.Validate();
        return Build(device, config, (name, shape) =>
        {
            var found = weights(name) ?? throw new ArgumentException($"Gpt2Model: parameter '{name}' {ShapeMath.Format(shape)} is missing.");
            if (!found.Shape.AsSpan().SequenceEqual(shape))
                throw new ArgumentException($"Gpt2Model: parameter '{name}' has shape {ShapeMath.Format(found.Shape)}, expected {ShapeMath.Format(shape)}.");
            return found.Data;
        });
    }

    private static Gpt2Model Build(Device device, Gpt2Config config, Func<string, int[], float[]> values)
    {
        var parameters = new Dictionary<string, Tensor>();
        try
        {
            using var suspend = TensorScope.Suspend();
            foreach (var (name, shape) in Gpt2Names.Parameters(config))
            {
                var p = Tensor.FromArray(device, values(name, shape), shape);
                p.RequiresGrad = true;
                parameters[name] = p;
            }
        }
        catch
        {
            foreach (var t in parameters.Values) t.Dispose();
            throw;
        }
        return new Gpt2Model(device, config, parameters);
    }

    /// <summary>Whether a parameter takes weight decay (matrices do; biases and layer norm parameters do not).</summary>
    public static bool Decays(string name) => Gpt2Names.Decays(name);

    private Tensor P(string name) => _parameters[name];

    /// <summary>
    /// Logits [B, T, vocab] for int32 token ids [B, T]. With a <paramref name="cache"/>, the ids
    /// continue the sequence the cache holds (positions start at its length) and their keys and
    /// values are appended to it.
    /// </summary>
    /// <exception cref="ArgumentException">The ids are not [B, T] int32, an id is outside the vocabulary, or the sequence exceeds the context.</exception>
    public Tensor Forward(Tensor ids, Gpt2KvCache? cache = null)
    {
        const string op = "Gpt2Model.Forward";
        if (ids.Rank != 2 || ids.DType != DType.Int32)
            throw new ArgumentException($"{op}: token ids {ShapeMath.Format(ids.Shape)} ({ids.DType}) must be int32 [batch, tokens].");
        int batch = ids.Size(0), tokens = ids.Size(1);
        int past = cache?.Length ?? 0;
        if (past + tokens > Config.MaxSequence)
            throw new ArgumentException($"{op}: {past + tokens} tokens ({past} cached + {tokens} new) exceed the context of {Config.MaxSequence} positions.");
        if (cache is not null && (cache.Batch != batch || cache.Capacity < past + tokens))
            throw new ArgumentException($"{op}: the cache holds batch {cache.Batch} and {cache.Capacity} positions; ids are {ShapeMath.Format(ids.Shape)} after {past} cached.");
        var values = ids.ToInt32Array();
        for (int i = 0; i < values.Length; i++)
            if ((uint)values[i] >= (uint)Config.VocabSize)
                throw new ArgumentException($"{op}: token id {values[i]} at [{i / Math.Max(tokens, 1)}, {i % Math.Max(tokens, 1)}] is outside the vocabulary of {Config.VocabSize}.");

        using var scope = Device.Scope();
        var positions = Tensor.FromArray(Device, Enumerable.Range(past, tokens).ToArray());
        var x = F.Embedding(P("wte.weight"), ids) + F.Embedding(P("wpe.weight"), positions);
        for (int i = 0; i < Config.Layers; i++)
            x = Block(x, i, cache);
        x = F.LayerNorm(x, P("ln_f.weight"), P("ln_f.bias"), Config.LayerNormEps);
        var logits = F.Linear(x, P("wte.weight"));
        cache?.Advance(tokens);
        return scope.Keep(logits);
    }

    /// <summary>Mean cross-entropy of the next-token predictions for ids [B, T] against int32 targets [B, T] (a 0-D tensor).</summary>
    public Tensor Loss(Tensor ids, Tensor targets)
    {
        if (!targets.Shape.SequenceEqual(ids.Shape))
            throw new ArgumentException($"Gpt2Model.Loss: targets {ShapeMath.Format(targets.Shape)} must match ids {ShapeMath.Format(ids.Shape)}.");
        using var scope = Device.Scope();
        var logits = Forward(ids);
        var loss = F.CrossEntropy(logits.Reshape(-1, Config.VocabSize), targets.Reshape(-1));
        return scope.Keep(loss);
    }

    private Tensor Block(Tensor x, int layer, Gpt2KvCache? cache)
    {
        string p = $"h.{layer}.";
        int batch = x.Size(0), tokens = x.Size(1), channels = Config.Channels, heads = Config.Heads, headSize = Config.HeadSize;
        Tensor Heads(Tensor t) => t.Reshape(batch, tokens, heads, headSize).Permute(0, 2, 1, 3);   // [B, H, T, D]

        var h = F.LayerNorm(x, P(p + "ln_1.weight"), P(p + "ln_1.bias"), Config.LayerNormEps);
        var qkv = F.MatMul(h, P(p + "attn.c_attn.weight"), P(p + "attn.c_attn.bias"));       // [B, T, 3C]
        var q = Heads(qkv.Narrow(-1, 0, channels));
        var k = Heads(qkv.Narrow(-1, channels, channels));
        var v = Heads(qkv.Narrow(-1, 2 * channels, channels));
        if (cache is not null)
            (k, v) = cache.Append(layer, k, v);
        var attended = F.ScaledDotProductAttention(q, k, v, causal: true);                   // [B, H, T, D]
        var merged = attended.Permute(0, 2, 1, 3).Reshape(batch, tokens, channels);
        x = x + F.MatMul(merged, P(p + "attn.c_proj.weight"), P(p + "attn.c_proj.bias"));

        h = F.LayerNorm(x, P(p + "ln_2.weight"), P(p + "ln_2.bias"), Config.LayerNormEps);
        var hidden = F.MatMul(h, P(p + "mlp.c_fc.weight"), P(p + "mlp.c_fc.bias")).Gelu(GeluApproximation.Tanh);
        return x + F.MatMul(hidden, P(p + "mlp.c_proj.weight"), P(p + "mlp.c_proj.bias"));
    }

    /// <summary>Writes the weights (Hugging Face names) to a safetensors file atomically, with the config in its metadata.</summary>
    public void Save(string path, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var all = new Dictionary<string, string>(metadata ?? new Dictionary<string, string>())
        {
            [ConfigKey] = System.Text.Json.JsonSerializer.Serialize(Config),
        };
        Io.SafeTensors.Save(path, _parameters, all);
    }

    /// <summary>A model from a safetensors file written by <see cref="Save"/> or a training checkpoint.</summary>
    /// <exception cref="InvalidDataException">The file is corrupt, lacks the config, or a parameter is missing or misshapen.</exception>
    public static Gpt2Model Load(Device device, string path)
    {
        using var file = Io.SafeTensors.Open(path);
        return Load(device, file, path);
    }

    internal static Gpt2Model Load(Device device, Io.SafeTensorsFile file, string path)
    {
        var config = ReadConfig(file, path);
        try
        {
            return FromWeights(device, config, name => file.Contains(name) ? (file.ReadFloats(name), file.Info(name).Shape.ToArray()) : null);
        }
        catch (ArgumentException e)
        {
            throw new InvalidDataException($"{path}: {e.Message}", e);
        }
    }

    /// <summary>The model config stored in a file written by <see cref="Save"/> or a GPT-2 training checkpoint.</summary>
    /// <exception cref="InvalidDataException">The file is corrupt or holds no valid config.</exception>
    public static Gpt2Config ReadConfig(string path)
    {
        using var file = Io.SafeTensors.Open(path);
        return ReadConfig(file, path);
    }

    internal static Gpt2Config ReadConfig(Io.SafeTensorsFile file, string path)
    {
        if (!file.Metadata.TryGetValue(ConfigKey, out var json))
            throw new InvalidDataException($"{path}: no '{ConfigKey}' metadata; the file was not written by Gpt2Model.Save or a GPT-2 checkpoint.");
        Gpt2Config? config;
        try
        {
            config = System.Text.Json.JsonSerializer.Deserialize<Gpt2Config>(json);
        }
        catch (System.Text.Json.JsonException e)
        {
            throw new InvalidDataException($"{path}: '{ConfigKey}' metadata is not a valid config: {e.Message}", e);
        }
        if (config is null)
            throw new InvalidDataException($"{path}: '{ConfigKey}' metadata is null.");
        try
        {
            config.Validate();
        }
        catch (ArgumentException e)
        {
            throw new InvalidDataException($"{path}: {e.Message}", e);
        }
        return config;
    }

    /// <summary>Frees the weights and their gradients.</summary>
    public void Dispose()
    {
        foreach (var t in _parameters.Values) t.Dispose();
    }
}
