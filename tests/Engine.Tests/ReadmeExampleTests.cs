namespace Engine.Tests;

// The README's API example is this code: the test runs it and checks the README shows it verbatim.
public sealed class ReadmeExampleTests
{
    private static float RunExample()
    {
        // README example begin
        using var device = Device.Cpu();              // or Device.IlgpuCpu(), Device.Cuda(0), Device.OpenCL(0)
        using var scope = device.Scope();             // disposes the intermediates made inside it
        var x = Tensor.Randn(device, [4, 64, 768], seed: 1);
        var w = Tensor.Randn(device, [3072, 768], seed: 2, std: 0.02f);
        var b = Tensor.Zeros(device, [3072]);
        var h = F.Linear(x, w, b).Gelu(GeluApproximation.Tanh);     // [4, 64, 3072]
        var logits = h.Reshape(-1, 3072);                            // [256, 3072]
        var targets = Tensor.FromArray(device, Enumerable.Range(0, 256).ToArray());
        var loss = F.CrossEntropy(logits, targets);
        Console.WriteLine($"loss {loss.Item():F4}, probabilities sum to {logits.Softmax(-1).Sum(-1).Mean().Item():F4}");
        // README example end
        return loss.Item();
    }

    [Fact]
    public void The_readme_example_runs()
    {
        float loss = RunExample();
        Assert.True(float.IsFinite(loss) && loss > 0, $"loss {loss}");
    }

    [Fact]
    public void The_readme_shows_the_example_verbatim()
    {
        string root = RepositoryRoot();
        var source = File.ReadAllLines(Path.Combine(root, "tests", "Engine.Tests", "ReadmeExampleTests.cs"));
        int begin = Array.FindIndex(source, l => l.Trim() == "// README example begin");
        int end = Array.FindIndex(source, l => l.Trim() == "// README example end");
        var example = source[(begin + 1)..end].Select(l => l.Trim()).ToArray();
        var readme = File.ReadAllText(Path.Combine(root, "README.md"));
        string block = string.Join("\n", example);
        string readmeNormalized = string.Join("\n", readme.Split('\n').Select(l => l.Trim()));
        Assert.Contains(block, readmeNormalized);
    }

    internal static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Engine.sln")))
                return dir.FullName;
        throw new InvalidOperationException("Engine.sln not found above " + AppContext.BaseDirectory);
    }
}
