using Engine.Kernels;
using TT = TorchSharp.torch;

namespace Engine.Tests;

// ILGPU's XMath has no erf, so the kernels use our own float approximation (ScalarMath.Erf);
// this measures its error against libtorch's float64 erf over the whole float range that matters.
public sealed class ErfTests
{
    [Fact]
    public void Scalar_erf_is_accurate_to_a_few_ulp()
    {
        var xs = new List<float>();
        for (int i = -60000; i <= 60000; i++) xs.Add(i * 1e-4f);       // [-6, 6] in steps of 1e-4
        for (int e = -38; e <= -5; e++) xs.AddRange([MathF.Pow(10, e), -MathF.Pow(10, e)]);
        xs.AddRange([0f, -0f, 10f, -10f, 1e10f, float.MaxValue]);
        var reference = TT.special.erf(TT.tensor(xs.Select(v => (double)v).ToArray(), TT.ScalarType.Float64)).data<double>().ToArray();
        double maxAbs = 0, maxRel = 0;
        for (int i = 0; i < xs.Count; i++)
        {
            double ours = ScalarMath.Erf(xs[i]);
            double abs = Math.Abs(ours - reference[i]);
            maxAbs = Math.Max(maxAbs, abs);
            if (reference[i] != 0) maxRel = Math.Max(maxRel, abs / Math.Abs(reference[i]));
        }
        Assert.True(maxAbs <= 2.5e-7, $"max absolute error {maxAbs:E3}");
        Assert.True(maxRel <= 5e-7, $"max relative error {maxRel:E3}");
        Assert.True(float.IsNaN(ScalarMath.Erf(float.NaN)));
        Assert.Equal(1f, ScalarMath.Erf(float.PositiveInfinity));
        Assert.Equal(-1f, ScalarMath.Erf(float.NegativeInfinity));
    }
}
