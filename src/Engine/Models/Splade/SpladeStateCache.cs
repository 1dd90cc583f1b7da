using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Engine.Models;

/// <summary>
/// The hidden states entering a SPLADE encoder's first tuned layer, kept per token sequence. When
/// training changes only the head and the top layers, everything below them (the embeddings and
/// layers 0 .. <see cref="FirstTunedLayer"/> - 1) maps a text to the same states in every step, every
/// epoch and every run of a sweep that starts from the same pretrained weights, so they are computed
/// once. The cache checks that each encoder it serves has the same frozen weights (a fingerprint of
/// them) and throws otherwise. Not thread-safe.
/// </summary>
public sealed class SpladeStateCache
{
    private readonly Dictionary<int[], float[]> _states = new(SequenceComparer.Instance);
    private readonly ConditionalWeakTable<SpladeEncoder, object> _checked = [];
    private ulong? _fingerprint;

    /// <summary>A cache of the states entering layer <paramref name="firstTunedLayer"/> (0: the embeddings' output).</summary>
    public SpladeStateCache(int firstTunedLayer)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(firstTunedLayer);
        FirstTunedLayer = firstTunedLayer;
    }

    /// <summary>The first layer run on the cached states; the layers below it and the embeddings are frozen.</summary>
    public int FirstTunedLayer { get; }

    /// <summary>Sequences held.</summary>
    public int Count => _states.Count;

    /// <summary>Bytes of states held.</summary>
    public long Bytes => _states.Values.Sum(s => (long)s.Length) * sizeof(float);

    /// <summary>
    /// The states [T_b, H] of each sequence (row-major), computing the missing ones in batches of
    /// <paramref name="batchSize"/> under no-grad.
    /// </summary>
    public IReadOnlyList<float[]> Get(SpladeEncoder encoder, IReadOnlyList<int[]> sequences, int batchSize = 64)
    {
        Check(encoder);
        var missing = sequences.Where(s => !_states.ContainsKey(s)).Distinct(SequenceComparer.Instance).OrderBy(s => s.Length).ToArray();
        int hidden = encoder.Encoder.Config.Hidden;
        using (Autograd.NoGrad())
            for (int start = 0; start < missing.Length; start += batchSize)
            {
                var batch = missing.AsSpan(start, Math.Min(batchSize, missing.Length - start)).ToArray();
                using var scope = encoder.Device.Scope();
                var (ids, mask) = BertEncoder.Pad(encoder.Device, batch);
                var x = encoder.Encoder.Embeddings(ids);
                if (FirstTunedLayer > 0) x = encoder.Encoder.Layers(x, mask, 0, FirstTunedLayer);
                var values = x.ToArray();
                int tokens = ids.Size(1);
                for (int b = 0; b < batch.Length; b++)
                    _states[batch[b]] = values.AsSpan(b * tokens * hidden, batch[b].Length * hidden).ToArray();
            }
        return sequences.Select(s => _states[s]).ToArray();
    }

    private const uint Magic = 0x43_4C_50_53;  // "SPLC"
    private const int MaxSequence = 1 << 16;
    private const int MaxHidden = 1 << 16;

    /// <summary>
    /// Writes the cache to a file, atomically: "SPLC", the first tuned layer, the hidden size, the
    /// frozen weights' fingerprint, the entry count, then per entry its token count, token ids and
    /// states (little-endian int32 and float32), and an FNV-1a checksum of everything before it.
    /// </summary>
    public void Save(string path)
    {
        if (_fingerprint is not { } fingerprint)
            throw new InvalidOperationException("SpladeStateCache.Save: the cache is empty; there is nothing to save.");
        int hidden = _states.Count == 0 ? 0 : _states.First().Value.Length / _states.First().Key.Length;
        Io.AtomicFile.Write(path, stream =>
        {
            using var hashing = new HashingStream(stream);
            using var writer = new BinaryWriter(hashing, System.Text.Encoding.UTF8, leaveOpen: true);
            writer.Write(Magic);
            writer.Write(FirstTunedLayer);
            writer.Write(hidden);
            writer.Write(fingerprint);
            writer.Write(_states.Count);
            foreach (var (sequence, states) in _states)
            {
                writer.Write(sequence.Length);
                writer.Write(MemoryMarshal.AsBytes(sequence.AsSpan()));
                writer.Write(MemoryMarshal.AsBytes(states.AsSpan()));
            }
            writer.Flush();
            ulong checksum = hashing.Hash;
            stream.Write(BitConverter.GetBytes(checksum));
        });
    }

    /// <summary>A cache written by <see cref="Save"/>; its fingerprint still guards which encoders it serves.</summary>
    /// <exception cref="InvalidDataException">The file is truncated, corrupt, or not a state cache.</exception>
    public static SpladeStateCache Load(string path)
    {
        using var file = File.OpenRead(path);
        long length = file.Length;
        using var hashing = new HashingStream(file);
        using var reader = new BinaryReader(hashing);
        InvalidDataException Corrupt(string why) => new($"{path}: not a valid SPLADE state cache ({why}).");
        try
        {
            if (length < 28 || reader.ReadUInt32() != Magic) throw Corrupt("bad magic number");
            int first = reader.ReadInt32(), hidden = reader.ReadInt32();
            ulong fingerprint = reader.ReadUInt64();
            int count = reader.ReadInt32();
            if (first < 0 || hidden <= 0 || hidden > MaxHidden || count < 0) throw Corrupt($"header says layer {first}, hidden {hidden}, {count} entries");
            var cache = new SpladeStateCache(first) { _fingerprint = fingerprint };
            for (int i = 0; i < count; i++)
            {
                int tokens = reader.ReadInt32();
                long needed = (long)tokens * (1 + hidden) * 4 + 8;
                if (tokens < 1 || tokens > MaxSequence || hashing.Position + needed > length) throw Corrupt($"entry {i} of {count} claims {tokens} tokens, past the end of the file");
                var sequence = new int[tokens];
                reader.BaseStream.ReadExactly(MemoryMarshal.AsBytes(sequence.AsSpan()));
                var states = new float[tokens * hidden];
                reader.BaseStream.ReadExactly(MemoryMarshal.AsBytes(states.AsSpan()));
                if (!cache._states.TryAdd(sequence, states)) throw Corrupt($"entry {i} repeats a sequence");
            }
            ulong computed = hashing.Hash;
            Span<byte> stored = stackalloc byte[8];
            file.ReadExactly(stored);
            if (BitConverter.ToUInt64(stored) != computed || file.Position != length) throw Corrupt("checksum mismatch or trailing bytes");
            return cache;
        }
        catch (EndOfStreamException)
        {
            throw Corrupt("truncated");
        }
    }

    /// <summary>A pass-through stream that keeps the FNV-1a hash of the bytes read or written through it.</summary>
    private sealed class HashingStream(Stream inner) : Stream
    {
        public ulong Hash { get; private set; } = Io.Fnv1a.Offset;
        public override bool CanRead => inner.CanRead;
        public override bool CanSeek => false;
        public override bool CanWrite => inner.CanWrite;
        public override long Length => inner.Length;
        public override long Position { get => inner.Position; set => throw new NotSupportedException(); }
        public override void Flush() => inner.Flush();
        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));
        public override int Read(Span<byte> buffer)
        {
            int read = inner.Read(buffer);
            Hash = Io.Fnv1a.Add(Hash, buffer[..read]);
            return read;
        }
        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));
        public override void Write(ReadOnlySpan<byte> buffer)
        {
            Hash = Io.Fnv1a.Add(Hash, buffer);
            inner.Write(buffer);
        }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        protected override void Dispose(bool disposing) { }
    }

    private void Check(SpladeEncoder encoder)
    {
        if (_checked.TryGetValue(encoder, out _)) return;
        int layers = encoder.Encoder.Config.Layers;
        if (FirstTunedLayer > layers)
            throw new ArgumentException($"SpladeStateCache: the first tuned layer {FirstTunedLayer} is beyond the encoder's {layers} layers.");
        ulong hash = Io.Fnv1a.Offset;
        foreach (var (name, tensor) in encoder.Encoder.Parameters.OrderBy(kv => kv.Key, StringComparer.Ordinal))
            if (IsFrozen(name))
                hash = Io.Fnv1a.Add(hash, MemoryMarshal.AsBytes(tensor.ToArray().AsSpan()));
        if (_fingerprint is { } known && known != hash)
            throw new ArgumentException("SpladeStateCache: this encoder's frozen weights (embeddings and the layers below the first tuned one) differ from those the cached states were computed with.");
        _fingerprint = hash;
        _checked.Add(encoder, new object());
    }

    private bool IsFrozen(string name)
    {
        if (name.StartsWith("embeddings.", StringComparison.Ordinal)) return true;
        const string prefix = "encoder.layer.";
        if (!name.StartsWith(prefix, StringComparison.Ordinal)) return false;
        int dot = name.IndexOf('.', prefix.Length);
        return int.Parse(name.AsSpan(prefix.Length, dot - prefix.Length), System.Globalization.CultureInfo.InvariantCulture) < FirstTunedLayer;
    }

    private sealed class SequenceComparer : IEqualityComparer<int[]>
    {
        public static readonly SequenceComparer Instance = new();
        public bool Equals(int[]? x, int[]? y) => x.AsSpan().SequenceEqual(y);
        public int GetHashCode(int[] sequence)
        {
            var hash = new HashCode();
            hash.AddBytes(MemoryMarshal.AsBytes(sequence.AsSpan()));
            return hash.ToHashCode();
        }
    }
}
