using System.Diagnostics;
using System.Text.Json;
using Engine.Io;
using Engine.Nn;

namespace Engine.Models;

/// <summary>Hyperparameters of SPLADE training.</summary>
public sealed record SpladeTrainingOptions
{
    /// <summary>Queries per step; each brings one relevant document (and one hard negative when enabled), and every query is scored against every document of the step.</summary>
    public int BatchSize { get; init; } = 32;
    /// <summary>Steps of the whole run (the end of the cosine learning-rate decay).</summary>
    public int TotalSteps { get; init; } = 300;
    /// <summary>Linear learning-rate warm-up steps.</summary>
    public int WarmupSteps { get; init; } = 30;
    /// <summary>Peak learning rate.</summary>
    public double LearningRate { get; init; } = 2e-4;
    /// <summary>Learning rate at the end of the cosine decay.</summary>
    public double MinLearningRate { get; init; } = 2e-5;
    /// <summary>Decoupled weight decay of the matrices (biases and LayerNorms take none).</summary>
    public double WeightDecay { get; init; } = 0.01;
    /// <summary>Global gradient-norm clip; 0 disables clipping.</summary>
    public float MaxGradNorm { get; init; } = 1f;
    /// <summary>lambda_q: weight of the FLOPs regularizer of the query vectors at full strength.</summary>
    public double LambdaQuery { get; init; } = 1e-3;
    /// <summary>lambda_d: weight of the FLOPs regularizer of the document vectors at full strength.</summary>
    public double LambdaDocument { get; init; } = 1e-3;
    /// <summary>T of the quadratic warm-up lambda_t = lambda * min(1, t / T)^2 (0: full strength from the start).</summary>
    public int RegularizerWarmupSteps { get; init; } = 100;
    /// <summary>Encoder layers trained from the top (0: only the head trains); the embeddings, and so the tied decoder, stay frozen.</summary>
    public int TunedLayers { get; init; } = 1;
    /// <summary>Whether each query also brings one hard negative (a highly ranked non-relevant document, e.g. from BM25).</summary>
    public bool HardNegatives { get; init; }
    /// <summary>Seed of the batch sampling.</summary>
    public ulong Seed { get; init; }
}

/// <summary>
/// Queries with their relevant documents for training: <see cref="Positives"/>[i] are indices into
/// <see cref="Documents"/> relevant to query i; <see cref="Negatives"/>[i], when given, are indices of
/// documents not relevant to it to draw hard negatives from.
/// </summary>
public sealed record SpladeTrainingData(IReadOnlyList<string> Queries, IReadOnlyList<int[]> Positives, IReadOnlyList<string> Documents, IReadOnlyList<int[]>? Negatives = null);

/// <summary>What one SPLADE training step did.</summary>
/// <param name="Step">The step's index (0-based).</param>
/// <param name="Loss">The total loss before the update.</param>
/// <param name="RankingLoss">The contrastive cross-entropy part.</param>
/// <param name="QueryFlops">The FLOPs regularizer of the query vectors (before its weight).</param>
/// <param name="DocumentFlops">The FLOPs regularizer of the document vectors (before its weight).</param>
/// <param name="QueryNonZeros">Mean non-zero entries per query vector.</param>
/// <param name="DocumentNonZeros">Mean non-zero entries per document vector.</param>
/// <param name="LearningRate">Learning rate used.</param>
/// <param name="LambdaQuery">lambda_q at this step (after the warm-up).</param>
/// <param name="LambdaDocument">lambda_d at this step (after the warm-up).</param>
/// <param name="Elapsed">Wall time of the step.</param>
public sealed record SpladeStepResult(int Step, float Loss, float RankingLoss, float QueryFlops, float DocumentFlops, double QueryNonZeros, double DocumentNonZeros,
    double LearningRate, double LambdaQuery, double LambdaDocument, TimeSpan Elapsed);

/// <summary>
/// Trains a <see cref="SpladeEncoder"/> for retrieval: each step scores a batch of queries against
/// their relevant documents (and hard negatives) by dot product, with in-batch negatives,
/// <code>
///   s_ij = w(q_i) . w(d_j)              [B, D]   (a document also relevant to q_i other than its own is masked out)
///   L = CE(s, i) + lambda_q(t) FLOPS(w(q)) + lambda_d(t) FLOPS(w(d)),   lambda(t) = lambda min(1, t/T)^2
///   FLOPS(w) = sum_j (mean_i |w_ij|)^2   (Paria et al. 2020)
/// </code>
/// then takes an AdamW step (warm-up + cosine learning rate, global gradient clipping). The head
/// and the top <see cref="SpladeTrainingOptions.TunedLayers"/> layers train; the states below them
/// come from a <see cref="SpladeStateCache"/>. The batch of step s depends only on (seed, s), so a
/// resumed run continues exactly as one that never stopped.
/// </summary>
public sealed class SpladeTrainer : IDisposable
{
    private readonly SpladeTrainingData _data;
    private readonly int[][] _queryTokens;
    private readonly int[][] _documentTokens;
    private readonly HashSet<int>[] _relevant;
    private readonly int[] _trainable;
    private readonly Dictionary<string, Tensor> _parameters;

    /// <summary>A trainer for <paramref name="model"/> on <paramref name="data"/>; the cache may be shared with other runs from the same pretrained weights.</summary>
    public SpladeTrainer(SpladeEncoder model, SpladeTrainingOptions options, SpladeTrainingData data, SpladeStateCache? cache = null)
    {
        int layers = model.Encoder.Config.Layers;
        if (options.BatchSize < 1 || options.TotalSteps < 1 || options.WarmupSteps < 0 || options.RegularizerWarmupSteps < 0
            || options.TunedLayers < 0 || options.TunedLayers > layers || options.LambdaQuery < 0 || options.LambdaDocument < 0)
            throw new ArgumentException($"SpladeTrainer: {options} is not a valid run for a {layers}-layer encoder.");
        if (data.Queries.Count != data.Positives.Count || (data.Negatives is { } n && n.Count != data.Queries.Count))
            throw new ArgumentException($"SpladeTrainer: {data.Queries.Count} queries need as many positive lists ({data.Positives.Count}) and negative lists ({data.Negatives?.Count.ToString() ?? "none"}).");
        if (options.HardNegatives && data.Negatives is null)
            throw new ArgumentException("SpladeTrainer: hard negatives were asked for but the data has no negative lists.");
        _trainable = Enumerable.Range(0, data.Queries.Count)
            .Where(i => data.Positives[i].Length > 0 && (!options.HardNegatives || data.Negatives![i].Length > 0)).ToArray();
        if (_trainable.Length == 0)
            throw new ArgumentException("SpladeTrainer: no query has a relevant document (and a negative, when asked for).");
        foreach (var list in data.Positives.Concat(data.Negatives ?? []))
            if (list.Any(d => d < 0 || d >= data.Documents.Count))
                throw new ArgumentException($"SpladeTrainer: a document index is outside the {data.Documents.Count} documents.");

        Model = model;
        Options = options;
        _data = data;
        Cache = cache ?? new SpladeStateCache(layers - options.TunedLayers);
        if (Cache.FirstTunedLayer != layers - options.TunedLayers)
            throw new ArgumentException($"SpladeTrainer: the cache holds the states entering layer {Cache.FirstTunedLayer}, but tuning {options.TunedLayers} of {layers} layers starts at layer {layers - options.TunedLayers}.");
        _queryTokens = data.Queries.Select(model.Tokenize).ToArray();
        _documentTokens = data.Documents.Select(model.Tokenize).ToArray();
        _relevant = data.Positives.Select(p => p.ToHashSet()).ToArray();

        _parameters = model.Parameters.ToDictionary(kv => kv.Key, kv => kv.Value);
        var trained = _parameters.Where(kv => IsTrained(kv.Key, layers)).OrderBy(kv => kv.Key, StringComparer.Ordinal).ToArray();
        foreach (var (_, p) in trained) p.RequiresGrad = true;
        var decays = trained.Where(kv => Decays(kv.Key)).Select(kv => kv.Value).ToHashSet(ReferenceEqualityComparer.Instance);
        Optimizer = new AdamW(trained.Select(kv => kv.Value),
            new AdamWOptions { LearningRate = options.LearningRate, WeightDecay = options.WeightDecay }, p => decays.Contains(p));
    }

    /// <summary>The model being trained.</summary>
    public SpladeEncoder Model { get; }
    /// <summary>The run's hyperparameters.</summary>
    public SpladeTrainingOptions Options { get; }
    /// <summary>The states below the tuned layers.</summary>
    public SpladeStateCache Cache { get; }
    /// <summary>The optimizer over the trained parameters.</summary>
    public AdamW Optimizer { get; }
    /// <summary>Steps completed.</summary>
    public int Step { get; private set; }

    /// <summary>lambda_t = lambda * min(1, t / T)^2, the quadratic warm-up of a regularizer weight (T = 0: lambda).</summary>
    public static double RegularizerWeight(double lambda, int step, int warmupSteps) =>
        warmupSteps == 0 ? lambda : lambda * Math.Pow(Math.Min(1.0, (double)step / warmupSteps), 2);

    /// <summary>The queries, relevant documents and hard negatives of step <paramref name="step"/>: a pure function of (seed, step).</summary>
    public (int[] Queries, int[] Positives, int[] Negatives) BatchOf(int step)
    {
        int batch = Math.Min(Options.BatchSize, _trainable.Length);
        long first = (long)step * batch;
        var queries = new int[batch];
        var positives = new int[batch];
        var negatives = Options.HardNegatives ? new int[batch] : [];
        for (int i = 0; i < batch; i++)
        {
            long slot = first + i;
            int epoch = (int)(slot / _trainable.Length);
            queries[i] = _trainable[Permutation(epoch)[(int)(slot % _trainable.Length)]];
            var pick = new Random(HashCode.Combine(Options.Seed, step, i));
            var relevant = _data.Positives[queries[i]];
            positives[i] = relevant[pick.Next(relevant.Length)];
            if (Options.HardNegatives)
            {
                var candidates = _data.Negatives![queries[i]];
                negatives[i] = candidates[pick.Next(candidates.Length)];
            }
        }
        return (queries, positives, negatives);
    }

    private readonly Dictionary<int, int[]> _permutations = [];

    private int[] Permutation(int epoch)
    {
        if (!_permutations.TryGetValue(epoch, out var order))
        {
            order = Enumerable.Range(0, _trainable.Length).ToArray();
            new Random(HashCode.Combine(Options.Seed, epoch, "epoch")).Shuffle(order);
            _permutations.Clear();
            _permutations[epoch] = order;
        }
        return order;
    }

    /// <summary>One step: the batch of <see cref="Step"/>, forward, backward, clipping, AdamW; then Step advances.</summary>
    /// <exception cref="NonFiniteException">The loss or the gradient norm is NaN or infinite.</exception>
    public SpladeStepResult TrainStep()
    {
        var clock = Stopwatch.StartNew();
        var (queries, positives, negatives) = BatchOf(Step);
        var documents = positives.Concat(negatives).ToArray();
        double lr = LearningRateSchedule.WarmupCosine(Step, Options.LearningRate, Options.MinLearningRate, Options.WarmupSteps, Options.TotalSteps);
        double lambdaQ = RegularizerWeight(Options.LambdaQuery, Step, Options.RegularizerWarmupSteps);
        double lambdaD = RegularizerWeight(Options.LambdaDocument, Step, Options.RegularizerWarmupSteps);

        var device = Model.Device;
        float loss, ranking, flopsQ, flopsD;
        double nnzQ, nnzD;
        using (var scope = device.Scope())
        {
            var wq = Model.Forward(queries.Select(q => _queryTokens[q]).ToArray(), Cache);
            var wd = Model.Forward(documents.Select(d => _documentTokens[d]).ToArray(), Cache);
            var scores = F.MatMul(wq, wd.Transpose(0, 1));
            var rankingLoss = F.CrossEntropy(scores + FalseNegativeMask(queries, documents), Tensor.FromArray(device, Enumerable.Range(0, queries.Length).ToArray()));
            var regQ = F.FlopsRegularizer(wq);
            var regD = F.FlopsRegularizer(wd);
            var total = rankingLoss + regQ * (float)lambdaQ + regD * (float)lambdaD;
            loss = total.Item();
            ranking = rankingLoss.Item();
            flopsQ = regQ.Item();
            flopsD = regD.Item();
            if (!float.IsFinite(loss))
                throw new NonFiniteException("loss", $"SPLADE training step {Step}: the loss is {loss} (ranking {ranking}, FLOPs q {flopsQ}, d {flopsD}).");
            nnzQ = NonZeros(wq);
            nnzD = NonZeros(wd);
            total.Backward();
        }

        float norm = GradClip.TotalNorm(Optimizer.Parameters);
        if (!float.IsFinite(norm))
            throw new NonFiniteException("gradient norm", $"SPLADE training step {Step}: the gradient norm is {norm}.");
        Optimizer.LearningRate = lr;
        Optimizer.Step(Options.MaxGradNorm > 0 ? GradClip.ClipFactor(norm, Options.MaxGradNorm) : 1f);
        Optimizer.ZeroGrad();
        var result = new SpladeStepResult(Step, loss, ranking, flopsQ, flopsD, nnzQ, nnzD, lr, lambdaQ, lambdaD, clock.Elapsed);
        Step++;
        return result;
    }

    /// <summary>-1e9 where document j is relevant to query i but is not its own positive (column i), else 0: [B, D].</summary>
    private Tensor FalseNegativeMask(int[] queries, int[] documents)
    {
        var mask = new float[queries.Length * documents.Length];
        for (int i = 0; i < queries.Length; i++)
            for (int j = 0; j < documents.Length; j++)
                if (j != i && _relevant[queries[i]].Contains(documents[j]))
                    mask[i * documents.Length + j] = -1e9f;
        return Tensor.FromArray(Model.Device, mask, [queries.Length, documents.Length]);
    }

    private static double NonZeros(Tensor w)
    {
        var values = w.ToArray();
        return (double)values.Count(v => v != 0) / w.Size(0);
    }

    /// <summary>Writes the whole model, the optimizer state, the step and the options to one safetensors file, atomically; <see cref="SpladeEncoder.Load"/> reads it as a model.</summary>
    public void SaveCheckpoint(string path)
    {
        var metadata = new Dictionary<string, string>(Model.Metadata()) { ["splade_training_options"] = JsonSerializer.Serialize(Options) };
        TrainingCheckpoint.Save(path, _parameters, Optimizer, Step, metadata);
    }

    /// <summary>Restores parameters, optimizer state and step from <see cref="SaveCheckpoint"/>'s file.</summary>
    public void LoadCheckpoint(string path) => Step = TrainingCheckpoint.Load(path, _parameters, Optimizer);

    private bool IsTrained(string name, int layers)
    {
        if (name.StartsWith("cls.", StringComparison.Ordinal)) return true;
        const string prefix = "encoder.layer.";
        if (!name.StartsWith(prefix, StringComparison.Ordinal)) return false;
        int dot = name.IndexOf('.', prefix.Length);
        return int.Parse(name.AsSpan(prefix.Length, dot - prefix.Length), System.Globalization.CultureInfo.InvariantCulture) >= layers - Options.TunedLayers;
    }

    private static bool Decays(string name) => name.EndsWith(".weight", StringComparison.Ordinal) && !name.Contains("LayerNorm", StringComparison.Ordinal);

    /// <summary>Frees the optimizer state.</summary>
    public void Dispose() => Optimizer.Dispose();
}
