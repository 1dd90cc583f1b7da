using Engine.Nn;

namespace Engine.Models;

/// <summary>
/// Gives a fresh MLM head what SPLADE's pretrained one has: it trains the head alone, with the
/// encoder frozen, to say from each token's final state which word piece the token is,
/// <code>
///   z = head(h_r)                 [R, V']  the R word-piece tokens of a batch ([CLS]/[SEP] left out)
///   L = mean_r CE(z_r, t(r))               t(r): the output index of token r's word piece
/// </code>
/// then <see cref="CalibrateBias"/> lowers the decoder bias until about one logit per token is
/// positive (a softmax cross-entropy fixes only the differences between logits and leaves most of
/// them above 0), so that log(1 + relu(z)) starts lexical and sparse: mostly the token's own word
/// piece. The ranking loss and the FLOPs regularizer take over from there.
/// Tokens outside the output vocabulary are left out. The batch of step s depends only on (seed, s).
/// </summary>
public sealed class SpladeHeadPretrainer : IDisposable
{
    private readonly SpladeEncoder _model;
    private readonly SpladeStateCache _cache;
    private readonly int[][] _sequences;
    private readonly Dictionary<int, int> _outputIndex;
    private readonly int _textsPerStep;
    private readonly ulong _seed;

    /// <summary>A pretrainer of <paramref name="model"/>'s head on <paramref name="texts"/>, <paramref name="textsPerStep"/> texts a step.</summary>
    public SpladeHeadPretrainer(SpladeEncoder model, SpladeStateCache cache, IReadOnlyList<string> texts, int textsPerStep = 64, double learningRate = 1e-3, ulong seed = 0)
    {
        if (texts.Count == 0 || textsPerStep < 1 || learningRate <= 0)
            throw new ArgumentException($"SpladeHeadPretrainer: {texts.Count} texts, {textsPerStep} per step and learning rate {learningRate} are not a valid run.");
        _model = model;
        _cache = cache;
        _sequences = texts.Select(model.Tokenize).Where(s => s.Length > 2).ToArray();
        if (_sequences.Length == 0)
            throw new ArgumentException("SpladeHeadPretrainer: no text has a word piece.");
        _outputIndex = model.OutputIds.Select((id, index) => (id, index)).ToDictionary(p => p.id, p => p.index);
        _textsPerStep = Math.Min(textsPerStep, _sequences.Length);
        _seed = seed;
        var head = model.HeadParameters.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => kv.Value).ToArray();
        foreach (var p in head) p.RequiresGrad = true;
        Optimizer = new AdamW(head, new AdamWOptions { LearningRate = learningRate, WeightDecay = 0 });
    }

    /// <summary>The optimizer over the head's parameters.</summary>
    public AdamW Optimizer { get; }

    /// <summary>Steps taken.</summary>
    public int Step { get; private set; }

    /// <summary>One step; returns the batch's loss before the update.</summary>
    /// <exception cref="NonFiniteException">The loss is NaN or infinite.</exception>
    public float TrainStep()
    {
        var random = new Random(HashCode.Combine(_seed, Step, "head"));
        var batch = Enumerable.Range(0, _textsPerStep).Select(_ => _sequences[random.Next(_sequences.Length)]).ToArray();
        int tokens = batch.Max(s => s.Length);
        var rows = new List<int>();
        var targets = new List<int>();
        for (int b = 0; b < batch.Length; b++)
            for (int t = 1; t < batch[b].Length - 1; t++)
            {
                if (_outputIndex.TryGetValue(batch[b][t], out int target))
                {
                    rows.Add(b * tokens + t);
                    targets.Add(target);
                }
            }
        if (rows.Count == 0)
            throw new InvalidOperationException($"SpladeHeadPretrainer: step {Step} drew no token of the output vocabulary.");
        var device = _model.Device;
        float loss;
        using (var scope = device.Scope())
        {
            Tensor lastHidden;
            using (Autograd.NoGrad())
                lastHidden = _model.LastHidden(batch, _cache);
            var logits = _model.RowLogits(lastHidden, rows.ToArray());
            var total = F.CrossEntropy(logits, Tensor.FromArray(device, targets.ToArray()));
            loss = total.Item();
            if (!float.IsFinite(loss))
                throw new NonFiniteException("loss", $"SPLADE head pretraining step {Step}: the loss is {loss}.");
            total.Backward();
        }
        Optimizer.Step();
        Optimizer.ZeroGrad();
        Step++;
        return loss;
    }

    /// <summary>
    /// Lowers the decoder bias by the logit value that about <paramref name="positivesPerToken"/>
    /// logits per token exceed, measured on <paramref name="texts"/> random texts; returns the shift.
    /// </summary>
    public float CalibrateBias(double positivesPerToken = 1.5, int texts = 32)
    {
        var random = new Random(HashCode.Combine(_seed, "calibrate"));
        var batch = Enumerable.Range(0, Math.Min(texts, _sequences.Length)).Select(_ => _sequences[random.Next(_sequences.Length)]).ToArray();
        int tokens = batch.Max(s => s.Length);
        var rows = batch.SelectMany((s, b) => Enumerable.Range(1, s.Length - 2).Select(t => b * tokens + t)).ToArray();
        var device = _model.Device;
        float[] logits;
        using (var scope = device.Scope())
        using (Autograd.NoGrad())
        {
            var lastHidden = _model.LastHidden(batch, _cache);
            logits = _model.RowLogits(lastHidden, rows).ToArray();
        }
        Array.Sort(logits);
        int kept = (int)Math.Clamp(Math.Round(positivesPerToken * rows.Length), 1, logits.Length);
        float shift = logits[logits.Length - kept];
        var bias = _model.HeadParameters[SpladeEncoder.DecoderBias];
        using (var scope = device.Scope())
        using (Autograd.NoGrad())
            bias.CopyFrom(bias - shift);
        return shift;
    }

    /// <summary>Frees the optimizer state.</summary>
    public void Dispose() => Optimizer.Dispose();
}
