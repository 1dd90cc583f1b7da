namespace Engine.Io;

/// <summary>How <see cref="TokenBatches"/> chooses the windows of a batch.</summary>
public enum BatchOrder
{
    /// <summary>
    /// Each row starts at a uniformly random position, drawn from a counter-based generator at
    /// counter step * batchSize + row: the training order.
    /// </summary>
    Random,

    /// <summary>
    /// Rows walk through the tokens in non-overlapping windows (row r of step s takes window
    /// (s * batchSize + r) mod <see cref="TokenBatches.WindowCount"/>): the evaluation order,
    /// where steps 0 .. <see cref="TokenBatches.StepsPerPass"/> - 1 cover the tokens once.
    /// </summary>
    Sequential,
}

/// <summary>One batch: row-major [BatchSize, SequenceLength] inputs and their next-token targets.</summary>
/// <param name="Inputs">Token ids, row b holding tokens [start_b, start_b + T).</param>
/// <param name="Targets">The next tokens: row b holding tokens [start_b + 1, start_b + T + 1).</param>
/// <param name="BatchSize">B, the number of rows.</param>
/// <param name="SequenceLength">T, the tokens in a row.</param>
public sealed record TokenBatch(int[] Inputs, int[] Targets, int BatchSize, int SequenceLength);

/// <summary>
/// Language-model batches from a token array: for step s, B rows of T consecutive tokens as
/// inputs and the same windows shifted by one token as targets.
/// </summary>
/// <remarks>
/// A batch is a pure function of (tokens, B, T, order, seed, step): no state advances between
/// calls, so a training run resumed at step s sees exactly the batches an uninterrupted run
/// would, and batches may be made in any order or from many threads at once.
/// </remarks>
public sealed class TokenBatches
{
    private readonly int[] _tokens;

    /// <summary>Batches of <paramref name="batchSize"/> rows of <paramref name="sequenceLength"/> tokens from <paramref name="tokens"/>.</summary>
    /// <param name="tokens">The token ids; kept, not copied.</param>
    /// <param name="batchSize">B, rows per batch.</param>
    /// <param name="sequenceLength">T, tokens per row; <paramref name="tokens"/> must hold at least T + 1.</param>
    /// <param name="order">Random windows (training) or sequential windows (evaluation).</param>
    /// <param name="seed">Chooses the random windows; unused by <see cref="BatchOrder.Sequential"/>.</param>
    /// <exception cref="ArgumentException">There are fewer than T + 1 tokens, or B or T is not positive.</exception>
    public TokenBatches(int[] tokens, int batchSize, int sequenceLength, BatchOrder order = BatchOrder.Random, ulong seed = 0)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batchSize);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(sequenceLength);
        if (tokens.Length <= sequenceLength)
            throw new ArgumentException($"TokenBatches: {tokens.Length} tokens are too few for a sequence length of {sequenceLength} (a row needs {sequenceLength} + 1 tokens for its targets).", nameof(tokens));
        if (order is not (BatchOrder.Random or BatchOrder.Sequential))
            throw new ArgumentOutOfRangeException(nameof(order), $"TokenBatches: unknown batch order {order}.");
        _tokens = tokens;
        BatchSize = batchSize;
        SequenceLength = sequenceLength;
        Order = order;
        Seed = seed;
    }

    /// <summary>B, rows per batch.</summary>
    public int BatchSize { get; }

    /// <summary>T, tokens per row.</summary>
    public int SequenceLength { get; }

    /// <summary>How the windows are chosen.</summary>
    public BatchOrder Order { get; }

    /// <summary>The seed of the random windows.</summary>
    public ulong Seed { get; }

    /// <summary>The number of tokens batches are drawn from.</summary>
    public int TokenCount => _tokens.Length;

    /// <summary>The number of non-overlapping windows of T + 1 tokens (sharing their end tokens) that <see cref="BatchOrder.Sequential"/> walks: (N - 1) / T.</summary>
    public int WindowCount => (_tokens.Length - 1) / SequenceLength;

    /// <summary>Steps of <see cref="BatchOrder.Sequential"/> batches that cover the tokens once without repeating a window: WindowCount / B, at least 1.</summary>
    public int StepsPerPass => Math.Max(1, WindowCount / BatchSize);

    /// <summary>The batch of <paramref name="step"/>, in new arrays.</summary>
    public TokenBatch Get(long step)
    {
        var inputs = new int[BatchSize * SequenceLength];
        var targets = new int[BatchSize * SequenceLength];
        Fill(step, inputs, targets);
        return new TokenBatch(inputs, targets, BatchSize, SequenceLength);
    }

    /// <summary>Writes the batch of <paramref name="step"/> into caller-owned [B * T] spans, allocating nothing.</summary>
    /// <exception cref="ArgumentException">A span is not B * T long.</exception>
    public void Fill(long step, Span<int> inputs, Span<int> targets)
    {
        int size = BatchSize * SequenceLength;
        if (inputs.Length != size || targets.Length != size)
            throw new ArgumentException($"TokenBatches.Fill: inputs ({inputs.Length}) and targets ({targets.Length}) must each hold B * T = {BatchSize} * {SequenceLength} = {size} ids.");
        for (int row = 0; row < BatchSize; row++)
        {
            var window = _tokens.AsSpan(Start(step, row), SequenceLength + 1);
            window[..^1].CopyTo(inputs.Slice(row * SequenceLength, SequenceLength));
            window[1..].CopyTo(targets.Slice(row * SequenceLength, SequenceLength));
        }
    }

    /// <summary>The position in the tokens where row <paramref name="row"/> of step <paramref name="step"/> starts: in [0, N - T - 1].</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="step"/> is negative or <paramref name="row"/> is outside [0, B).</exception>
    public int Start(long step, int row)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(step);
        if ((uint)row >= (uint)BatchSize)
            throw new ArgumentOutOfRangeException(nameof(row), $"TokenBatches.Start: row {row} is outside [0, {BatchSize}).");
        ulong counter = (ulong)step * (ulong)BatchSize + (ulong)row;
        if (Order == BatchOrder.Sequential)
            return (int)(counter % (ulong)WindowCount) * SequenceLength;

        // N - T starts leave room for T inputs and the last target. The high half of a 64 x 64-bit
        // product maps the random bits onto [0, starts) with a bias below starts / 2^64.
        ulong starts = (ulong)(_tokens.Length - SequenceLength);
        return (int)Math.BigMul(CounterRandom.Bits(Seed, counter), starts, out _);
    }
}
