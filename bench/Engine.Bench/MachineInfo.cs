using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;

namespace Engine.Bench;

/// <summary>A one-line description of the machine the numbers were measured on.</summary>
public static class MachineInfo
{
    /// <summary>CPU model (from /proc/cpuinfo where there is one), core count, vector extensions, runtime and libtorch binding.</summary>
    public static string Describe()
    {
        var extensions = new List<string>();
        if (Avx512F.IsSupported) extensions.Add("AVX-512F");
        if (Avx2.IsSupported) extensions.Add("AVX2");
        if (Fma.IsSupported) extensions.Add("FMA");
        var torchSharp = typeof(TorchSharp.torch).Assembly.GetName().Version;
        return $"{CpuModel()}, {Environment.ProcessorCount} cores, {string.Join("/", extensions.DefaultIfEmpty("no x86 SIMD"))}; " +
               $"{RuntimeInformation.FrameworkDescription}, TorchSharp {torchSharp?.ToString(3)}";
    }

    private static string CpuModel()
    {
        const string cpuInfo = "/proc/cpuinfo";
        var modelLine = File.Exists(cpuInfo)
            ? File.ReadLines(cpuInfo).FirstOrDefault(line => line.StartsWith("model name", StringComparison.Ordinal))
            : null;
        return modelLine is null ? RuntimeInformation.ProcessArchitecture.ToString() : modelLine[(modelLine.IndexOf(':') + 1)..].Trim();
    }
}
