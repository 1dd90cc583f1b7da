namespace Engine;

public sealed partial class Tensor
{
    private Tensor View(int[] shape, int[] strides, long offset) => new(Storage, shape, strides, offset, DType);

    /// <summary>Records a view op when this tensor takes gradients: <paramref name="backward"/> maps the view's gradient to this tensor's.</summary>
    private Tensor Recorded(Tensor view, string op, Func<Tensor, Tensor> backward)
    {
        if (Autograd.Needs(this)) Autograd.Record(op, view, [this], g => [backward(g)]);
        return view;
    }

    /// <summary>
    /// The same elements with a new shape (one entry may be -1 to be inferred). A view when the
    /// tensor is contiguous, otherwise a contiguous copy, as torch.reshape.
    /// </summary>
    public Tensor Reshape(params int[] shape)
    {
        var dims = (int[])shape.Clone();
        int infer = -1;
        long known = 1;
        for (int i = 0; i < dims.Length; i++)
        {
            if (dims[i] == -1)
            {
                if (infer >= 0) throw new ArgumentException($"Reshape: {ShapeMath.Format(shape)} has more than one -1 (tensor {ShapeMath.Format(_shape)}).");
                infer = i;
            }
            else if (dims[i] < 0) throw new ArgumentException($"Reshape: {ShapeMath.Format(shape)} has a negative size (tensor {ShapeMath.Format(_shape)}).");
            else known *= dims[i];
        }
        if (infer >= 0)
        {
            if (known == 0 || Count % known != 0)
                throw new ArgumentException($"Reshape: cannot infer -1 in {ShapeMath.Format(shape)} for tensor {ShapeMath.Format(_shape)} ({Count} elements).");
            dims[infer] = (int)(Count / known);
        }
        if (ShapeMath.Count(dims) != Count)
            throw new ArgumentException($"Reshape: tensor {ShapeMath.Format(_shape)} ({Count} elements) cannot take shape {ShapeMath.Format(shape)} ({ShapeMath.Count(dims)} elements).");
        if (IsContiguous)
        {
            var from = _shape;
            return Recorded(View(dims, ShapeMath.ContiguousStrides(dims), Offset), "Reshape", g => g.Reshape(from));
        }
        using var dense = Contiguous();
        return dense.Reshape(dims);
    }

    /// <summary>All dimensions from <paramref name="startDim"/> on merged into one.</summary>
    public Tensor Flatten(int startDim = 0)
    {
        int start = ShapeMath.NormalizeDim(startDim, Rank, "Flatten");
        var dims = new int[start + 1];
        Array.Copy(_shape, dims, start);
        dims[start] = (int)ShapeMath.Count(_shape.AsSpan(start));
        return Reshape(dims);
    }

    /// <summary>A view with dimensions <paramref name="dim0"/> and <paramref name="dim1"/> swapped.</summary>
    public Tensor Transpose(int dim0, int dim1)
    {
        int a = ShapeMath.NormalizeDim(dim0, Rank, "Transpose"), b = ShapeMath.NormalizeDim(dim1, Rank, "Transpose");
        var order = Enumerable.Range(0, Rank).ToArray();
        (order[a], order[b]) = (order[b], order[a]);
        return Permute(order);
    }

    /// <summary>The transpose of a 2-D tensor (a view).</summary>
    public Tensor T => Rank == 2 ? Transpose(0, 1) : throw new ArgumentException($"T: tensor {ShapeMath.Format(_shape)} is not 2-D; use Transpose(dim0, dim1).");

    /// <summary>A view whose dimension i is dimension <c>order[i]</c> of this tensor.</summary>
    public Tensor Permute(params int[] order)
    {
        if (order.Length != Rank)
            throw new ArgumentException($"Permute: order {ShapeMath.Format(order)} has {order.Length} entries for tensor {ShapeMath.Format(_shape)} of rank {Rank}.");
        var seen = new bool[Rank];
        var shape = new int[Rank];
        var strides = new int[Rank];
        for (int i = 0; i < Rank; i++)
        {
            int d = ShapeMath.NormalizeDim(order[i], Rank, "Permute");
            if (seen[d]) throw new ArgumentException($"Permute: order {ShapeMath.Format(order)} repeats dimension {d} (tensor {ShapeMath.Format(_shape)}).");
            seen[d] = true;
            shape[i] = _shape[d];
            strides[i] = _strides[d];
        }
        var inverse = new int[Rank];
        for (int i = 0; i < Rank; i++) inverse[ShapeMath.NormalizeDim(order[i], Rank, "Permute")] = i;
        return Recorded(View(shape, strides, Offset), "Permute", g => g.Permute(inverse));
    }

    /// <summary>
    /// A view of elements start, start + step, ... below end along <paramref name="dim"/>, with
    /// Python's rules for negative and out-of-range bounds (torch/numpy slicing, positive step).
    /// </summary>
    public Tensor Slice(int dim, int start, int end, int step = 1)
    {
        int d = ShapeMath.NormalizeDim(dim, Rank, "Slice");
        if (step <= 0)
            throw new ArgumentException($"Slice: step {step} must be positive (tensor {ShapeMath.Format(_shape)}, dimension {dim}).");
        int size = _shape[d];
        int Clamp(int i) => Math.Clamp(i < 0 ? i + size : i, 0, size);
        int s = Clamp(start), e = Clamp(end);
        int length = e > s ? (e - s + step - 1) / step : 0;
        var shape = (int[])_shape.Clone();
        var strides = (int[])_strides.Clone();
        shape[d] = length;
        strides[d] = _strides[d] * step;
        var from = _shape;
        return Recorded(View(shape, strides, Offset + (long)s * _strides[d]), "Slice", g => F.SliceGrad(g, from, d, s, step));
    }

    /// <summary>A view of <paramref name="length"/> elements from <paramref name="start"/> along <paramref name="dim"/> (bounds checked).</summary>
    public Tensor Narrow(int dim, int start, int length)
    {
        int d = ShapeMath.NormalizeDim(dim, Rank, "Narrow");
        if (start < 0 || length < 0 || start + length > _shape[d])
            throw new ArgumentException($"Narrow: elements {start}..{start + length} are outside dimension {dim} of size {_shape[d]} (tensor {ShapeMath.Format(_shape)}).");
        return Slice(d, start, start + length);
    }

    /// <summary>A view with a dimension of size 1 inserted at <paramref name="dim"/>.</summary>
    public Tensor Unsqueeze(int dim)
    {
        int d = dim < 0 ? dim + Rank + 1 : dim;
        if (d < 0 || d > Rank)
            throw new ArgumentException($"Unsqueeze: dimension {dim} is out of range for tensor {ShapeMath.Format(_shape)}.");
        var shape = _shape.ToList();
        var strides = _strides.ToList();
        shape.Insert(d, 1);
        strides.Insert(d, d < Rank ? _strides[d] * _shape[d] : 1);
        var from = _shape;
        return Recorded(View(shape.ToArray(), strides.ToArray(), Offset), "Unsqueeze", g => g.Reshape(from));
    }

    /// <summary>A view without dimension <paramref name="dim"/>, which must have size 1.</summary>
    public Tensor Squeeze(int dim)
    {
        int d = ShapeMath.NormalizeDim(dim, Rank, "Squeeze");
        if (_shape[d] != 1)
            throw new ArgumentException($"Squeeze: dimension {dim} of tensor {ShapeMath.Format(_shape)} has size {_shape[d]}, not 1.");
        var shape = _shape.ToList();
        var strides = _strides.ToList();
        shape.RemoveAt(d);
        strides.RemoveAt(d);
        var from = _shape;
        return Recorded(View(shape.ToArray(), strides.ToArray(), Offset), "Squeeze", g => g.Reshape(from));
    }

    /// <summary>A view repeating size-1 dimensions to <paramref name="shape"/> without copying (torch.expand).</summary>
    public Tensor Expand(params int[] shape)
    {
        var target = ShapeMath.Broadcast(_shape, shape, "Expand");
        if (!target.AsSpan().SequenceEqual(shape))
            throw new ArgumentException($"Expand: tensor {ShapeMath.Format(_shape)} cannot be expanded to {ShapeMath.Format(shape)}.");
        var from = _shape;
        return Recorded(View(target, ShapeMath.BroadcastStrides(_shape, _strides, target), Offset), "Expand", g => F.SumToShape(g, from));
    }

    /// <summary>This tensor when contiguous (a new view), otherwise a contiguous copy.</summary>
    public Tensor Contiguous() =>
        Recorded(IsContiguous ? View(_shape, _strides, Offset) : F.Unary(Kernels.UnaryOp.Identity, this, "Contiguous"), "Contiguous", g => g);

    /// <summary>
    /// Copies <paramref name="source"/> (broadcast to this shape) into this tensor's elements in
    /// place, also when this is a strided view (torch's copy_): for caches and buffers, outside
    /// the graph, so neither tensor may take part in recording.
    /// </summary>
    public void CopyFrom(Tensor source)
    {
        const string op = "CopyFrom";
        if (Autograd.Needs(this, source))
            throw new InvalidOperationException($"{op}: writes in place and is not recorded; copy into {ShapeMath.Format(_shape)} under Autograd.NoGrad() or from a detached tensor.");
        F.CopyInto(this, source, op);
    }
}
