namespace Engine.Models;

/// <summary>
/// Keys and values of the positions a GPT-2 model has already seen, per layer [B, H, capacity, D],
/// so generation computes each new token's attention against them instead of re-running the whole
/// sequence. For inference only (writes go in place, outside the autograd graph).
/// </summary>
public sealed class Gpt2KvCache : IDisposable
{
    private readonly Tensor[] _keys;
    private readonly Tensor[] _values;

    /// <summary>An empty cache for <paramref name="batch"/> sequences of up to <paramref name="capacity"/> positions (default: the model's context).</summary>
    public Gpt2KvCache(Gpt2Model model, int batch, int? capacity = null)
    {
        var c = model.Config;
        Capacity = capacity ?? c.MaxSequence;
        if (batch < 1 || Capacity < 1 || Capacity > c.MaxSequence)
            throw new ArgumentException($"Gpt2KvCache: batch {batch} and capacity {Capacity} must be positive, capacity at most the context {c.MaxSequence}.");
        Batch = batch;
        using var suspend = TensorScope.Suspend();
        _keys = Enumerable.Range(0, c.Layers).Select(_ => Tensor.Zeros(model.Device, [batch, c.Heads, Capacity, c.HeadSize])).ToArray();
        _values = Enumerable.Range(0, c.Layers).Select(_ => Tensor.Zeros(model.Device, [batch, c.Heads, Capacity, c.HeadSize])).ToArray();
    }

    /// <summary>Sequences held.</summary>
    public int Batch { get; }

    /// <summary>Positions it can hold.</summary>
    public int Capacity { get; }

    /// <summary>Positions held so far.</summary>
    public int Length { get; private set; }

    /// <summary>Forgets every position (the memory is kept).</summary>
    public void Reset() => Length = 0;

    /// <summary>Writes the new keys and values [B, H, Tnew, D] after the held positions; returns views of all of them, [B, H, Length + Tnew, D].</summary>
    internal (Tensor Keys, Tensor Values) Append(int layer, Tensor keys, Tensor values)
    {
        int tokens = keys.Size(2);
        using (var target = _keys[layer].Narrow(2, Length, tokens)) target.CopyFrom(keys);
        using (var target = _values[layer].Narrow(2, Length, tokens)) target.CopyFrom(values);
        return (_keys[layer].Narrow(2, 0, Length + tokens), _values[layer].Narrow(2, 0, Length + tokens));
    }

    /// <summary>Counts <paramref name="tokens"/> more positions as held (after every layer appended them).</summary>
    internal void Advance(int tokens) => Length += tokens;

    /// <summary>Frees the keys and values.</summary>
    public void Dispose()
    {
        foreach (var t in _keys) t.Dispose();
        foreach (var t in _values) t.Dispose();
    }
}
