namespace Engine;

/// <summary>
/// One recorded op on the tape: where the gradients of its inputs go and how to compute them from
/// the gradient of its output. Saved tensors are aliases the node owns, so the caller may dispose
/// its own handles (or their scope) before the backward runs.
/// </summary>
internal sealed class GradNode
{
    private Func<Tensor, Tensor?[]>? _backward;
    private Tensor[] _saved;

    public GradNode(string op, Tensor?[] inputs, Func<Tensor, Tensor?[]> backward, Tensor[] saved)
    {
        Op = op;
        _backward = backward;
        _saved = saved;
        Inputs = new Edge[inputs.Length];
        for (int i = 0; i < inputs.Length; i++)
        {
            var input = inputs[i];
            if (input is null || !input.RequiresGrad) continue;
            Inputs[i] = new Edge(input.GradFn, input.GradFn is null ? input : null, input.ShapeArray);
        }
    }

    /// <summary>The op's name, for error messages.</summary>
    public string Op { get; }

    /// <summary>Per input: the node that produced it or the leaf it is; default when it needs no gradient.</summary>
    public Edge[] Inputs { get; }

    /// <summary>True once <see cref="Release"/> ran: the graph was already walked and freed.</summary>
    public bool IsReleased => _backward is null;

    /// <summary>Gradients of the inputs (null where not needed) from the gradient of the output.</summary>
    public Tensor?[] Backward(Tensor gradOutput)
    {
        var backward = _backward ?? throw new InvalidOperationException(
            $"Backward: the graph through {Op} was already freed by an earlier Backward(); call Backward(retainGraph: true) to walk it twice.");
        return backward(gradOutput);
    }

    /// <summary>Frees the saved tensors and the closure; the node cannot run again.</summary>
    public void Release()
    {
        _backward = null;
        foreach (var t in _saved) t.Dispose();
        _saved = [];
    }
}

/// <summary>Where an input's gradient goes: into a producing node, or into a leaf tensor's Grad.</summary>
internal readonly record struct Edge(GradNode? Node, Tensor? Leaf, int[]? Shape)
{
    public bool IsLive => Node is not null || Leaf is not null;
}
