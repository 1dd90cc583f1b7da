namespace Engine;

// Reductions over several dimensions at once (torch's x.sum(dim=(0, 2))), composed from the
// one-dimension reductions: each listed dimension is reduced in turn with keepDim, and the
// reduced dimensions are dropped at the end unless keepDim. Sum and Max compose exactly; the
// mean of equal-sized means is the overall mean.
public static partial class F
{
    /// <summary>Sum over every dimension in <paramref name="dims"/> (negative counts from the end).</summary>
    public static Tensor Sum(Tensor x, ReadOnlySpan<int> dims, bool keepDim = false) => ReduceDims(x, dims, keepDim, "Sum", Sum);

    /// <summary>Mean over every dimension in <paramref name="dims"/> (negative counts from the end).</summary>
    public static Tensor Mean(Tensor x, ReadOnlySpan<int> dims, bool keepDim = false) => ReduceDims(x, dims, keepDim, "Mean", Mean);

    /// <summary>Maximum over every dimension in <paramref name="dims"/> (negative counts from the end).</summary>
    public static Tensor Max(Tensor x, ReadOnlySpan<int> dims, bool keepDim = false) => ReduceDims(x, dims, keepDim, "Max", Max);

    private static Tensor ReduceDims(Tensor x, ReadOnlySpan<int> dims, bool keepDim, string name, Func<Tensor, int, bool, Tensor> reduceOne)
    {
        if (dims.IsEmpty)
            throw new ArgumentException($"{name}: no dimensions to reduce for tensor {ShapeMath.Format(x.Shape)}.");
        var normalized = new SortedSet<int>();
        foreach (int dim in dims)
            if (!normalized.Add(ShapeMath.NormalizeDim(dim, x.Rank, name)))
                throw new ArgumentException($"{name}: dimensions {ShapeMath.Format(dims)} repeat dimension {dim} (tensor {ShapeMath.Format(x.Shape)}).");

        using var scope = x.Device.Scope();
        var y = x;
        foreach (int d in normalized)
            y = reduceOne(y, d, true);
        if (keepDim) return scope.Keep(y);
        return scope.Keep(y.Reshape(x.ShapeArray.Where((_, d) => !normalized.Contains(d)).ToArray()));
    }
}
