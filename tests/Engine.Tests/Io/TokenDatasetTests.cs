using Engine.Io;

namespace Engine.Tests;

// Text to a train/validation split: deterministic, the validation set is the tail, and it saves
// and loads as two token files.
public sealed class TokenDatasetTests : IDisposable
{
    private const string Text = "Call me Ishmael. Some years ago, never mind how long precisely, having little or no money in my purse, and nothing particular to interest me on shore, I thought I would sail about a little and see the watery part of the world.";

    private readonly string _directory = Directory.CreateTempSubdirectory("token-dataset-tests-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void Text_becomes_end_of_text_then_its_tokens_with_the_last_tenth_held_out()
    {
        var tokens = Gpt2Tokenizer.Shared.Encode(Text);

        var dataset = TokenDataset.FromText(Text, Gpt2Tokenizer.Shared);

        int all = tokens.Length + 1, validation = all / 10;
        Assert.Equal(all - validation, dataset.Train.Length);
        Assert.Equal(validation, dataset.Validation.Length);
        Assert.Equal([Gpt2Tokenizer.EndOfText, .. tokens], [.. dataset.Train, .. dataset.Validation]);
        Assert.Equal(dataset.Train, TokenDataset.FromText(Text, Gpt2Tokenizer.Shared).Train);
    }

    [Theory]
    [InlineData(0.0, 0)]
    [InlineData(0.25, 2)]
    [InlineData(0.5, 5)]
    [InlineData(0.9, 9)]
    public void Split_keeps_order_and_holds_out_the_floor_of_the_fraction(double fraction, int held)
    {
        int[] tokens = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10];

        var dataset = TokenDataset.Split(tokens, fraction);

        Assert.Equal(tokens[..^held], dataset.Train);
        Assert.Equal(tokens[^held..], dataset.Validation);
    }

    [Theory]
    [InlineData(-0.1)]
    [InlineData(1.0)]
    [InlineData(double.NaN)]
    public void Split_refuses_a_fraction_outside_0_to_1(double fraction)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => TokenDataset.Split([1, 2, 3], fraction));
    }

    [Fact]
    public void Save_then_Load_gives_the_same_tokens()
    {
        var dataset = TokenDataset.FromText(Text, Gpt2Tokenizer.Shared);
        string directory = Path.Combine(_directory, "moby");

        dataset.Save(directory);
        var loaded = TokenDataset.Load(directory);

        Assert.Equal(dataset.Train, loaded.Train);
        Assert.Equal(dataset.Validation, loaded.Validation);
        Assert.True(File.Exists(Path.Combine(directory, "train.bin")));
        Assert.True(File.Exists(Path.Combine(directory, "val.bin")));
    }
}
