using Engine.Models;

namespace Engine.Tests;

// The BERT encoder on the ILGPU backend gives what the SIMD backend gives (itself checked against
// ONNX Runtime on the real models). A tiny random model keeps the ILGPU CPU simulator quick.
public sealed class BertBackendTests
{
    private static readonly BertConfig Tiny = new(VocabSize: 50, Hidden: 16, Layers: 2, Heads: 4, Intermediate: 24, MaxPositions: 12, TypeVocabSize: 2, LayerNormEps: 1e-12f);

    private static BertEncoder Build(Device device)
    {
        ulong seed = 1;
        return BertEncoder.Create(device, Tiny, name =>
        {
            var shape = BertNames.Parameters(Tiny, pooler: false).Single(p => p.Name == name).Shape;
            var values = new float[ShapeMath.Count(shape)];
            CounterRandom.FillNormal(values, seed++, name.EndsWith("LayerNorm.weight") ? 1f : 0f, 0.2f);
            return (values, shape);
        });
    }

    [Fact]
    public void Ilgpu_and_simd_backends_agree_on_a_padded_batch()
    {
        using var cpu = Device.Cpu();
        using var ilgpu = Device.IlgpuCpu();
        using var simdModel = Build(cpu);
        using var ilgpuModel = Build(ilgpu);
        int[] ids = [2, 7, 9, 13, 3, 0, 2, 41, 3, 0, 0, 0];
        int[] mask = [1, 1, 1, 1, 1, 0, 1, 1, 1, 0, 0, 0];
        float[] Run(Device device, BertEncoder model)
        {
            using var scope = device.Scope();
            return model.Forward(Tensor.FromArray(device, ids, [2, 6]), Tensor.FromArray(device, mask, [2, 6])).ToArray();
        }
        var expected = Run(cpu, simdModel);
        var actual = Run(ilgpu, ilgpuModel);
        // Padding positions are outside the contract; compare the 5 + 3 real tokens.
        int width = Tiny.Hidden;
        foreach (var (start, count) in new[] { (0, 5), (6, 3) })
        {
            var error = Accuracy.RelativeError(actual.AsSpan(start * width, count * width), expected.Skip(start * width).Take(count * width).Select(v => (double)v).ToArray());
            Assert.True(error <= 1e-5, $"tokens {start}..{start + count}: relative error {error:E3}");
        }
    }
}
