using System.Globalization;
using Engine.Io;

namespace Engine.Cli;

/// <summary>
/// engine prepare-data: a UTF-8 text file to GPT-2 tokens, written as llm.c token files.
///   engine prepare-data --input FILE --out DIR
/// The text is one document, [end-of-text, text...]; its last 10% of tokens go to DIR/val.bin and
/// the rest to DIR/train.bin (see <see cref="TokenDataset"/>).
/// </summary>
internal static class PrepareDataCommand
{
    /// <summary>Runs the command on the arguments after the verb; returns the process exit code.</summary>
    public static int Run(string[] args)
    {
        var options = Options.Parse(args);
        if (!options.Has("--input") || !options.Has("--out"))
            throw new ArgumentException("usage: engine prepare-data --input FILE --out DIR");
        string input = options.Get("--input", ""), output = options.Get("--out", "");

        var dataset = TokenDataset.FromText(File.ReadAllText(input), Gpt2Tokenizer.Shared);
        dataset.Save(output);
        var invariant = CultureInfo.InvariantCulture;
        Console.WriteLine(string.Create(invariant, $"{Path.Combine(output, TokenDataset.TrainFileName)}: {dataset.Train.Length:N0} tokens"));
        Console.WriteLine(string.Create(invariant, $"{Path.Combine(output, TokenDataset.ValidationFileName)}: {dataset.Validation.Length:N0} tokens (the last {TokenDataset.DefaultValidationFraction * 100:0}%)"));
        return 0;
    }
}
