using System.Reflection;

namespace Engine.Kernels.Ilgpu;

/// <summary>One device kernel: its entry method and how it is launched.</summary>
/// <param name="Name">Short name, "Family.Method".</param>
/// <param name="Method">The static kernel method.</param>
/// <param name="ExplicitlyGrouped">
/// True when the kernel takes no index parameter and is launched with an explicit grid and
/// group size (a KernelConfig), using Grid/Group intrinsics; false for an implicitly grouped
/// kernel whose first parameter is its index.
/// </param>
public sealed record KernelInfo(string Name, MethodInfo Method, bool ExplicitlyGrouped);

/// <summary>
/// Every ILGPU kernel in this assembly, so that tests can compile each one for each backend
/// (PTX, OpenCL C) without a device, and the backend can be checked to load them all.
/// </summary>
public static class KernelCatalog
{
    /// <summary>All kernels, in a stable order.</summary>
    public static IReadOnlyList<KernelInfo> All { get; } =
    [
        Explicit(typeof(Elementwise), nameof(Elementwise.Unary)),
        Explicit(typeof(Elementwise), nameof(Elementwise.Binary)),
        Explicit(typeof(Elementwise), nameof(Elementwise.Fill)),
        Explicit(typeof(Elementwise), nameof(Elementwise.UnaryBackward)),
        Explicit(typeof(Elementwise), nameof(Elementwise.BinaryBackward)),
        Explicit(typeof(Elementwise), nameof(Elementwise.Copy)),
        Explicit(typeof(Matmul), nameof(Matmul.Forward)),
        Explicit(typeof(Reduction), nameof(Reduction.Rows)),
        Explicit(typeof(Reduction), nameof(Reduction.Columns)),
        Explicit(typeof(Reduction), nameof(Reduction.MaxBackward)),
        Explicit(typeof(Softmax), nameof(Softmax.Forward)),
        Explicit(typeof(Softmax), nameof(Softmax.Backward)),
        Explicit(typeof(LayerNorm), nameof(LayerNorm.Forward)),
        Explicit(typeof(LayerNorm), nameof(LayerNorm.Backward)),
        Explicit(typeof(LayerNorm), nameof(LayerNorm.GammaBetaBackward)),
        Explicit(typeof(Embedding), nameof(Embedding.Forward)),
        Explicit(typeof(Embedding), nameof(Embedding.Backward)),
        Explicit(typeof(CrossEntropy), nameof(CrossEntropy.Forward)),
        Explicit(typeof(CrossEntropy), nameof(CrossEntropy.Backward)),
        Explicit(typeof(AdamW), nameof(AdamW.Step)),
        Explicit(typeof(Attention), nameof(Attention.Forward)),
        Explicit(typeof(Attention), nameof(Attention.KeyValueBackward)),
        Explicit(typeof(Attention), nameof(Attention.QueryBackward)),
        Explicit(typeof(SpladePool), nameof(SpladePool.Forward)),
        Explicit(typeof(SpladePool), nameof(SpladePool.Backward)),
        Explicit(typeof(FlopsRegularizer), nameof(FlopsRegularizer.ColumnMeans)),
        Explicit(typeof(FlopsRegularizer), nameof(FlopsRegularizer.Loss)),
        Explicit(typeof(FlopsRegularizer), nameof(FlopsRegularizer.Backward)),
        Explicit(typeof(ToSparse), nameof(ToSparse.Select)),
    ];

    private static KernelInfo Explicit(Type family, string method) =>
        new($"{family.Name}.{method}",
            family.GetMethod(method, BindingFlags.Public | BindingFlags.Static)
                ?? throw new InvalidOperationException($"Kernel {family.Name}.{method} not found."),
            ExplicitlyGrouped: true);
}
