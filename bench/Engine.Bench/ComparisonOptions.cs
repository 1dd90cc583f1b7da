namespace Engine.Bench;

/// <summary>The command line of the compare verb: <c>compare [--ops matmul,softmax,layernorm,gelu] [--quick] [--report path/README.md]</c>.</summary>
public sealed record ComparisonOptions(IReadOnlyList<string> Families, bool Quick, string? ReportPath)
{
    /// <summary>How to call the verb.</summary>
    public const string Usage = "compare [--ops matmul,softmax,layernorm,gelu] [--quick] [--report path/README.md]";

    /// <summary>Alternating timed rounds per side: medians of these are reported.</summary>
    public int Rounds => Quick ? 5 : 11;

    /// <summary>Seconds each side runs untimed before the rounds (JIT, pools, caches, thread pools).</summary>
    public double WarmupSeconds => Quick ? 0.15 : 0.5;

    /// <summary>Seconds one timed batch of calls should last; slow kernels still make at least one call.</summary>
    public double BatchSeconds => Quick ? 0.04 : 0.1;

    /// <summary>Parses the arguments after the verb.</summary>
    /// <exception cref="ArgumentException">An argument is unknown or malformed.</exception>
    public static ComparisonOptions Parse(IReadOnlyList<string> args)
    {
        IReadOnlyList<string> families = Workloads.Families;
        bool quick = false;
        string? report = null;
        for (int i = 0; i < args.Count; i++)
        {
            switch (args[i])
            {
                case "--quick":
                    quick = true;
                    break;
                case "--ops":
                    families = ValueOf(args, ref i).Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
                    foreach (var family in families.Where(f => !Workloads.Families.Contains(f)))
                        throw new ArgumentException($"--ops: unknown kernel family '{family}' (known: {string.Join(", ", Workloads.Families)})");
                    break;
                case "--report":
                    report = ValueOf(args, ref i);
                    break;
                default:
                    throw new ArgumentException($"unknown argument '{args[i]}'");
            }
        }
        return new ComparisonOptions(families, quick, report);
    }

    private static string ValueOf(IReadOnlyList<string> args, ref int i)
    {
        if (i + 1 >= args.Count)
            throw new ArgumentException($"{args[i]} needs a value");
        return args[++i];
    }
}
