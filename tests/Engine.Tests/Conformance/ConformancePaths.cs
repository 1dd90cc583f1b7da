namespace Engine.Tests.Conformance;

/// <summary>
/// Where the conformance data and the report live: the repository root is the first folder
/// above the test binaries that holds Engine.sln; the data sits at ../shared/conformance/onnx-node
/// next to it, and the report goes to artifacts/test-results/conformance.md inside it.
/// </summary>
internal static class ConformancePaths
{
    public static readonly string? RepositoryRoot = FindRepositoryRoot(AppContext.BaseDirectory);

    /// <summary>The onnx-node folder (which may not exist), or null when the repository root is unknown.</summary>
    public static string? DataDirectory => RepositoryRoot is null
        ? null
        : Path.GetFullPath(Path.Combine(RepositoryRoot, "..", "shared", "conformance", "onnx-node"));

    /// <summary>The report file, or null when the repository root is unknown.</summary>
    public static string? ReportFile => RepositoryRoot is null
        ? null
        : Path.Combine(RepositoryRoot, "artifacts", "test-results", "conformance.md");

    private static string? FindRepositoryRoot(string start)
    {
        for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Engine.sln")))
                return dir.FullName;
        return null;
    }
}
