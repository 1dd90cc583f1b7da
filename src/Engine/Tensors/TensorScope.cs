namespace Engine;

/// <summary>
/// Disposes, when it is disposed, every tensor created on this thread while it was the innermost
/// open scope, except those passed to <see cref="Keep"/>. Scopes nest; a kept tensor moves to the
/// enclosing scope, if any. This keeps loops free of manual disposal of intermediates:
/// <code>
/// using (var scope = device.Scope())
/// {
///     var h = x.MatMul(w).Gelu();     // intermediates are freed at the end of the block
///     result = scope.Keep(h.Sum());
/// }
/// </code>
/// </summary>
public sealed class TensorScope : IDisposable
{
    [ThreadStatic] private static TensorScope? _current;

    private readonly TensorScope? _parent;
    private readonly List<Tensor> _owned = new();
    private bool _disposed;

    internal TensorScope()
    {
        _parent = _current;
        _current = this;
    }

    internal static void Register(Tensor tensor) => _current?._owned.Add(tensor);

    /// <summary>
    /// Until the result is disposed, tensors created on this thread belong to no scope: for
    /// long-lived state (model weights) built while a caller may have a scope open.
    /// </summary>
    public static IDisposable Suspend() => new Suspension();

    private sealed class Suspension : IDisposable
    {
        private readonly TensorScope? _saved = _current;
        private bool _disposed;

        public Suspension() => _current = null;

        public void Dispose()
        {
            if (_disposed) return;
            _disposed = true;
            _current = _saved;
        }
    }

    /// <summary>Keeps <paramref name="tensor"/> alive past this scope (handing it to the enclosing scope) and returns it.</summary>
    public Tensor Keep(Tensor tensor)
    {
        if (_owned.Remove(tensor))
            _parent?._owned.Add(tensor);
        return tensor;
    }

    /// <summary>Disposes the tensors owned by this scope and makes the enclosing scope current again.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        if (_current != this)
            throw new InvalidOperationException("TensorScope: scopes must be disposed in reverse order of creation, on the thread that created them.");
        _current = _parent;
        foreach (var tensor in _owned)
            tensor.Dispose();
        _owned.Clear();
    }
}
