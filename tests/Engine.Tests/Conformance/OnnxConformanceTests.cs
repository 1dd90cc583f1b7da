namespace Engine.Tests.Conformance;

/// <summary>
/// The ONNX backend node tests (../shared/conformance/onnx-node) on the SIMD backend and on the
/// ILGPU CPU accelerator: one test per case and backend. Cases the engine cannot run (no such
/// op, an unsupported feature, too large for the ILGPU simulator) show as skipped with the
/// reason; the per-op summary goes to artifacts/test-results/conformance.md.
/// </summary>
public sealed class OnnxConformanceTests(ConformanceSession session) : IClassFixture<ConformanceSession>
{
    public static TheoryData<string> Cases => new(ConformanceCatalog.Instance.TestNames);

    [ConformanceTheory(DeviceKind.Cpu)]
    [MemberData(nameof(Cases))]
    public void Simd(string test) => session.Run(test, DeviceKind.Cpu);

    [ConformanceTheory(DeviceKind.IlgpuCpu)]
    [MemberData(nameof(Cases))]
    public void IlgpuCpu(string test) => session.Run(test, DeviceKind.IlgpuCpu);
}
