using Engine.Io;

namespace Engine.Tests;

// Language-model batches: a pure function of (seed, step), targets are inputs shifted by one,
// every window stays inside the tokens, and the sequential order covers the tokens once.
public sealed class TokenBatchesTests
{
    // Token i is i itself, so a row's first input says where its window starts.
    private static int[] Counting(int count) => Enumerable.Range(0, count).ToArray();

    [Theory]
    [InlineData(BatchOrder.Random)]
    [InlineData(BatchOrder.Sequential)]
    public void The_same_seed_and_step_give_the_same_batch_in_any_call_order(BatchOrder order)
    {
        var tokens = Counting(1000);
        var first = new TokenBatches(tokens, batchSize: 4, sequenceLength: 16, order, seed: 42);
        var second = new TokenBatches(tokens, batchSize: 4, sequenceLength: 16, order, seed: 42);

        var forward = Enumerable.Range(0, 20).Select(s => first.Get(s)).ToArray();
        var resumed = Enumerable.Range(10, 10).Select(s => second.Get(s)).ToArray();

        for (int s = 10; s < 20; s++)
        {
            Assert.Equal(forward[s].Inputs, resumed[s - 10].Inputs);
            Assert.Equal(forward[s].Targets, resumed[s - 10].Targets);
        }
        Assert.Equal(forward[3].Inputs, first.Get(3).Inputs);
    }

    [Fact]
    public void Random_batches_depend_on_the_seed_and_the_step()
    {
        var tokens = Counting(10_000);
        var a = new TokenBatches(tokens, 8, 32, BatchOrder.Random, seed: 1);
        var b = new TokenBatches(tokens, 8, 32, BatchOrder.Random, seed: 2);

        Assert.NotEqual(a.Get(0).Inputs, a.Get(1).Inputs);
        Assert.NotEqual(a.Get(0).Inputs, b.Get(0).Inputs);
    }

    [Theory]
    [InlineData(BatchOrder.Random, 17, 1, 16)]
    [InlineData(BatchOrder.Random, 500, 7, 13)]
    [InlineData(BatchOrder.Sequential, 17, 3, 16)]
    [InlineData(BatchOrder.Sequential, 500, 7, 13)]
    public void Targets_are_the_inputs_shifted_by_one_and_every_window_is_in_range(BatchOrder order, int count, int batchSize, int sequenceLength)
    {
        var tokens = Counting(count);
        var batches = new TokenBatches(tokens, batchSize, sequenceLength, order, seed: 7);
        var inputs = new int[batchSize * sequenceLength];
        var targets = new int[batchSize * sequenceLength];

        for (int step = 0; step < 200; step++)
        {
            batches.Fill(step, inputs, targets);
            for (int row = 0; row < batchSize; row++)
            {
                int start = batches.Start(step, row);
                Assert.InRange(start, 0, count - sequenceLength - 1);
                for (int t = 0; t < sequenceLength; t++)
                {
                    Assert.Equal(start + t, inputs[row * sequenceLength + t]);
                    Assert.Equal(start + t + 1, targets[row * sequenceLength + t]);
                }
            }
        }
    }

    [Fact]
    public void Random_starts_reach_both_ends_of_the_tokens()
    {
        var batches = new TokenBatches(Counting(40), batchSize: 16, sequenceLength: 8, BatchOrder.Random, seed: 3);

        var starts = Enumerable.Range(0, 50).SelectMany(s => Enumerable.Range(0, 16).Select(r => batches.Start(s, r))).ToHashSet();

        Assert.Equal(Enumerable.Range(0, 32), starts.Order());
    }

    [Fact]
    public void Sequential_steps_of_one_pass_take_each_window_once()
    {
        var batches = new TokenBatches(Counting(1001), batchSize: 4, sequenceLength: 10, BatchOrder.Sequential);

        var starts = Enumerable.Range(0, batches.StepsPerPass).SelectMany(s => Enumerable.Range(0, 4).Select(r => batches.Start(s, r))).ToList();

        Assert.Equal(100, batches.WindowCount);
        Assert.Equal(25, batches.StepsPerPass);
        Assert.Equal(Enumerable.Range(0, 100).Select(w => w * 10), starts);
        Assert.Equal(0, batches.Start(batches.StepsPerPass, 0));
    }

    [Fact]
    public void Bad_arguments_are_refused_with_the_sizes_named()
    {
        var error = Assert.Throws<ArgumentException>(() => new TokenBatches(Counting(16), 2, 16));
        Assert.Contains("16 tokens are too few for a sequence length of 16", error.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new TokenBatches(Counting(100), 0, 8));
        Assert.Throws<ArgumentOutOfRangeException>(() => new TokenBatches(Counting(100), 2, 0));
        var batches = new TokenBatches(Counting(100), 2, 8);
        Assert.Throws<ArgumentOutOfRangeException>(() => batches.Get(-1));
        Assert.Throws<ArgumentOutOfRangeException>(() => batches.Start(0, 2));
        Assert.Throws<ArgumentException>(() => batches.Fill(0, new int[16], new int[15]));
    }
}
