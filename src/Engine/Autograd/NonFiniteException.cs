namespace Engine;

/// <summary>A NaN or an infinity where a finite value was required; <see cref="Op"/> names where it appeared.</summary>
public sealed class NonFiniteException : ArithmeticException
{
    /// <summary>A new exception for <paramref name="op"/> with a message naming it and the shapes.</summary>
    public NonFiniteException(string op, string message) : base(message) => Op = op;

    /// <summary>The op (or the training quantity, e.g. "loss" or "gradient norm") that was not finite.</summary>
    public string Op { get; }
}
