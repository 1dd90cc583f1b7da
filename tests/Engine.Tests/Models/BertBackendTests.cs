using Engine.Models;

namespace Engine.Tests;

// The BERT encoder on the ILGPU backend gives what the SIMD backend gives (itself checked against
// ONNX Runtime on the real models), and follows its weights when they change after it was built.
// A tiny random model keeps the ILGPU CPU simulator quick.
public sealed class BertBackendTests
{
    private static readonly BertConfig Tiny = new(VocabSize: 50, Hidden: 16, Layers: 2, Heads: 4, Intermediate: 24, MaxPositions: 12, TypeVocabSize: 2, LayerNormEps: 1e-12f);

    private static BertEncoder Build(Device device, string? replaced = null, float[]? replacement = null)
    {
        ulong seed = 1;
        return BertEncoder.Create(device, Tiny, name =>
        {
            var shape = BertNames.Parameters(Tiny, pooler: false).Single(p => p.Name == name).Shape;
            var values = new float[ShapeMath.Count(shape)];
            CounterRandom.FillNormal(values, seed++, name.EndsWith("LayerNorm.weight") ? 1f : 0f, 0.2f);
            return (name == replaced ? replacement! : values, shape);
        });
    }

    private static readonly int[] Ids = [2, 7, 9, 13, 3, 0, 2, 41, 3, 0, 0, 0];
    private static readonly int[] Mask = [1, 1, 1, 1, 1, 0, 1, 1, 1, 0, 0, 0];

    private static Tensor Forward(Device device, BertEncoder model) =>
        model.Forward(Tensor.FromArray(device, Ids, [2, 6]), Tensor.FromArray(device, Mask, [2, 6]));

    // The encoder runs its layers through packed and stacked copies of the weights; a weight
    // written or trained after the model was built must still be the one that counts.
    [Fact]
    public void Projection_weights_written_or_trained_after_building_are_the_ones_used()
    {
        using var cpu = Device.Cpu();
        using var model = Build(cpu);
        using var scope = cpu.Scope();
        var before = Forward(cpu, model).ToArray();

        const string key = "encoder.layer.1.attention.self.key.weight";
        var newKey = new float[Tiny.Hidden * Tiny.Hidden];
        CounterRandom.FillNormal(newKey, 99, 0f, 0.2f);
        using (Autograd.NoGrad())
            model.Parameters[key].CopyFrom(Tensor.FromArray(cpu, newKey, [Tiny.Hidden, Tiny.Hidden]));
        const string output = "encoder.layer.0.output.dense.weight";
        var newOutput = new float[Tiny.Hidden * Tiny.Intermediate];
        CounterRandom.FillNormal(newOutput, 98, 0f, 0.2f);
        using (Autograd.NoGrad())
            model.Parameters[output].CopyFrom(Tensor.FromArray(cpu, newOutput, [Tiny.Hidden, Tiny.Intermediate]));
        var after = Forward(cpu, model).ToArray();
        using var rebuiltKey = Build(cpu, key, newKey);
        using (Autograd.NoGrad())
            rebuiltKey.Parameters[output].CopyFrom(Tensor.FromArray(cpu, newOutput, [Tiny.Hidden, Tiny.Intermediate]));
        Assert.NotEqual(before, after);
        Assert.True(Accuracy.RelativeError(after, Forward(cpu, rebuiltKey).ToArray().Select(v => (double)v).ToArray()) <= 1e-6);

        var query = model.Parameters["encoder.layer.1.attention.self.query.weight"];
        query.RequiresGrad = true;
        F.Sum(Forward(cpu, model) * Tensor.Randn(cpu, [2, 6, Tiny.Hidden], 5)).Backward();
        Assert.Contains(query.Grad!.ToArray(), g => g != 0f);
    }

    [Fact]
    public void Ilgpu_and_simd_backends_agree_on_a_padded_batch()
    {
        using var cpu = Device.Cpu();
        using var ilgpu = Device.IlgpuCpu();
        using var simdModel = Build(cpu);
        using var ilgpuModel = Build(ilgpu);
        float[] Run(Device device, BertEncoder model)
        {
            using var scope = device.Scope();
            return Forward(device, model).ToArray();
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
