namespace Engine.GpuCheck;

/// <summary>Every case of a size class, the most telling first (matmul and attention), so a run cut short by its budget still has them.</summary>
internal static class KernelCases
{
    public static IReadOnlyList<KernelCase> For(SizeClass sizes)
    {
        bool gpu = sizes == SizeClass.Gpu;
        return [.. MatmulCases.Create(gpu), .. RowCases.Create(gpu), .. ElementwiseCases.Create(gpu)];
    }
}
