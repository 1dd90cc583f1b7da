namespace Engine;

// The autograd face of a tensor (see Autograd for the tape): leaves that require gradients,
// the op that produced a tensor, and the accumulated gradient.
public sealed partial class Tensor
{
    private bool _requiresGrad;

    /// <summary>The recorded op that produced this tensor; null for leaves and for tensors made without recording.</summary>
    internal GradNode? GradFn { get; set; }

    /// <summary>
    /// Whether gradients flow to this tensor: set it on a float32 leaf (a parameter) to have
    /// <see cref="Backward"/> fill <see cref="Grad"/>; results of recorded ops require it when an input does.
    /// </summary>
    public bool RequiresGrad
    {
        get => _requiresGrad || GradFn is not null;
        set
        {
            if (GradFn is not null)
            {
                if (!value) throw new InvalidOperationException($"RequiresGrad: tensor {ShapeMath.Format(_shape)} is the result of a recorded op; use Detach() for a copy without history.");
                return;
            }
            if (value && DType != DType.Float32)
                throw new ArgumentException($"RequiresGrad: tensor {ShapeMath.Format(_shape)} is {DType}; only float32 tensors take gradients.");
            _requiresGrad = value;
        }
    }

    /// <summary>True for tensors no recorded op produced (inputs and parameters).</summary>
    public bool IsLeaf => GradFn is null;

    /// <summary>
    /// The gradient accumulated by <see cref="Backward"/> for a leaf that requires it (null until the
    /// first backward). It shares memory with nothing else and is freed with this tensor; <see cref="ZeroGrad"/> zeroes it.
    /// </summary>
    public Tensor? Grad { get; internal set; }

    /// <summary>
    /// Computes the gradients of this tensor with respect to every leaf it depends on and adds them
    /// to the leaves' <see cref="Grad"/>. <paramref name="gradient"/> is dOut/dThis, needed unless this
    /// tensor has one element. The graph is freed afterwards unless <paramref name="retainGraph"/>.
    /// </summary>
    public void Backward(Tensor? gradient = null, bool retainGraph = false) => Autograd.Backward(this, gradient, retainGraph);

    /// <summary>Sets the accumulated gradient to zero, keeping its memory for the next backward.</summary>
    public void ZeroGrad()
    {
        if (Grad is { IsDisposed: false } grad)
        {
            Backend.Fill(grad.Buffer, grad.Count, 0f);
            grad.Storage.MarkWritten();
        }
    }

    /// <summary>Frees the accumulated gradient; the next backward makes a new one without a copy (torch's set_to_none).</summary>
    public void ClearGrad()
    {
        Grad?.Dispose();
        Grad = null;
    }

    /// <summary>A view of the same elements that is cut from the graph (requires no gradient).</summary>
    public Tensor Detach() => View(_shape, _strides, Offset);

    /// <summary>A contiguous copy that does not share memory with this tensor (recorded like any op).</summary>
    public Tensor Clone() => F.Clone(this);
}
