using Engine.Kernels;

namespace Engine;

// The fused AdamW update of one parameter tensor in place (the math is in AdamWStep). Not an op
// of the graph: the optimizer calls it outside recording.
public static partial class F
{
    internal static void AdamWUpdate(Tensor param, Tensor grad, Tensor m, Tensor v, in AdamWStep step)
    {
        const string op = "AdamW";
        foreach (var (t, role) in new[] { (grad, "gradient"), (m, "first moment"), (v, "second moment") })
        {
            Checks.SameDevice(op, param, t);
            if (!t.Shape.SequenceEqual(param.Shape) || !t.IsContiguous)
                throw new ArgumentException($"{op}: {role} {ShapeMath.Format(t.Shape)} must be contiguous with the parameter's shape {ShapeMath.Format(param.Shape)}.");
        }
        if (!param.IsContiguous)
            throw new ArgumentException($"{op}: parameter {ShapeMath.Format(param.Shape)} must be contiguous.");
        if (param.Count > 0)
            param.Backend.AdamW(param.Buffer, grad.Buffer, m.Buffer, v.Buffer, param.Count, step);
        param.Storage.MarkWritten();
    }
}
