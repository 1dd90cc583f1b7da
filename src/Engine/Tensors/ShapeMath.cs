namespace Engine;

/// <summary>Shape arithmetic shared by the tensor and the ops: counts, strides, checks, formatting.</summary>
internal static class ShapeMath
{
    public static long Count(ReadOnlySpan<int> shape)
    {
        long n = 1;
        foreach (int d in shape) n *= d;
        return n;
    }

    public static int[] Validate(ReadOnlySpan<int> shape, string op)
    {
        foreach (int d in shape)
            if (d < 0)
                throw new ArgumentException($"{op}: shape {Format(shape)} has a negative dimension.");
        if (Count(shape) > int.MaxValue)
            throw new ArgumentException($"{op}: shape {Format(shape)} has more than {int.MaxValue} elements, the most a tensor holds.");
        return shape.ToArray();
    }

    public static int[] ContiguousStrides(ReadOnlySpan<int> shape)
    {
        var strides = new int[shape.Length];
        int stride = 1;
        for (int d = shape.Length - 1; d >= 0; d--)
        {
            strides[d] = stride;
            stride *= Math.Max(shape[d], 1);
        }
        return strides;
    }

    public static bool IsContiguous(ReadOnlySpan<int> shape, ReadOnlySpan<int> strides)
    {
        if (Count(shape) == 0) return true;
        int expected = 1;
        for (int d = shape.Length - 1; d >= 0; d--)
        {
            if (shape[d] != 1 && strides[d] != expected) return false;
            expected *= shape[d];
        }
        return true;
    }

    public static int NormalizeDim(int dim, int rank, string op)
    {
        int d = dim < 0 ? dim + rank : dim;
        if (d < 0 || d >= Math.Max(rank, 1))
            throw new ArgumentException($"{op}: dimension {dim} is out of range for a tensor of rank {rank}.");
        return d;
    }

    public static string Format(ReadOnlySpan<int> shape) => "[" + string.Join(", ", shape.ToArray()) + "]";

    /// <summary>Numpy/torch broadcasting of two shapes (right-aligned; sizes equal or 1).</summary>
    public static int[] Broadcast(ReadOnlySpan<int> a, ReadOnlySpan<int> b, string op)
    {
        int rank = Math.Max(a.Length, b.Length);
        var result = new int[rank];
        for (int i = 0; i < rank; i++)
        {
            int da = i < rank - a.Length ? 1 : a[i - (rank - a.Length)];
            int db = i < rank - b.Length ? 1 : b[i - (rank - b.Length)];
            if (da != db && da != 1 && db != 1)
                throw new ArgumentException($"{op}: shapes {Format(a)} and {Format(b)} cannot be broadcast together (dimension {i}: {da} vs {db}).");
            result[i] = da == 1 ? db : da;
        }
        return result;
    }

    /// <summary>Strides that read a tensor of (shape, strides) as if it had shape <paramref name="target"/> (0 on broadcast dimensions).</summary>
    public static int[] BroadcastStrides(ReadOnlySpan<int> shape, ReadOnlySpan<int> strides, ReadOnlySpan<int> target)
    {
        var result = new int[target.Length];
        int lead = target.Length - shape.Length;
        for (int i = lead; i < target.Length; i++)
            result[i] = shape[i - lead] == 1 ? 0 : strides[i - lead];
        return result;
    }
}
