using System.Diagnostics;

namespace Engine.Cli;

/// <summary>The engine command line: one verb per job.</summary>
public static class Commands
{
    public static int Run(string[] args)
    {
        string verb = args.Length > 0 ? args[0] : "help";
        try
        {
            switch (verb)
            {
                case "demo":
                    Demo.Run();
                    return 0;
                case "devices":
                    Devices();
                    return 0;
                case "embed":
                    return EmbedCommand.Run(args[1..]);
                case "prepare-data":
                    return PrepareDataCommand.Run(args[1..]);
                case "prepare-retrieval":
                    return PrepareRetrievalCommand.Run(args[1..]);
                case "index":
                    return IndexCommand.Run(args[1..]);
                case "search":
                    return SearchCommand.Run(args[1..]);
                case "eval":
                    return EvalCommand.Run(args[1..]);
                case "export":
                    return ExportCommand.Run(args[1..]);
                case "dense-eval":
                    return DenseEvalCommand.Run(args[1..]);
                case "train":
                    return TrainCommand.Run(args[1..]);
                case "splade-cache":
                    return SpladeCacheCommand.Run(args[1..]);
                case "splade-sweep":
                    return SpladeSweepCommand.Run(args[1..]);
                case "splade-train":
                    return SpladeTrainCommand.Run(args[1..]);
                case "generate":
                    return GenerateCommand.Run(args[1..]);
                default:
                    Console.WriteLine("usage: engine <demo|devices|embed|prepare-data|train|generate|prepare-retrieval|index|search|eval|export|dense-eval|splade-cache|splade-train|splade-sweep>");
                    Console.WriteLine("  demo      a tour of the tensor API and the matmul rates of each backend");
                    Console.WriteLine("  devices   the compute devices this machine offers");
                    Console.WriteLine("  embed     sentence vectors: [--model minilm|arcticxs|PATH.dll] [--input FILE|-] [--output FILE|-] [--format jsonl|npy] [--batch N] [--max-tokens N]");
                    Console.WriteLine("  prepare-data  a text file to GPT-2 token files: --input FILE --out DIR (writes train.bin and val.bin, the last 10% of tokens)");
                    Console.WriteLine("  " + PrepareRetrievalCommand.Usage);
                    Console.WriteLine("  " + IndexCommand.Usage);
                    Console.WriteLine("  " + SearchCommand.Usage);
                    Console.WriteLine("  " + EvalCommand.Usage);
                    Console.WriteLine("  " + ExportCommand.Usage);
                    Console.WriteLine("  " + DenseEvalCommand.Usage);
                    Console.WriteLine("  " + SpladeCacheCommand.Usage);
                    Console.WriteLine("  " + SpladeTrainCommand.Usage);
                    Console.WriteLine("  " + SpladeSweepCommand.Usage);
                    Console.WriteLine("  " + TrainCommand.Usage);
                    Console.WriteLine("  " + GenerateCommand.Usage);
                    return verb == "help" ? 0 : 2;
            }
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or IOException or InvalidDataException or NonFiniteException)
        {
            Console.Error.WriteLine($"engine {verb}: {e.Message}");
            return 1;
        }
    }

    private static void Devices()
    {
        foreach (var (name, create) in new (string, Func<Device>)[] { ("Cpu", Device.Cpu), ("IlgpuCpu", Device.IlgpuCpu), ("Cuda", () => Device.Cuda()), ("OpenCL", () => Device.OpenCL()) })
        {
            try
            {
                using var device = create();
                Console.WriteLine($"{name,-9} {device.Name}");
            }
            catch (InvalidOperationException e)
            {
                Console.WriteLine($"{name,-9} not available: {e.Message}");
            }
        }
    }
}

/// <summary>A short tour: tensors, views, ops, scopes, and the matmul rate of each backend.</summary>
internal static class Demo
{
    public static void Run()
    {
        using var device = Device.Cpu();
        Console.WriteLine($"Device: {device.Name}");

        using (var scope = device.Scope())
        {
            var x = Tensor.Randn(device, [4, 8, 64], seed: 1);
            var w = Tensor.Randn(device, [64, 256], seed: 2, std: 0.125f);
            var b = Tensor.Zeros(device, [256]);
            var h = F.MatMul(x, w, b).Gelu(GeluApproximation.Tanh);
            var p = h.Softmax(-1);
            Console.WriteLine($"x {Format(x)} @ w {Format(w)} + b -> gelu -> softmax: {Format(p)}, row sums {string.Join(", ", p.Sum(-1).ToArray().Take(4).Select(v => v.ToString("F4")))} ...");
            var ln = F.LayerNorm(h, Tensor.Ones(device, [256]), Tensor.Zeros(device, [256]));
            Console.WriteLine($"layer norm: mean {ln.Mean().Item():E2}, first row std {Math.Sqrt(F.Mean(F.Square(ln.Slice(0, 0, 1).Slice(1, 0, 1)), -1).Item()):F4}");
            var targets = Tensor.FromArray(device, Enumerable.Range(0, 32).Select(i => i * 7 % 256).ToArray());
            var loss = F.CrossEntropy(h.Reshape(32, 256), targets);
            Console.WriteLine($"cross-entropy of random logits against 32 targets: {loss.Item():F4} (ln 256 = {Math.Log(256):F4})");
            Console.WriteLine($"x.Transpose(1, 2) is a view; contiguous: {x.Transpose(1, 2).IsContiguous}; argmax of row 0: {h.ArgMax(-1).ToInt32Array()[0]}");
        }

        Console.WriteLine();
        Console.WriteLine("Matmul rates (median of 5, GFLOP/s):");
        Report(device, 1024, 1024, 1024);
        Report(device, 256, 768, 3072);
        using var ilgpu = Device.IlgpuCpu();
        Report(ilgpu, 32, 32, 32);
        Console.WriteLine("(the ILGPU CPU accelerator simulates GPU threads to check kernels; it is not a fast path)");
    }

    private static void Report(Device device, int m, int k, int n)
    {
        using var scope = device.Scope();
        var a = Tensor.Randn(device, [m, k], 3);
        var b = Tensor.Randn(device, [k, n], 4);
        F.MatMul(a, b).Dispose();
        var times = new List<double>();
        for (int i = 0; i < 5; i++)
        {
            var clock = Stopwatch.StartNew();
            F.MatMul(a, b).Dispose();
            device.Synchronize();
            times.Add(clock.Elapsed.TotalSeconds);
        }
        times.Sort();
        double gflops = 2.0 * m * n * k / times[2] / 1e9;
        Console.WriteLine($"  {device.Kind,-9} [{m}x{k}] @ [{k}x{n}]: {gflops,8:F1}");
    }

    private static string Format(Tensor t) => "[" + string.Join(", ", t.Shape.ToArray()) + "]";
}
