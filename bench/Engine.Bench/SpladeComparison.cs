using System.Diagnostics;
using TT = TorchSharp.torch;

namespace Engine.Bench;

/// <summary>
/// The SPLADE training ops against libtorch composed from its own ops, in one process, alternating,
/// same thread count, on the same values: packed token logits [R, V] of B texts (lengths 8 to 56)
/// with R = 2048, B = 64 and V = 30522 (BERT's vocabulary) by default. Four rows:
/// <list type="bullet">
/// <item>pooling forward: ours F.SpladePool; torch log1p(relu(x)) then max over each text's rows (split + max(0), whose backward is one concatenation);</item>
/// <item>pooling backward alone (the graph kept, the leaf gradient freed each round): ours SpladePoolBackward; torch's recorded max, split, log1p and relu backwards;</item>
/// <item>FLOPs regularizer forward + backward on w [B, V]: ours F.FlopsRegularizer; torch w.abs().mean(0).square().sum() and its backward;</item>
/// <item>ToSparse of w [B, V], top k per row, down to host CSR arrays: ours F.ToSparse; torch abs().topk, the indices sorted, gather, download.</item>
/// </list>
/// Medians of the rounds; ratio = libtorch time / ours (above 1: we are faster). GB/s counts the
/// bytes each op must move (<see cref="SpladeWorkload"/>), the same count for both sides.
/// </summary>
internal static class SpladeComparison
{
    public const string Usage = "splade [--rounds 5] [--texts 64] [--rows 2048] [--vocab 30522] [--topk 256]   SPLADE pooling, FLOPs regularizer and ToSparse against composed libtorch ops";

    public static int Run(string[] args)
    {
        int rounds = 5, texts = 64, rows = 2048, vocab = 30522, topK = 256;
        for (int i = 0; i < args.Length; i += 2)
        {
            if (i + 1 >= args.Length || !int.TryParse(args[i + 1], out int value) || value < 1)
                return Fail($"'{args[i]}' needs a positive integer");
            switch (args[i])
            {
                case "--rounds": rounds = value; break;
                case "--texts": texts = value; break;
                case "--rows": rows = value; break;
                case "--vocab": vocab = value; break;
                case "--topk": topK = value; break;
                default: return Fail($"unknown argument '{args[i]}'");
            }
        }
        if (rows < texts)
            return Fail($"{rows} rows cannot hold {texts} texts of at least one token");
        var workloads = SpladeWorkload.Ops.Select(op => new SpladeWorkload(op, texts, rows, vocab, topK)).ToArray();
        var lengths = workloads[0].Lengths();

        TT.set_num_threads(Environment.ProcessorCount);
        using var device = Device.Cpu();
        using var scope = device.Scope();
        Console.WriteLine($"SPLADE ops: {texts} texts packed into {rows} token rows (lengths {lengths.Min()}..{lengths.Max()}), V = {vocab}, " +
            $"top-k {topK}, {Environment.ProcessorCount} threads, median of {rounds} rounds; ratio = torch time / ours");

        var logits = Tensor.Randn(device, [rows, vocab], 1, 0f, 2f, requiresGrad: true);
        var tl = TT.tensor(logits.ToArray(), [rows, vocab]).requires_grad_(true);
        var upstream = Tensor.Randn(device, [texts, vocab], 2);
        var tUpstream = TT.tensor(upstream.ToArray(), [texts, vocab]);
        Tensor w;
        using (Autograd.NoGrad())
            w = F.SpladePool(logits, lengths);
        TT.Tensor tw;
        using (TT.no_grad())
            tw = TorchPool(tl, lengths);
        var wLeaf = w.Detach();
        wLeaf.RequiresGrad = true;
        var twLeaf = tw.clone().requires_grad_(true);
        // The graphs the backward rows walk again every round.
        var pooled = F.SpladePool(logits, lengths);
        var tPooled = TorchPool(tl, lengths);

        var ours = new Action[]
        {
            () =>
            {
                using (Autograd.NoGrad()) F.SpladePool(logits, lengths).Dispose();
            },
            () =>
            {
                pooled.Backward(upstream, retainGraph: true);
                logits.ClearGrad();
            },
            () =>
            {
                F.FlopsRegularizer(wLeaf).Backward();
                wLeaf.ClearGrad();
            },
            () => F.ToSparse(w, 0f, topK),
        };
        var theirs = new Action[]
        {
            () =>
            {
                using (TT.no_grad()) using (TT.NewDisposeScope()) TorchPool(tl, lengths);
            },
            () =>
            {
                using (TT.NewDisposeScope()) tPooled.backward([tUpstream], retain_graph: true);
                tl.grad = null;
            },
            () =>
            {
                using (TT.NewDisposeScope()) twLeaf.abs().mean([0L]).square().sum().backward();
                twLeaf.grad = null;
            },
            () => TorchToSparse(tw, topK),
        };

        var oursSeconds = new double[workloads.Length, rounds];
        var torchSeconds = new double[workloads.Length, rounds];
        for (int round = -1; round < rounds; round++)
        {
            for (int op = 0; op < workloads.Length; op++)
            {
                using var inner = device.Scope();
                var clock = Stopwatch.StartNew();
                ours[op]();
                double a = clock.Elapsed.TotalSeconds;
                clock.Restart();
                theirs[op]();
                double b = clock.Elapsed.TotalSeconds;
                if (round < 0) continue;
                oursSeconds[op, round] = a;
                torchSeconds[op, round] = b;
            }
        }

        Console.WriteLine($"{"op",-14} {"ours ms",9} {"torch ms",9} {"ratio",7} {"ours GB/s",10} {"torch GB/s",11}");
        for (int op = 0; op < workloads.Length; op++)
        {
            double a = Median(oursSeconds, op), b = Median(torchSeconds, op);
            Console.WriteLine($"{workloads[op].Op,-14} {a * 1e3,9:F2} {b * 1e3,9:F2} {b / a,6:F2}x {workloads[op].Rate(a),10:F2} {workloads[op].Rate(b),11:F2}");
        }
        double flops = F.FlopsRegularizer(w).Item(), tflops = tw.abs().mean([0L]).square().sum().item<float>();
        Console.WriteLine($"agreement with torch: w relative L2 error {RelativeError(w.ToArray(), tw.data<float>().ToArray()):E2}, " +
            $"FLOPs loss relative error {Math.Abs(flops - tflops) / tflops:E2}");
        return 0;
    }

    private static int Fail(string message)
    {
        Console.Error.WriteLine($"splade: {message}\nusage: Engine.Bench {Usage}");
        return 2;
    }

    /// <summary>w [B, V] the way a composed torch model pools packed rows.</summary>
    private static TT.Tensor TorchPool(TT.Tensor logits, int[] lengths)
    {
        var texts = TT.log1p(TT.nn.functional.relu(logits)).split([.. lengths.Select(l => (long)l)], 0);
        return TT.stack(texts.Select(text => text.max(0).values));
    }

    /// <summary>The top k of each row by magnitude, the columns ascending, as host CSR arrays.</summary>
    private static (int[] Offsets, long[] Columns, float[] Values) TorchToSparse(TT.Tensor w, int k)
    {
        using var scope = TT.NewDisposeScope();
        int rows = (int)w.shape[0];
        k = (int)Math.Min(k, w.shape[1]);
        var columns = w.abs().topk(k, 1).indexes.sort(1).Values;
        var values = w.gather(1, columns);
        var offsets = Enumerable.Range(0, rows + 1).Select(r => r * k).ToArray();
        return (offsets, columns.data<long>().ToArray(), values.data<float>().ToArray());
    }

    private static double Median(double[,] seconds, int op) =>
        Enumerable.Range(0, seconds.GetLength(1)).Select(r => seconds[op, r]).Order().ElementAt(seconds.GetLength(1) / 2);

    private static double RelativeError(float[] actual, float[] expected)
    {
        double difference = 0, reference = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            double d = (double)actual[i] - expected[i];
            difference += d * d;
            reference += (double)expected[i] * expected[i];
        }
        return Math.Sqrt(difference / Math.Max(reference, double.Epsilon));
    }
}
