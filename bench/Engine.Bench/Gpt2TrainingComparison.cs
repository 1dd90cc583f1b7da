using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Engine.Models;
using Engine.TorchReference;
using TT = TorchSharp.torch;

namespace Engine.Bench;

/// <summary>
/// A GPT-2 training step (forward, backward, grad-norm clip, AdamW) of our engine against the same
/// model written in TorchSharp (libtorch) with torch.optim.AdamW. Each side runs in its own child
/// process, so its peak resident memory (VmHWM) is its own; the sides alternate over rounds and
/// the medians of all timed steps give the ratio (TorchSharp time / ours).
/// Default: GPT-2 small (124M: 12 layers, 12 heads, 768 channels, vocab 50257, context 1024), B = 4, T = 64.
/// </summary>
internal static class Gpt2TrainingComparison
{
    public const string Usage = "gpt2 [--steps 4] [--rounds 2] [--layers 12] [--heads 12] [--channels 768] [--batch 4] [--seq 64]   GPT-2 training step against TorchSharp";

    private sealed record Settings(int Steps, int Layers, int Heads, int Channels, int Batch, int Tokens)
    {
        public Gpt2Config Config => new(Layers, Heads, Channels, 50257, 1024);
    }

    private sealed record SideResult(string Side, double[] StepSeconds, double PeakMiB, double LastLoss);

    public static int Run(string[] args)
    {
        var values = new Dictionary<string, int>();
        string? side = null;
        for (int i = 0; i + 1 < args.Length; i += 2)
        {
            if (args[i] == "--side") side = args[i + 1];
            else values[args[i]] = int.Parse(args[i + 1], CultureInfo.InvariantCulture);
        }
        var s = new Settings(values.GetValueOrDefault("--steps", 4), values.GetValueOrDefault("--layers", 12), values.GetValueOrDefault("--heads", 12),
            values.GetValueOrDefault("--channels", 768), values.GetValueOrDefault("--batch", 4), values.GetValueOrDefault("--seq", 64));
        if (side is not null)
        {
            var result = side == "engine" ? RunEngine(s) : RunTorch(s);
            Console.WriteLine("RESULT " + JsonSerializer.Serialize(result));
            return 0;
        }

        int rounds = values.GetValueOrDefault("--rounds", 2);
        var config = s.Config;
        Console.WriteLine($"GPT-2 training step: {config.Layers} layers, {config.Heads} heads, {config.Channels} channels, vocab {config.VocabSize}; " +
                          $"B = {s.Batch}, T = {s.Tokens}; {Environment.ProcessorCount} threads; {rounds} rounds x {s.Steps} timed steps per side, each side in its own process");
        var engine = new List<SideResult>();
        var torch = new List<SideResult>();
        for (int round = 0; round < rounds; round++)
        {
            engine.Add(RunChild("engine", args));
            torch.Add(RunChild("torch", args));
        }
        double ours = Median(engine.SelectMany(r => r.StepSeconds)), theirs = Median(torch.SelectMany(r => r.StepSeconds));
        int tokens = s.Batch * s.Tokens;
        Console.WriteLine($"{"",-12} {"ms/step",10} {"tokens/s",10} {"peak MiB",10} {"last loss",10}");
        Console.WriteLine($"{"ours",-12} {ours * 1e3,10:F0} {tokens / ours,10:F0} {engine.Max(r => r.PeakMiB),10:F0} {engine[^1].LastLoss,10:F4}");
        Console.WriteLine($"{"TorchSharp",-12} {theirs * 1e3,10:F0} {tokens / theirs,10:F0} {torch.Max(r => r.PeakMiB),10:F0} {torch[^1].LastLoss,10:F4}");
        Console.WriteLine($"speed ratio (TorchSharp time / ours): {theirs / ours:F2}x");
        return 0;
    }

    private static SideResult RunChild(string side, string[] args)
    {
        var start = new ProcessStartInfo(Environment.ProcessPath!) { RedirectStandardOutput = true, UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(Environment.ProcessPath!) == "dotnet")
            start.ArgumentList.Add(typeof(Gpt2TrainingComparison).Assembly.Location);
        foreach (var a in new[] { "gpt2" }.Concat(args).Concat(["--side", side]))
            start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        string output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        var line = output.Split('\n').FirstOrDefault(l => l.StartsWith("RESULT "))
            ?? throw new InvalidOperationException($"gpt2 {side}: the child process exited with {process.ExitCode} and no result:\n{output}");
        return JsonSerializer.Deserialize<SideResult>(line["RESULT ".Length..])!;
    }

    private static (int[] Ids, int[] Targets) Batch(Settings s, int step)
    {
        var random = new Random(step);
        int n = s.Batch * s.Tokens;
        var ids = Enumerable.Range(0, n).Select(_ => random.Next(50257)).ToArray();
        var targets = Enumerable.Range(0, n).Select(_ => random.Next(50257)).ToArray();
        return (ids, targets);
    }

    private static SideResult RunEngine(Settings s)
    {
        using var device = Device.Cpu();
        using var model = Gpt2Model.Create(device, s.Config, seed: 1);
        var options = new Gpt2TrainingOptions { BatchSize = s.Batch, SequenceLength = s.Tokens, TotalSteps = 1000, WarmupSteps = 10 };
        using var trainer = new Gpt2Trainer(model, options, step => Batch(s, step));
        trainer.TrainStep();
        var times = new List<double>();
        float loss = 0;
        for (int i = 0; i < s.Steps; i++)
        {
            var result = trainer.TrainStep();
            times.Add(result.Elapsed.TotalSeconds);
            loss = result.Loss;
        }
        return new SideResult("engine", times.ToArray(), PeakMiB(), loss);
    }

    private static SideResult RunTorch(Settings s)
    {
        TT.set_num_threads(Environment.ProcessorCount);
        using var model = TorchGpt2.Initialized(s.Config, TT.ScalarType.Float32, seed: 1);
        var decayed = model.Parameters.Where(p => Gpt2Model.Decays(p.Key)).Select(p => p.Value).ToList();
        var plain = model.Parameters.Where(p => !Gpt2Model.Decays(p.Key)).Select(p => p.Value).ToList();
        var optimizer = TT.optim.AdamW(
            [new TorchSharp.Modules.AdamW.ParamGroup(decayed, weight_decay: 0.1), new TorchSharp.Modules.AdamW.ParamGroup(plain, weight_decay: 0.0)],
            lr: 6e-4, beta1: 0.9, beta2: 0.95);
        double lastLoss = 0;
        double Step(int step)
        {
            var clock = Stopwatch.StartNew();
            using var scope = TT.NewDisposeScope();
            var (ids, targets) = Batch(s, step);
            optimizer.zero_grad();
            var loss = model.Loss(ids, targets, s.Batch, s.Tokens);
            loss.backward();
            TT.nn.utils.clip_grad_norm_(model.Parameters.Values, 1.0);
            optimizer.step();
            double value = loss.item<float>();
            lastLoss = value;
            return clock.Elapsed.TotalSeconds;
        }
        Step(0);
        var times = Enumerable.Range(1, s.Steps).Select(Step).ToArray();
        return new SideResult("torch", times, PeakMiB(), lastLoss);
    }

    /// <summary>The process's peak resident set (VmHWM) in MiB; NaN where /proc is absent.</summary>
    private static double PeakMiB()
    {
        const string path = "/proc/self/status";
        if (!File.Exists(path)) return double.NaN;
        var line = File.ReadLines(path).FirstOrDefault(l => l.StartsWith("VmHWM:"));
        return line is null ? double.NaN : double.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024;
    }

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.OrderBy(v => v).ToArray();
        return sorted.Length == 0 ? double.NaN : sorted[sorted.Length / 2];
    }
}
