using Engine.Kernels;

namespace Engine;

/// <summary>Argument checks shared by the ops: every failure names the op and the shapes.</summary>
internal static class Checks
{
    public static void SameDevice(string op, Tensor a, Tensor b)
    {
        if (a.Device != b.Device)
            throw new ArgumentException($"{op}: operands are on different devices ({ShapeMath.Format(a.Shape)} on {a.Device.Kind}, {ShapeMath.Format(b.Shape)} on {b.Device.Kind}).");
    }

    public static void Float(string op, Tensor t, string role = "input")
    {
        if (t.DType != DType.Float32)
            throw new ArgumentException($"{op}: {role} {ShapeMath.Format(t.Shape)} is {t.DType}; float32 is required.");
    }

    public static void Int(string op, Tensor t, string role)
    {
        if (t.DType != DType.Int32)
            throw new ArgumentException($"{op}: {role} {ShapeMath.Format(t.Shape)} is {t.DType}; int32 is required.");
    }

    public static void MinRank(string op, Tensor t, int rank, string role = "input")
    {
        if (t.Rank < rank)
            throw new ArgumentException($"{op}: {role} {ShapeMath.Format(t.Shape)} has rank {t.Rank}; at least {rank} is required.");
    }
}

/// <summary>
/// Builds the <see cref="ElementwiseLayout"/> a kernel iterates: broadcast strides per input,
/// size-1 dimensions dropped, and adjacent dimensions merged where every operand is contiguous
/// across them, so a contiguous op reaches the kernel as rank 1.
/// </summary>
internal static class Layouts
{
    public static ElementwiseLayout Build(string op, ReadOnlySpan<int> outShape, ReadOnlySpan<int> stridesA, ReadOnlySpan<int> stridesB)
    {
        var shape = new List<int>();
        var sa = new List<int>();
        var sb = new List<int>();
        for (int d = 0; d < outShape.Length; d++)
        {
            if (outShape[d] == 1) continue;
            int a = stridesA[d], b = stridesB.IsEmpty ? 0 : stridesB[d];
            int last = shape.Count - 1;
            if (last >= 0 && sa[last] == a * outShape[d] && sb[last] == b * outShape[d])
            {
                shape[last] *= outShape[d];
                sa[last] = a;
                sb[last] = b;
            }
            else
            {
                shape.Add(outShape[d]);
                sa.Add(a);
                sb.Add(b);
            }
        }
        if (shape.Count == 0)
        {
            shape.Add(1);
            sa.Add(0);
            sb.Add(0);
        }
        if (shape.Count > Dims8.MaxRank)
            throw new ArgumentException($"{op}: output {ShapeMath.Format(outShape)} needs {shape.Count} dimensions after merging; at most {Dims8.MaxRank} are supported. Make an operand contiguous first.");
        var layout = new ElementwiseLayout { Rank = shape.Count };
        for (int d = 0; d < shape.Count; d++)
        {
            layout.Shape.Set(d, shape[d]);
            layout.StridesA.Set(d, sa[d]);
            layout.StridesB.Set(d, sb[d]);
        }
        return layout;
    }
}
