using TorchSharp;
using TT = TorchSharp.torch;

namespace Engine.Tests;

/// <summary>
/// libtorch (through TorchSharp) as the reference. Inputs are the engine's float32 values
/// widened to float64, so the reference is computed more precisely than the code under test.
/// </summary>
public static class Oracle
{
    static Oracle()
    {
        TT.set_num_threads(1);
    }

    public static long[] Dims(ReadOnlySpan<int> shape) => shape.ToArray().Select(d => (long)d).ToArray();

    /// <summary>The engine tensor's values as a float64 torch tensor of the same shape.</summary>
    public static TT.Tensor ToTorch(Tensor t) =>
        TT.tensor(t.ToArray().Select(v => (double)v).ToArray(), Dims(t.Shape), TT.ScalarType.Float64);

    /// <summary>An int32 engine tensor as an int64 torch tensor (torch's index type).</summary>
    public static TT.Tensor ToTorchIndex(Tensor t) =>
        TT.tensor(t.ToInt32Array().Select(v => (long)v).ToArray(), Dims(t.Shape), TT.ScalarType.Int64);

    /// <summary>
    /// The reference values rounded to float32 (the best a float32 kernel can return, with
    /// float32 overflow to infinity and underflow to zero), widened back for the comparison.
    /// </summary>
    public static double[] Values(TT.Tensor t) =>
        t.to_type(TT.ScalarType.Float32).to_type(TT.ScalarType.Float64).contiguous().data<double>().ToArray();

    public static long[] Indices(TT.Tensor t) => t.to_type(TT.ScalarType.Int64).contiguous().data<long>().ToArray();

    /// <summary>Asserts the engine output has the reference's shape and values within the bound.</summary>
    public static void AssertClose(Tensor actual, TT.Tensor expected, double bound, string what)
    {
        Assert.Equal(expected.shape, Dims(actual.Shape));
        Accuracy.AssertClose(actual.ToArray(), Values(expected), bound, what);
    }
}
