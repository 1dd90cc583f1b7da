using System.Diagnostics;
using TT = TorchSharp.torch;

namespace Engine.Bench;

/// <summary>
/// Fused causal attention against libtorch's scaled_dot_product_attention in one process,
/// alternating, same thread count: B = 4, H = 12, D = 64 and T in {64, 256, 1024, 4096}, forward
/// alone and forward + backward. Medians of the rounds; ratio = libtorch time / ours.
/// </summary>
internal static class AttentionComparison
{
    public const string Usage = "attention [--rounds 5] [--max-t 4096]   fused causal attention against libtorch SDPA, forward and forward+backward";

    public static int Run(string[] args)
    {
        int rounds = 5, maxT = 4096;
        for (int i = 0; i + 1 < args.Length; i += 2)
        {
            if (args[i] == "--rounds") rounds = int.Parse(args[i + 1]);
            else if (args[i] == "--max-t") maxT = int.Parse(args[i + 1]);
        }
        TT.set_num_threads(Environment.ProcessorCount);
        const int b = 4, h = 12, d = 64;
        using var device = Device.Cpu();
        Console.WriteLine($"causal attention, B = {b}, H = {h}, D = {d}, {Environment.ProcessorCount} threads, median of {rounds}");
        Console.WriteLine($"{"T",6} {"fwd ours ms",12} {"fwd torch ms",13} {"ratio",7} {"f+b ours ms",12} {"f+b torch ms",13} {"ratio",7}");
        foreach (int t in new[] { 64, 256, 1024, 4096 }.Where(t => t <= maxT))
        {
            int n = rounds;
            var ours = new List<double>();
            var theirs = new List<double>();
            var oursFb = new List<double>();
            var theirsFb = new List<double>();
            using var scope = device.Scope();
            var q = Tensor.Randn(device, [b, h, t, d], 1, requiresGrad: true);
            var k = Tensor.Randn(device, [b, h, t, d], 2, requiresGrad: true);
            var v = Tensor.Randn(device, [b, h, t, d], 3, requiresGrad: true);
            var tq = TT.randn(b, h, t, d).requires_grad_(true);
            var tk = TT.randn(b, h, t, d).requires_grad_(true);
            var tv = TT.randn(b, h, t, d).requires_grad_(true);
            for (int round = -1; round < n; round++)
            {
                var clock = Stopwatch.StartNew();
                using (Autograd.NoGrad())
                using (var inner = device.Scope())
                    F.ScaledDotProductAttention(q, k, v, causal: true);
                double fwd = clock.Elapsed.TotalSeconds;

                clock.Restart();
                using (TT.no_grad())
                using (TT.NewDisposeScope())
                    TT.nn.functional.scaled_dot_product_attention(tq, tk, tv, is_casual: true);
                double tfwd = clock.Elapsed.TotalSeconds;

                clock.Restart();
                using (var inner = device.Scope())
                {
                    F.Sum(F.ScaledDotProductAttention(q, k, v, causal: true)).Backward();
                    foreach (var x in new[] { q, k, v }) x.ClearGrad();
                }
                double fb = clock.Elapsed.TotalSeconds;

                clock.Restart();
                using (TT.NewDisposeScope())
                {
                    TT.nn.functional.scaled_dot_product_attention(tq, tk, tv, is_casual: true).sum().backward();
                    foreach (var x in new[] { tq, tk, tv }) x.grad = null;
                }
                double tfb = clock.Elapsed.TotalSeconds;
                if (round < 0) continue;
                ours.Add(fwd); theirs.Add(tfwd); oursFb.Add(fb); theirsFb.Add(tfb);
            }
            double Median(List<double> x) => x.OrderBy(y => y).ElementAt(x.Count / 2) * 1e3;
            Console.WriteLine($"{t,6} {Median(ours),12:F2} {Median(theirs),13:F2} {Median(theirs) / Median(ours),6:F2}x {Median(oursFb),12:F2} {Median(theirsFb),13:F2} {Median(theirsFb) / Median(oursFb),6:F2}x");
        }
        return 0;
    }
}
