using Engine.Models;
using Engine.Sparse;

namespace Engine.Tests;

// The SPLADE encoder on all-MiniLM-L6-v2 with a fresh head: the cached-state path against the
// whole forward, the limited output vocabulary against the full one, save/load, the state cache's
// file, and training (the ranking loss falls, a resumed run repeats an uninterrupted one bit for bit).
public sealed class SpladeTests : IDisposable
{
    private readonly Device _device = Device.Cpu();
    private readonly string _directory = Directory.CreateTempSubdirectory("splade-tests-").FullName;

    public void Dispose()
    {
        _device.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    private static readonly string[] Documents =
    [
        "The lion roared and hunted gazelles across the savanna.",
        "Fresh bread is baked in a hot oven every morning.",
        "The ship sailed across the stormy sea to a distant harbour.",
        "Gold and silver coins were counted in the royal treasury.",
        "The shepherd led his flock of sheep to green pastures.",
        "Heavy rain flooded the valley and the rivers overflowed.",
    ];

    private static readonly string[] Queries = ["a hunting lion", "baking bread", "a ship at sea", "treasure of gold", "sheep and a shepherd", "a flood"];

    private string PathOf(string name) => Path.Combine(_directory, name);

    private SpladeEncoder Model(IEnumerable<int>? outputIds = null, ulong seed = 3) =>
        SpladeEncoder.FromPretrained(_device, OnnxPackagedModel.MiniLM.AssemblyPath, maxTokens: 64, seed: seed, outputIds: outputIds);

    private static int[] WordPieces(SpladeEncoder model) =>
        Documents.Concat(Queries).SelectMany(model.Tokenize).Where(id => id is not (101 or 102)).Distinct().Order().ToArray();

    [Fact]
    public void Cached_states_give_the_whole_forward_below_any_tuned_layer()
    {
        using var model = Model();
        var sequences = Documents.Select(model.Tokenize).ToArray();
        using var scope = _device.Scope();
        using var noGrad = Autograd.NoGrad();
        var whole = model.Forward(sequences).ToArray();
        foreach (int first in new[] { 6, 5, 0 })
        {
            var cached = model.Forward(sequences, new SpladeStateCache(first)).ToArray();
            Accuracy.AssertClose(cached, whole.Select(v => (double)v).ToArray(), 1e-5, $"SPLADE vectors through a cache entering layer {first}");
        }
        Assert.Equal([sequences.Length, model.OutputSize], model.Forward(sequences).Shape.ToArray());
    }

    [Fact]
    public void A_limited_output_vocabulary_gives_the_full_vectors_restricted_to_it()
    {
        using var full = Model();
        var ids = WordPieces(full);
        using var limited = Model(ids);
        Assert.Equal(ids, limited.OutputIds);
        var wide = full.Encode(Documents);
        var narrow = limited.Encode(Documents);
        for (int r = 0; r < Documents.Length; r++)
        {
            var expected = wide.Row(r).ToDense(full.Vocabulary.Count);
            var actual = narrow.Row(r).ToDense(full.Vocabulary.Count);
            Assert.All(narrow.Row(r).Indices.ToArray(), id => Assert.Contains(id, ids));
            Accuracy.AssertClose(ids.Select(i => actual[i]).ToArray(), ids.Select(i => (double)expected[i]).ToArray(), 1e-5, $"document {r} on the limited vocabulary");
        }
    }

    [Fact]
    public void Saved_models_load_with_identical_vectors_and_corrupt_files_are_refused()
    {
        using var model = Model(WordPieces(Model()));
        string path = PathOf("model.safetensors");
        model.Save(path);
        using var loaded = SpladeEncoder.Load(_device, path);
        Assert.Equal(model.OutputIds, loaded.OutputIds);
        Assert.Equal(model.MaxTokens, loaded.MaxTokens);
        var before = model.Encode(Documents);
        var after = loaded.Encode(Documents);
        Assert.Equal(before.ColumnIndices.ToArray(), after.ColumnIndices.ToArray());
        Assert.Equal(before.Values.ToArray(), after.Values.ToArray());

        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(PathOf("truncated.safetensors"), bytes[..(bytes.Length / 2)]);
        Assert.Throws<InvalidDataException>(() => SpladeEncoder.Load(_device, PathOf("truncated.safetensors")));
        model.Encoder.Save(PathOf("bert-only.safetensors"));
        var e = Assert.Throws<InvalidDataException>(() => SpladeEncoder.Load(_device, PathOf("bert-only.safetensors")));
        Assert.Contains("metadata", e.Message);
    }

    [Fact]
    public void The_state_cache_round_trips_and_refuses_corrupt_files_and_other_weights()
    {
        using var model = Model();
        var sequences = Documents.Select(model.Tokenize).ToArray();
        var cache = new SpladeStateCache(5);
        var states = cache.Get(model, sequences);
        string path = PathOf("states.bin");
        cache.Save(path);
        var loaded = SpladeStateCache.Load(path);
        Assert.Equal(cache.Count, loaded.Count);
        Assert.Equal(5, loaded.FirstTunedLayer);
        var again = loaded.Get(model, sequences);
        for (int i = 0; i < sequences.Length; i++) Assert.Equal(states[i], again[i]);

        var bytes = File.ReadAllBytes(path);
        foreach (var (name, corrupt) in new[] { ("truncated", bytes[..(bytes.Length - 9)]), ("flipped", Flip(bytes, bytes.Length / 2)), ("magic", Flip(bytes, 0)) })
        {
            File.WriteAllBytes(PathOf(name), corrupt);
            Assert.Throws<InvalidDataException>(() => SpladeStateCache.Load(PathOf(name)));
        }

        using var other = Model();
        other.Encoder.Parameters["embeddings.LayerNorm.bias"].CopyFrom(Tensor.Full(_device, [384], 0.5f));
        var e = Assert.Throws<ArgumentException>(() => loaded.Get(other, sequences));
        Assert.Contains("frozen weights", e.Message);
    }

    private static byte[] Flip(byte[] bytes, int at)
    {
        var copy = bytes.ToArray();
        copy[at] ^= 0x10;
        return copy;
    }

    [Fact]
    public void The_regularizer_weight_warms_up_quadratically()
    {
        Assert.Equal(0, SpladeTrainer.RegularizerWeight(0.4, 0, 10));
        Assert.Equal(0.4 * 0.25, SpladeTrainer.RegularizerWeight(0.4, 5, 10), 12);
        Assert.Equal(0.4, SpladeTrainer.RegularizerWeight(0.4, 10, 10));
        Assert.Equal(0.4, SpladeTrainer.RegularizerWeight(0.4, 50, 10));
        Assert.Equal(0.4, SpladeTrainer.RegularizerWeight(0.4, 0, 0));
    }

    private static SpladeTrainingData Data => new(Queries, Enumerable.Range(0, Queries.Length).Select(i => new[] { i }).ToArray(), Documents);

    private static readonly SpladeTrainingOptions Options = new()
    {
        BatchSize = 4, TotalSteps = 16, WarmupSteps = 2, LearningRate = 3e-3, MinLearningRate = 3e-4,
        LambdaQuery = 0.01, LambdaDocument = 0.01, RegularizerWarmupSteps = 8, TunedLayers = 1, Seed = 5,
    };

    [Fact]
    public void Training_lowers_the_ranking_loss_and_a_resumed_run_repeats_an_uninterrupted_one()
    {
        using var first = Model();
        var ids = WordPieces(first);
        var cache = new SpladeStateCache(5);

        using var straightModel = Model(ids);
        using var straight = new SpladeTrainer(straightModel, Options, Data, cache);
        var losses = Enumerable.Range(0, Options.TotalSteps).Select(_ => straight.TrainStep()).ToArray();
        Assert.All(losses, r => Assert.True(float.IsFinite(r.Loss)));
        Assert.True(losses[^4..].Average(r => r.RankingLoss) < losses[..4].Average(r => r.RankingLoss) - 0.1,
            $"ranking loss {string.Join(", ", losses.Select(r => r.RankingLoss.ToString("F3")))}");
        Assert.Equal(Options.LambdaDocument, losses[^1].LambdaDocument);

        string checkpoint = PathOf("checkpoint.safetensors");
        using (var partModel = Model(ids))
        using (var part = new SpladeTrainer(partModel, Options, Data, cache))
        {
            for (int s = 0; s < 7; s++) part.TrainStep();
            part.SaveCheckpoint(checkpoint);
        }
        using var resumedModel = SpladeEncoder.Load(_device, checkpoint);
        using var resumed = new SpladeTrainer(resumedModel, Options, Data, cache);
        resumed.LoadCheckpoint(checkpoint);
        Assert.Equal(7, resumed.Step);
        for (int s = 7; s < Options.TotalSteps; s++)
            Assert.Equal(losses[s].Loss, resumed.TrainStep().Loss);
    }

    [Fact]
    public void Head_pretraining_teaches_the_head_to_name_the_tokens()
    {
        using var model = Model(WordPieces(Model()));
        var cache = new SpladeStateCache(6);
        using var pretrainer = new SpladeHeadPretrainer(model, cache, Documents, textsPerStep: 6, learningRate: 3e-3, seed: 1);
        var losses = Enumerable.Range(0, 25).Select(_ => pretrainer.TrainStep()).ToArray();
        Assert.True(losses[^1] < losses[0] / 2, $"cross-entropy {string.Join(", ", losses.Select(l => l.ToString("F3")))}");

        // Calibrated to about one positive logit per token, a document's vector is about its own word
        // pieces, and they carry its largest weights.
        pretrainer.CalibrateBias(positivesPerToken: 1);
        var vector = model.Encode(Documents[1]);
        var own = model.Tokenize(Documents[1]).ToHashSet();
        Assert.InRange(vector.NonZeros, 1, 2 * own.Count);
        var top = Enumerable.Range(0, vector.NonZeros).OrderByDescending(i => vector.Values[i]).Take(3).Select(i => vector.Indices[i]);
        Assert.All(top, id => Assert.Contains(id, own));
    }

    [Fact]
    public void Bad_training_input_is_named()
    {
        using var model = Model(WordPieces(Model()));
        Assert.Throws<ArgumentException>(() => new SpladeTrainer(model, Options with { TunedLayers = 7 }, Data));
        Assert.Throws<ArgumentException>(() => new SpladeTrainer(model, Options, Data with { Positives = [[0], [99]] }));
        Assert.Throws<ArgumentException>(() => new SpladeTrainer(model, Options with { HardNegatives = true }, Data));
        var e = Assert.Throws<ArgumentException>(() => new SpladeTrainer(model, Options, Data, new SpladeStateCache(2)));
        Assert.Contains("layer", e.Message);
        using var scope = _device.Scope();
        Assert.Throws<ArgumentException>(() => model.Pool(Tensor.Zeros(_device, [2, 3, 384]), [3, 4]));
    }
}
