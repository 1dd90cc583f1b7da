namespace Engine;

/// <summary>
/// The functional op set, PyTorch-shaped: each op checks its arguments (an ArgumentException names
/// the op and the shapes), makes operands contiguous where its kernel needs it, allocates the
/// output and dispatches to the device's backend. One op family per file (F.*.cs).
/// </summary>
public static partial class F
{
    /// <summary>A view that is contiguous, or a contiguous copy; the flag says whether the caller owns a copy.</summary>
    private static Tensor Dense(Tensor t, out bool copied)
    {
        copied = !t.IsContiguous;
        return copied ? Unary(Kernels.UnaryOp.Identity, t, "Contiguous") : t;
    }
}
