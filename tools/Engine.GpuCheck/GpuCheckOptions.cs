using System.Globalization;

namespace Engine.GpuCheck;

/// <summary>Where the check runs the ILGPU kernels.</summary>
public enum CheckDevice
{
    /// <summary>CUDA device 0 when ILGPU finds one, else the CPU accelerator (with a note saying why).</summary>
    Auto,
    /// <summary>CUDA device 0; the check fails when there is none.</summary>
    Cuda,
    /// <summary>ILGPU's CPU accelerator (a thread simulator).</summary>
    IlgpuCpu,
}

/// <summary>Problem sizes of the cases.</summary>
public enum SizeClass
{
    /// <summary>Large on CUDA, tiny on the CPU accelerator.</summary>
    Auto,
    /// <summary>Sizes that matter on a GPU: matmul up to 8192^3, attention up to T = 4096, 256 MB tensors.</summary>
    Gpu,
    /// <summary>Dimensions of about 16 to 40, which the CPU accelerator simulates in seconds.</summary>
    Tiny,
}

/// <summary>Settings of one check run.</summary>
public sealed record GpuCheckOptions
{
    /// <summary>The device to check.</summary>
    public CheckDevice Device { get; init; } = CheckDevice.Auto;

    /// <summary>The problem sizes.</summary>
    public SizeClass Sizes { get; init; } = SizeClass.Auto;

    /// <summary>Folder for gpu-check.md and gpu-check.json (created when missing).</summary>
    public string OutputDirectory { get; init; } = "gpu-check-results";

    /// <summary>Results of tools/gpu-check/torch_reference.py for the torch columns, or null.</summary>
    public string? TorchResultsPath { get; init; }

    /// <summary>Only cases whose op name contains this text (case-insensitive), or null for all.</summary>
    public string? Only { get; init; }

    /// <summary>
    /// Wall-clock budget of the whole run. Once spent, the remaining cases are reported as skipped
    /// rather than run, so a slow kernel cannot push the run past the GPU machine's time.
    /// </summary>
    public TimeSpan Budget { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>When set, the program only writes the torch plan for <see cref="Sizes"/> to this path and exits.</summary>
    public string? PlanPath { get; init; }

    /// <summary>The command-line help.</summary>
    public const string Usage =
        """
        engine-gpu-check: runs every ILGPU kernel on CUDA (or ILGPU's CPU accelerator) against the SIMD backend,
        then times it next to the device's measured ceilings and, when given, torch's time for the same shape.

        usage: engine-gpu-check [options]
          --device auto|cuda|ilgpu-cpu   where to run the kernels (auto: CUDA when found, else the CPU accelerator)
          --sizes auto|gpu|tiny          problem sizes (auto: gpu on CUDA, tiny on the CPU accelerator)
          --out DIR                      where gpu-check.md and gpu-check.json go (default: gpu-check-results)
          --torch FILE                   torch timings from tools/gpu-check/torch_reference.py
          --only TEXT                    only cases whose op contains TEXT
          --budget SECONDS               stop starting cases after this long (default 300)
          --plan FILE                    write the torch plan for --sizes (default gpu) and exit
        exit status: 0 when no check failed, 1 when one did, 2 for a usage error
        """;

    /// <summary>Reads command-line arguments; throws ArgumentException with the offending argument.</summary>
    public static GpuCheckOptions Parse(IReadOnlyList<string> args)
    {
        var options = new GpuCheckOptions();
        for (int i = 0; i < args.Count; i++)
        {
            string name = args[i];
            string Value() => i + 1 < args.Count ? args[++i] : throw new ArgumentException($"{name} needs a value.");
            options = name switch
            {
                "--device" => options with { Device = ParseDevice(Value()) },
                "--sizes" => options with { Sizes = ParseSizes(Value()) },
                "--out" => options with { OutputDirectory = Value() },
                "--torch" => options with { TorchResultsPath = Value() },
                "--only" => options with { Only = Value() },
                "--budget" => options with { Budget = TimeSpan.FromSeconds(ParseSeconds(Value())) },
                "--plan" => options with { PlanPath = Value() },
                _ => throw new ArgumentException($"unknown argument '{name}'."),
            };
        }
        return options;
    }

    private static CheckDevice ParseDevice(string value) => value switch
    {
        "auto" => CheckDevice.Auto,
        "cuda" => CheckDevice.Cuda,
        "ilgpu-cpu" => CheckDevice.IlgpuCpu,
        _ => throw new ArgumentException($"--device must be auto, cuda or ilgpu-cpu, not '{value}'."),
    };

    private static SizeClass ParseSizes(string value) => value switch
    {
        "auto" => SizeClass.Auto,
        "gpu" => SizeClass.Gpu,
        "tiny" => SizeClass.Tiny,
        _ => throw new ArgumentException($"--sizes must be auto, gpu or tiny, not '{value}'."),
    };

    private static double ParseSeconds(string value) =>
        double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out double seconds) && seconds > 0
            ? seconds
            : throw new ArgumentException($"--budget must be a positive number of seconds, not '{value}'.");
}
