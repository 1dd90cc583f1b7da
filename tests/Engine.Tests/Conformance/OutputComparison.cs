namespace Engine.Tests.Conformance;

/// <summary>
/// Checks one engine output against the ONNX reference: the exact shape (ONNX keeps reduced
/// dimensions as 1, a 0-D result is shape []), then <see cref="Accuracy.AssertClose"/>: NaN and
/// infinities at the same positions, relative L2 error over the rest within the bound. The
/// message names the element that differs most, to make a kernel bug easy to locate.
/// </summary>
internal static class OutputComparison
{
    public static void AssertMatches(OnnxTensor expected, Tensor? actual, double bound, string what)
    {
        Assert.True(actual is not null, $"{what}: the mapping produced no tensor for this output");
        Assert.True(actual.Shape.SequenceEqual(expected.Shape),
            $"{what}: shape {ShapeMath.Format(actual.Shape)}, reference {ShapeMath.Format(expected.Shape)}");
        var values = actual.ToArray();
        var reference = expected.ToFloats().Select(v => (double)v).ToArray();
        Accuracy.AssertClose(values, reference, bound, $"{what}{WorstElement(values, reference, expected.Shape)}");
    }

    private static string WorstElement(float[] actual, double[] expected, int[] shape)
    {
        int worst = -1;
        double largest = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            if (actual[i] == expected[i] || (float.IsNaN(actual[i]) && double.IsNaN(expected[i]))) continue;
            double diff = Math.Abs(actual[i] - expected[i]);
            if (!double.IsFinite(diff)) return Describe(i, actual, expected, shape);
            if (diff > largest) (worst, largest) = (i, diff);
        }
        return worst < 0 ? "" : Describe(worst, actual, expected, shape);
    }

    private static string Describe(int i, float[] actual, double[] expected, int[] shape) =>
        $" (largest difference at {ShapeMath.Format(Index(i, shape))}: {actual[i]:R} vs reference {expected[i]:R})";

    private static int[] Index(int flat, int[] shape)
    {
        var index = new int[shape.Length];
        for (int d = shape.Length - 1; d >= 0; d--)
        {
            index[d] = flat % shape[d];
            flat /= shape[d];
        }
        return index;
    }
}
