using System.Diagnostics;
using System.Globalization;
using Engine.Io;
using Engine.Models;

namespace Engine.Cli;

/// <summary>
/// engine train: trains a GPT-2-style model from scratch on token files written by prepare-data,
/// with a live progress line, periodic validation loss and samples, a checkpoint after each
/// evaluation (resumable with --resume) and a loss-curve PNG at the end.
/// </summary>
internal static class TrainCommand
{
    public const string Usage =
        "train     train a GPT-2-style model: [--data DIR] [--out DIR] [--layers 4] [--heads 4] [--channels 128] [--context 128] " +
        "[--batch 8] [--seq 64] [--steps N | --minutes M] [--lr 1e-3] [--warmup 10] [--eval-every 25] [--seed 1] [--resume] [--device cpu|ilgpu-cpu|cuda]";

    private const string Prompt = "\n";

    public static int Run(string[] args)
    {
        var o = Options.Parse(args, "--resume");
        var invariant = CultureInfo.InvariantCulture;
        string dataDir = o.Get("--data", "artifacts/data/moby-dick");
        string outDir = o.Get("--out", "artifacts/gpt2-moby");
        string checkpoint = Path.Combine(outDir, "checkpoint.safetensors");
        Directory.CreateDirectory(outDir);

        var data = TokenDataset.Load(dataDir);
        bool resume = o.Flag("--resume") && File.Exists(checkpoint);
        var config = resume
            ? Gpt2Model.ReadConfig(checkpoint)
            : new Gpt2Config(o.GetInt("--layers", 4), o.GetInt("--heads", 4), o.GetInt("--channels", 128), Gpt2Tokenizer.VocabularySize, o.GetInt("--context", 128));
        float minutes = o.GetFloat("--minutes", 0f);
        var options = resume
            ? Gpt2Trainer.ReadOptions(checkpoint)
            : new Gpt2TrainingOptions
            {
                BatchSize = o.GetInt("--batch", 8),
                SequenceLength = o.GetInt("--seq", 64),
                TotalSteps = o.GetInt("--steps", minutes > 0 ? 1000 : 200),
                WarmupSteps = o.GetInt("--warmup", 10),
                MaxLearningRate = o.GetDouble("--lr", 1e-3),
                MinLearningRate = o.GetDouble("--lr", 1e-3) / 10,
            };
        int evalEvery = o.GetInt("--eval-every", 25);
        ulong seed = (ulong)o.GetInt("--seed", 1);

        using var device = DeviceOption.Create(o.Get("--device", "cpu"));
        using var model = Gpt2Model.Create(device, config, seed);
        var train = new TokenBatches(data.Train, options.BatchSize, options.SequenceLength, BatchOrder.Random, seed);
        var validation = new TokenBatches(data.Validation, options.BatchSize, options.SequenceLength, BatchOrder.Sequential);
        int evalSteps = Math.Min(8, validation.StepsPerPass);
        using var trainer = new Gpt2Trainer(model, options, step => { var b = train.Get(step); return (b.Inputs, b.Targets); });
        if (resume) trainer.LoadCheckpoint(checkpoint);

        Console.WriteLine(string.Create(invariant,
            $"GPT-2 {config.Layers} layers, {config.Heads} heads, {config.Channels} channels, context {config.MaxSequence}: {model.ParameterCount / 1e6:F2}M parameters on {device.Name}"));
        Console.WriteLine(string.Create(invariant,
            $"data: {data.Train.Length:N0} training tokens, {data.Validation.Length:N0} validation tokens; batch {options.BatchSize} x {options.SequenceLength}{(resume ? $"; resuming at step {trainer.Step}" : "")}"));

        var trainPoints = new List<(long, float)>();
        var validationPoints = new List<(long, float)>();
        float Validate() => trainer.Evaluate(Enumerable.Range(0, evalSteps).Select(s => { var b = validation.Get(s); return (b.Inputs, b.Targets); }));
        void Report(float valLoss)
        {
            validationPoints.Add((trainer.Step, valLoss));
            string sample = Sample(model, seed: 7);
            Console.WriteLine(string.Create(invariant, $"step {trainer.Step,5}: validation loss {valLoss:F4}  sample: {sample}"));
        }

        if (!resume) Report(Validate());
        var clock = Stopwatch.StartNew();
        var bar = new ProgressBar(options.TotalSteps, options.BatchSize * options.SequenceLength, firstStep: trainer.Step);
        while (trainer.Step < trainer.Options.TotalSteps)
        {
            var result = trainer.TrainStep();
            trainPoints.Add((trainer.Step, result.Loss));
            if (minutes > 0 && trainer.Step == 3 && !resume)
            {
                double perStep = clock.Elapsed.TotalSeconds / 3;
                int total = Math.Max(trainer.Options.WarmupSteps + 1, (int)(minutes * 60 / perStep));
                trainer.SetTotalSteps(total);
                bar = new ProgressBar(total, options.BatchSize * options.SequenceLength, firstStep: 0, elapsed: () => clock.Elapsed);
            }
            bar.Update(trainer.Step, result.Loss);
            if (trainer.Step % evalEvery == 0 || trainer.Step == trainer.Options.TotalSteps)
            {
                bar.Finish();
                Report(Validate());
                trainer.SaveCheckpoint(checkpoint);
            }
        }
        bar.Finish();

        string chart = Path.Combine(outDir, "loss.png");
        LossChart.Write(chart, trainPoints, validationPoints);
        double tokensPerSecond = trainPoints.Count * (double)options.BatchSize * options.SequenceLength / clock.Elapsed.TotalSeconds;
        Console.WriteLine(string.Create(invariant, $"trained {trainPoints.Count} steps in {clock.Elapsed.TotalSeconds:F0} s ({tokensPerSecond:F0} tokens/s); checkpoint {checkpoint}; loss curve {chart}"));
        return 0;
    }

    /// <summary>A short continuation of a newline, top-k sampled with a fixed seed, on one line.</summary>
    public static string Sample(Gpt2Model model, ulong seed, int tokens = 32)
    {
        var prompt = Gpt2Tokenizer.Shared.Encode(Prompt);
        var ids = Gpt2Generation.Generate(model, prompt, tokens, new SamplingOptions { Temperature = 0.8f, TopK = 40, Seed = seed });
        return Gpt2Tokenizer.Shared.Decode(ids).ReplaceLineEndings(" ").Trim();
    }
}

/// <summary>engine generate: continues a prompt with a trained checkpoint.</summary>
internal static class GenerateCommand
{
    public const string Usage =
        "generate  continue a prompt: [--checkpoint PATH] [--prompt TEXT] [--tokens 100] [--temperature 0.8] [--top-k 40] [--top-p 1] [--seed 1] [--no-cache] [--device cpu|ilgpu-cpu|cuda]";

    public static int Run(string[] args)
    {
        var o = Options.Parse(args, "--no-cache");
        string checkpoint = o.Get("--checkpoint", "artifacts/gpt2-moby/checkpoint.safetensors");
        string prompt = o.Get("--prompt", "Call me Ishmael.");
        var sampling = new SamplingOptions
        {
            Temperature = o.GetFloat("--temperature", 0.8f),
            TopK = o.Has("--top-k") ? o.GetInt("--top-k", 40) : 40,
            TopP = o.GetFloat("--top-p", 1f),
            Seed = (ulong)o.GetInt("--seed", 1),
        };
        int tokens = o.GetInt("--tokens", 100);

        using var device = DeviceOption.Create(o.Get("--device", "cpu"));
        using var model = Gpt2Model.Load(device, checkpoint);
        var tokenizer = Gpt2Tokenizer.Shared;
        var ids = tokenizer.Encode(prompt);
        if (ids.Length == 0) ids = [Gpt2Tokenizer.EndOfText];
        Console.Write(prompt);
        var clock = Stopwatch.StartNew();
        var generated = new List<int>();
        string shown = "";
        void Show(bool final)
        {
            // Decode the whole continuation each time (a character can span several tokens) and
            // hold back a trailing incomplete character until the tokens that finish it arrive.
            string text = tokenizer.Decode(generated.ToArray());
            if (!final) text = text.TrimEnd('\uFFFD');
            if (text.Length > shown.Length && text.StartsWith(shown, StringComparison.Ordinal))
            {
                Console.Write(text[shown.Length..]);
                shown = text;
            }
        }
        Gpt2Generation.Generate(model, ids, tokens, sampling, useCache: !o.Flag("--no-cache"), onToken: token =>
        {
            generated.Add(token);
            Show(final: false);
        });
        Show(final: true);
        Console.WriteLine();
        Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"[{generated.Count} tokens in {clock.Elapsed.TotalSeconds:F2} s, {generated.Count / clock.Elapsed.TotalSeconds:F1} tokens/s]"));
        return 0;
    }
}

/// <summary>The --device option: cpu (SIMD), ilgpu-cpu, cuda or opencl.</summary>
internal static class DeviceOption
{
    public static Device Create(string name) => name switch
    {
        "cpu" => Device.Cpu(),
        "ilgpu-cpu" => Device.IlgpuCpu(),
        "cuda" => Device.Cuda(),
        "opencl" => Device.OpenCL(),
        _ => throw new ArgumentException($"--device must be cpu, ilgpu-cpu, cuda or opencl, not '{name}'."),
    };
}
