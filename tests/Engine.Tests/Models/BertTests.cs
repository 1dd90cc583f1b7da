namespace Engine.Tests;

// The BERT encoder on pretrained weights against ONNX Runtime running the same model.onnx:
// last_hidden_state within 1e-4 relative (float32 through 6 layers; different summation orders
// in matmul and layer norm), on varied inputs and on padded mixed-length batches.
public abstract class BertSuite<TFixture>(TFixture model) : IClassFixture<TFixture> where TFixture : BertFixture
{
    private const double Bound = 1e-4;

    public static readonly string[] Texts =
    [
        "",
        "hello",
        "The quick brown fox jumps over the lazy dog.",
        "Call me Ishmael. Some years ago—never mind how long precisely—having little or no money in my purse.",
        "naïve café résumé coöperate",
        "東京は日本の首都です。",
        "Привет, как дела?",
        "emoji 🙂 and symbols ∑ ∫ √ ≠",
        "UPPER lower MiXeD CaSe",
        "1234567890 3.14159 -42 1e-10",
        "punctuation!!! ??? ... ;;; ---",
        "a",
        "   leading and trailing spaces   ",
        "tabs\tand\nnewlines\r\nmixed",
        "supercalifragilisticexpialidocious antidisestablishmentarianism",
        "The FLOPs regularizer learns sparse representations for retrieval.",
        "def f(x): return x ** 2  # code",
        "https://example.com/path?query=1&b=2",
        "مرحبا بالعالم",
        string.Join(" ", Enumerable.Repeat("whale", 40)),
        string.Join(" ", Enumerable.Range(0, 700).Select(i => $"word{i % 50}")),
    ];

    [Fact]
    public void Last_hidden_state_matches_onnx_runtime_on_each_text()
    {
        foreach (var text in Texts)
        {
            var ids = model.Encoder.Tokenize(text);
            using var ours = model.Encoder.LastHiddenState([ids]);
            var reference = model.Reference([ids], out _);
            var error = Accuracy.RelativeError(ours.ToArray(), reference.Select(v => (double)v).ToArray());
            Assert.True(error <= Bound, $"'{Shorten(text)}' ({ids.Length} tokens): relative error {error:E3}");
        }
    }

    [Fact]
    public void Last_hidden_state_matches_onnx_runtime_on_a_padded_batch()
    {
        var batch = Texts.Take(12).Select(model.Encoder.Tokenize).ToArray();
        using var ours = model.Encoder.LastHiddenState(batch);
        var reference = model.Reference(batch, out int tokens);
        var actual = ours.ToArray();
        int width = model.Encoder.Encoder.Config.Hidden;
        // Padding positions are not part of the contract; compare the real tokens of each row.
        for (int b = 0; b < batch.Length; b++)
        {
            int span = batch[b].Length * width, start = b * tokens * width;
            var error = Accuracy.RelativeError(actual.AsSpan(start, span), reference.Skip(start).Take(span).Select(v => (double)v).ToArray());
            Assert.True(error <= Bound, $"row {b} ({batch[b].Length} tokens): relative error {error:E3}");
        }
    }

    [Fact]
    public void Long_texts_are_truncated_to_the_model_positions()
    {
        var ids = model.Encoder.Tokenize(Texts[^1]);
        Assert.Equal(model.Encoder.MaxTokens, ids.Length);
        Assert.Equal(ids[0], model.Encoder.Tokenize("")[0]);
        Assert.Equal(ids[^1], model.Encoder.Tokenize("")[^1]);
    }

    [Fact]
    public void Embeddings_are_unit_vectors_and_batching_does_not_change_them()
    {
        var texts = Texts.Take(10).ToArray();
        var batched = model.Encoder.Embed(texts, batchSize: 4);
        var single = texts.Select(t => model.Encoder.Embed([t])[0]).ToArray();
        for (int i = 0; i < texts.Length; i++)
        {
            Assert.InRange(Math.Sqrt(batched[i].Sum(v => (double)v * v)), 0.9999, 1.0001);
            var error = Accuracy.RelativeError(batched[i], single[i].Select(v => (double)v).ToArray());
            Assert.True(error <= 1e-5, $"text {i}: batched and single embeddings differ by {error:E3}");
        }
    }

    [Fact]
    public void Embedding_from_eight_threads_matches_one_thread()
    {
        var texts = Texts.Take(8).ToArray();
        var expected = model.Encoder.Embed(texts);
        var results = new float[8][][];
        Parallel.For(0, 8, new ParallelOptions { MaxDegreeOfParallelism = 8 }, i => results[i] = model.Encoder.Embed(texts));
        foreach (var result in results)
            for (int i = 0; i < texts.Length; i++)
                Assert.Equal(expected[i], result[i]);
    }

    [Fact]
    public void Saving_to_safetensors_and_loading_back_gives_identical_outputs()
    {
        string path = Path.Combine(Path.GetTempPath(), $"bert-{Guid.NewGuid():N}.safetensors");
        try
        {
            model.Encoder.Encoder.Save(path);
            using var loaded = Engine.Models.BertEncoder.Load(model.Device, path);
            Assert.Equal(model.Encoder.Encoder.Config, loaded.Config);
            var batch = Texts.Take(5).Select(model.Encoder.Tokenize).ToArray();
            using var expected = model.Encoder.LastHiddenState(batch);
            using var copy = new Engine.Models.SentenceEncoder(loaded, Tokenizer(), model.Encoder.Pooling);
            using var actual = copy.LastHiddenState(batch);
            Assert.Equal(expected.ToArray(), actual.ToArray());
        }
        finally
        {
            File.Delete(path);
        }
    }

    private Microsoft.ML.Tokenizers.BertTokenizer Tokenizer() => model.Tokenizer;

    private static string Shorten(string text) => text.Length <= 40 ? text : text[..40] + "...";
}

public sealed class MiniLMTests(MiniLMFixture model) : BertSuite<MiniLMFixture>(model);

public sealed class ArcticXsTests(ArcticXsFixture model) : BertSuite<ArcticXsFixture>(model);
