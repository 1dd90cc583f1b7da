namespace Engine.Backends;

/// <summary>
/// A caching allocator: requests are rounded up to a size class (powers of two split in four
/// steps, so at most 25% is wasted) and freed blocks are kept per class for the next request of
/// that class. In steady state (a training or inference loop) no memory is allocated or touched
/// for the first time, which matters where a fresh page costs microseconds.
/// </summary>
internal sealed class SizeClassPool<T> : IDisposable where T : Storage
{
    private readonly Func<long, T> _create;
    private readonly Action<T> _free;
    private readonly Dictionary<long, Stack<T>> _cached = new();
    // Every block made and not yet freed, in use or cached. Holding them here keeps a block whose
    // tensors were dropped without Dispose reachable until their finalizer returns it: a backend
    // buffer with a finalizer of its own (ILGPU's) must not be freed by the collector behind the
    // pool's back and then handed out again.
    private readonly HashSet<T> _live = new(ReferenceEqualityComparer.Instance);
    private readonly object _lock = new();
    private long _bytes;
    private bool _disposed;

    public SizeClassPool(Func<long, T> create, Action<T> free)
    {
        _create = create;
        _free = free;
    }

    /// <summary>Bytes held, in use or cached.</summary>
    public long Bytes => Interlocked.Read(ref _bytes);

    /// <summary>The size class of a request: the smallest of 2^k, 1.25*2^k, 1.5*2^k, 1.75*2^k that fits (minimum 16 elements).</summary>
    public static long SizeClass(long length)
    {
        if (length <= 16) return 16;
        int k = 63 - System.Numerics.BitOperations.LeadingZeroCount((ulong)length);
        long power = 1L << k;
        if (power == length) return length;
        long quarter = power >> 2;
        for (long size = power + quarter; ; size += quarter)
            if (size >= length) return size;
    }

    public T Rent(long length)
    {
        long size = SizeClass(Math.Max(length, 1));
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_cached.TryGetValue(size, out var stack) && stack.Count > 0)
                return stack.Pop();
        }
        T created;
        try
        {
            created = _create(size);
        }
        catch (OutOfMemoryException)
        {
            // Give cached blocks back and try once more before failing.
            Trim();
            created = _create(size);
        }
        Interlocked.Add(ref _bytes, size * sizeof(float));
        lock (_lock) _live.Add(created);
        return created;
    }

    public void Return(T storage)
    {
        lock (_lock)
        {
            if (_disposed)
            {
                _live.Remove(storage);
                _free(storage);
                return;
            }
            if (!_cached.TryGetValue(storage.Length, out var stack))
                _cached[storage.Length] = stack = new Stack<T>();
            stack.Push(storage);
        }
    }

    public void Trim()
    {
        lock (_lock)
        {
            foreach (var stack in _cached.Values)
                while (stack.Count > 0)
                {
                    var s = stack.Pop();
                    Interlocked.Add(ref _bytes, -s.Length * sizeof(float));
                    _live.Remove(s);
                    _free(s);
                }
        }
    }

    public void Dispose()
    {
        Trim();
        lock (_lock) _disposed = true;
    }
}
