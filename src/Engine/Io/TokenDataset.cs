namespace Engine.Io;

/// <summary>
/// A tokenized text split into training and validation tokens, saved as two llm.c token files
/// (<see cref="TrainFileName"/> and <see cref="ValidationFileName"/>) in one directory.
/// </summary>
/// <param name="Train">The training tokens: all but the last part of the text.</param>
/// <param name="Validation">The validation tokens: the last part of the text.</param>
public sealed record TokenDataset(int[] Train, int[] Validation)
{
    /// <summary>The training tokens' file name inside a dataset directory.</summary>
    public const string TrainFileName = "train.bin";

    /// <summary>The validation tokens' file name inside a dataset directory.</summary>
    public const string ValidationFileName = "val.bin";

    /// <summary>The share of the tokens held out for validation unless told otherwise.</summary>
    public const double DefaultValidationFraction = 0.1;

    /// <summary>
    /// Tokenizes <paramref name="text"/> as one document, [end-of-text, text...] as GPT-2 saw its
    /// training documents, and splits it with <see cref="Split"/>. The same text always gives
    /// the same tokens.
    /// </summary>
    public static TokenDataset FromText(string text, Gpt2Tokenizer tokenizer, double validationFraction = DefaultValidationFraction)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        return Split([Gpt2Tokenizer.EndOfText, .. tokenizer.Encode(text)], validationFraction);
    }

    /// <summary>
    /// Splits <paramref name="tokens"/> in two without shuffling: the last
    /// floor(<paramref name="validationFraction"/> * length) tokens are the validation set and
    /// the ones before them the training set. A contiguous tail keeps the validation text unseen:
    /// no training window overlaps it.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="validationFraction"/> is outside [0, 1).</exception>
    public static TokenDataset Split(int[] tokens, double validationFraction = DefaultValidationFraction)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        if (!(validationFraction >= 0 && validationFraction < 1))
            throw new ArgumentOutOfRangeException(nameof(validationFraction), $"TokenDataset.Split: the validation fraction must be in [0, 1), not {validationFraction}.");
        int validationCount = (int)(tokens.Length * validationFraction);
        return new TokenDataset(tokens[..^validationCount], tokens[^validationCount..]);
    }

    /// <summary>Writes <see cref="TrainFileName"/> and <see cref="ValidationFileName"/> into <paramref name="directory"/> (created if absent), each atomically.</summary>
    public void Save(string directory)
    {
        Directory.CreateDirectory(directory);
        TokenFile.Write(Path.Combine(directory, TrainFileName), Train);
        TokenFile.Write(Path.Combine(directory, ValidationFileName), Validation);
    }

    /// <summary>Reads the two token files of <paramref name="directory"/>, checking each as <see cref="TokenFile.Read"/> does.</summary>
    /// <exception cref="InvalidDataException">A file is corrupt or holds a token outside the vocabulary.</exception>
    /// <exception cref="FileNotFoundException">A file is missing.</exception>
    public static TokenDataset Load(string directory, int vocabularySize = Gpt2Tokenizer.VocabularySize) =>
        new(TokenFile.Read(Path.Combine(directory, TrainFileName), vocabularySize),
            TokenFile.Read(Path.Combine(directory, ValidationFileName), vocabularySize));
}
