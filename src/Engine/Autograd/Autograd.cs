namespace Engine;

/// <summary>
/// Reverse-mode automatic differentiation. Ops on tensors that require gradients are recorded
/// on the calling thread's tape (each output tensor points to the op that made it);
/// <see cref="Tensor.Backward"/> walks the recorded ops from a result back to the leaves in
/// reverse topological order and adds each leaf's gradient into its <see cref="Tensor.Grad"/>.
/// As in PyTorch, the walk frees the graph unless asked to keep it, and gradients accumulate
/// across calls until they are zeroed.
/// </summary>
public static class Autograd
{
    [ThreadStatic] private static int _paused;
    [ThreadStatic] private static int _checkingFinite;

    /// <summary>True when ops on this thread are recorded (not inside <see cref="NoGrad"/>).</summary>
    public static bool IsEnabled => _paused == 0;

    /// <summary>Until the result is disposed, ops on this thread are not recorded (inference, optimizer updates).</summary>
    public static NoGradScope NoGrad() => new(paused: true);

    /// <summary>Disables recording on this thread while it lives; a struct, so pausing inside every op costs no allocation.</summary>
    public readonly struct NoGradScope : IDisposable
    {
        private readonly bool _paused;

        internal NoGradScope(bool paused)
        {
            _paused = paused;
            if (paused) Autograd._paused++;
        }

        /// <summary>Ends the pause.</summary>
        public void Dispose()
        {
            if (_paused) Autograd._paused--;
        }
    }

    /// <summary>
    /// Until the result is disposed, every recorded op on this thread checks its output and throws
    /// a <see cref="NonFiniteException"/> naming the op when it holds a NaN or an infinity. Slow (each
    /// output is read back): for finding where a diverged run first went wrong.
    /// </summary>
    public static IDisposable DetectNonFinite() => new FiniteCheck();

    private sealed class FiniteCheck : IDisposable
    {
        private bool _disposed;

        public FiniteCheck() => _checkingFinite++;

        public void Dispose()
        {
            if (_disposed) return;
            _disposed = true;
            _checkingFinite--;
        }
    }

    // ---- recording (used by the ops in F and the views in Tensor) ----

    /// <summary>True when recording is on and some input requires a gradient.</summary>
    internal static bool Needs(Tensor a) => _paused == 0 && a.RequiresGrad;
    internal static bool Needs(Tensor a, Tensor? b) => _paused == 0 && (a.RequiresGrad || b?.RequiresGrad == true);
    internal static bool Needs(Tensor a, Tensor? b, Tensor? c) => _paused == 0 && (a.RequiresGrad || b?.RequiresGrad == true || c?.RequiresGrad == true);

    /// <summary>Pauses recording while an op computes, so the views and helper ops it uses inside are not recorded.</summary>
    internal static NoGradScope Pause() => new(paused: true);

    /// <summary>An alias of <paramref name="t"/> owned by a tape node (outside every scope).</summary>
    internal static Tensor Save(Tensor t) => t.Alias();

    /// <summary>
    /// Records that <paramref name="output"/> was computed from <paramref name="inputs"/> (null for
    /// operands that take no gradient); <paramref name="backward"/> maps the output's gradient to
    /// the inputs' gradients, each of its input's shape, or null. <paramref name="saved"/> are
    /// aliases from <see cref="Save"/>, freed with the node.
    /// </summary>
    internal static void Record(string op, Tensor output, Tensor?[] inputs, Func<Tensor, Tensor?[]> backward, params Tensor[] saved)
    {
        output.GradFn = new GradNode(op, inputs, backward, saved);
        if (_checkingFinite > 0 && output.DType == DType.Float32)
        {
            var values = output.ToArray();
            int bad = Array.FindIndex(values, v => !float.IsFinite(v));
            if (bad >= 0)
                throw new NonFiniteException(op, $"{op}: output {ShapeMath.Format(output.Shape)} holds {values[bad]} at flat position {bad} (inputs {string.Join(", ", inputs.Where(i => i is not null).Select(i => ShapeMath.Format(i!.Shape)))}).");
        }
    }

    // ---- the backward walk ----

    internal static void Backward(Tensor root, Tensor? gradient, bool retainGraph)
    {
        if (!root.RequiresGrad)
            throw new InvalidOperationException($"Backward: tensor {ShapeMath.Format(root.Shape)} does not require a gradient (no input of it had RequiresGrad set, or it was computed under NoGrad).");
        if (gradient is null && root.Count != 1)
            throw new ArgumentException($"Backward: tensor {ShapeMath.Format(root.Shape)} has {root.Count} elements; pass the gradient of the output explicitly, or reduce it to one element first.");
        if (gradient is not null && (!gradient.Shape.SequenceEqual(root.Shape) || gradient.Device != root.Device || gradient.DType != DType.Float32))
            throw new ArgumentException($"Backward: gradient {ShapeMath.Format(gradient.Shape)} must be float32 with the shape {ShapeMath.Format(root.Shape)} of the tensor, on its device.");

        using var pause = Pause();
        using var scope = root.Device.Scope();
        // A gradient the caller passed stays the caller's: the walk works on a copy.
        var seed = gradient is null ? Tensor.Ones(root.Device, root.Shape) : gradient.Contiguous().Clone();
        var leaves = new Dictionary<Tensor, Tensor>(ReferenceEqualityComparer.Instance);
        if (root.GradFn is null)
        {
            leaves[root] = seed;
        }
        else
        {
            var order = TopologicalOrder(root.GradFn);
            var pending = new Dictionary<GradNode, Tensor> { [root.GradFn] = seed };
            foreach (var node in order)
            {
                if (!pending.Remove(node, out var gradOutput)) continue;
                var gradInputs = node.Backward(gradOutput);
                for (int i = 0; i < node.Inputs.Length; i++)
                {
                    var edge = node.Inputs[i];
                    var g = i < gradInputs.Length ? gradInputs[i] : null;
                    if (!edge.IsLive || g is null) continue;
                    if (!g.Shape.SequenceEqual(edge.Shape))
                        throw new InvalidOperationException($"Backward: {node.Op} produced a gradient {ShapeMath.Format(g.Shape)} for its input {i} of shape {ShapeMath.Format(edge.Shape)}.");
                    if (edge.Leaf is not null)
                        leaves[edge.Leaf] = leaves.TryGetValue(edge.Leaf, out var leafSum) ? F.Add(leafSum, g) : g;
                    else
                        pending[edge.Node!] = pending.TryGetValue(edge.Node!, out var sum) ? F.Add(sum, g) : g;
                }
                if (!retainGraph) node.Release();
            }
        }

        // Leaves take their gradients only now, when no node will read a gradient again: a first
        // gradient is adopted (no copy) unless another leaf already took its memory or it is not
        // contiguous; an existing gradient is added to in place.
        var adopted = new HashSet<SharedStorage>(ReferenceEqualityComparer.Instance);
        foreach (var (leaf, g) in leaves)
        {
            if (leaf.Grad is { IsDisposed: false } existing)
                F.AddInPlace(existing, g);
            else if (g.IsContiguous && adopted.Add(g.Storage))
                leaf.Grad = g.Alias();
            else
                leaf.Grad = F.CopyUnscoped(g);
        }
    }

    /// <summary>Nodes reachable from <paramref name="root"/>, each after every node that consumes its output.</summary>
    private static List<GradNode> TopologicalOrder(GradNode root)
    {
        var postOrder = new List<GradNode>();
        var visited = new HashSet<GradNode>();
        var stack = new Stack<(GradNode Node, int Next)>();
        visited.Add(root);
        stack.Push((root, 0));
        while (stack.Count > 0)
        {
            var (node, next) = stack.Pop();
            if (node.IsReleased)
                throw new InvalidOperationException($"Backward: the graph through {node.Op} was already freed by an earlier Backward(); call Backward(retainGraph: true) to walk it twice.");
            if (next < node.Inputs.Length)
            {
                stack.Push((node, next + 1));
                var child = node.Inputs[next].Node;
                if (child is not null && visited.Add(child))
                    stack.Push((child, 0));
            }
            else
            {
                postOrder.Add(node);
            }
        }
        postOrder.Reverse();
        return postOrder;
    }
}
