using System.Reflection;
using Engine.Kernels.Ilgpu;
using ILGPU;
using ILGPU.Backends;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.OpenCL;
using ILGPU.Backends.PTX;
using KernelInfo = Engine.Kernels.Ilgpu.KernelInfo;
using ILGPU.Runtime.Cuda;
using ILGPU.Runtime.OpenCL;

namespace Engine.Tests;

// No GPU here: every ILGPU kernel is compiled to PTX for sm_90 and to OpenCL C 2.0 without a
// device, so a kernel that would break on CUDA or OpenCL fails this test on any machine.
public sealed class KernelCompilationTests
{
    public static TheoryData<string> KernelNames()
    {
        var data = new TheoryData<string>();
        foreach (var kernel in KernelCatalog.All) data.Add(kernel.Name);
        return data;
    }

    private static EntryPointDescription EntryPoint(KernelInfo kernel) => kernel.ExplicitlyGrouped
        ? EntryPointDescription.FromExplicitlyGroupedKernel(kernel.Method)
        : EntryPointDescription.FromImplicitlyGroupedKernel(kernel.Method);

    private static KernelInfo Find(string name) => KernelCatalog.All.Single(k => k.Name == name);

    [Theory]
    [MemberData(nameof(KernelNames))]
    public void Kernel_compiles_to_PTX_for_sm_90(string name)
    {
        using var context = Context.Create(b => b.EnableAlgorithms().Optimize(OptimizationLevel.O2));
        var capabilities = new CudaCapabilityContext(CudaArchitecture.SM_90);
        Assert.True(CudaAccelerator.TryGetInstructionSet(CudaArchitecture.SM_90, CudaDriverVersion.FromMajorMinor(12, 4), out _, out var isa));
        using var backend = new PTXBackend(context, capabilities, CudaArchitecture.SM_90, isa, default);
        var compiled = (PTXCompiledKernel)backend.Compile(EntryPoint(Find(name)), ILGPU.Runtime.KernelSpecialization.Empty);
        Assert.Contains(".entry", compiled.PTXAssembly);
        Assert.DoesNotContain(".extern", compiled.PTXAssembly);
    }

    [Theory]
    [MemberData(nameof(KernelNames))]
    public void Kernel_compiles_to_OpenCL_C(string name)
    {
        using var context = Context.Create(b => b.EnableAlgorithms().Optimize(OptimizationLevel.O2));
        var capabilities = new CLCapabilityContext(float16: false, float64: false, genericAddressSpace: true, int64_Atomics: false, subGroups: false);
        using var backend = new CLBackend(context, capabilities, CLDeviceVendor.Other, CLCVersion.CL20);
        var compiled = (CLCompiledKernel)backend.Compile(EntryPoint(Find(name)), ILGPU.Runtime.KernelSpecialization.Empty);
        Assert.Contains("kernel", compiled.Source);
    }

    [Fact]
    public void The_catalog_lists_every_kernel()
    {
        // A kernel is a public static method of a kernels/Ilgpu class taking an ArrayView.
        var kernels = typeof(KernelCatalog).Assembly.GetTypes()
            .Where(t => t.Namespace == typeof(KernelCatalog).Namespace && t.IsPublic)
            .SelectMany(t => t.GetMethods(BindingFlags.Public | BindingFlags.Static | BindingFlags.DeclaredOnly))
            .Where(m => m.ReturnType == typeof(void) && m.GetParameters().Any(p => p.ParameterType.Name.StartsWith("ArrayView")))
            .Select(m => $"{m.DeclaringType!.Name}.{m.Name}")
            .Order();
        Assert.Equal(kernels, KernelCatalog.All.Select(k => k.Name).Order());
    }
}
