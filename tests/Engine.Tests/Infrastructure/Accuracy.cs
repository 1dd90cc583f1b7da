namespace Engine.Tests;

/// <summary>
/// Compares an output with a float64 reference: the same positions must be NaN and the same
/// infinities must appear; over the finite rest the error is ||out - ref|| / ||ref|| (absolute
/// norm when the reference is all zeros) and must stay under the bound.
/// </summary>
public static class Accuracy
{
    public static double RelativeError(ReadOnlySpan<float> actual, ReadOnlySpan<double> expected)
    {
        double diff = 0, norm = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            if (!double.IsFinite(expected[i])) continue;
            double d = actual[i] - expected[i];
            diff += d * d;
            norm += expected[i] * expected[i];
        }
        return norm == 0 ? Math.Sqrt(diff) : Math.Sqrt(diff / norm);
    }

    public static void AssertClose(ReadOnlySpan<float> actual, ReadOnlySpan<double> expected, double bound, string what)
    {
        Assert.True(actual.Length == expected.Length, $"{what}: {actual.Length} values, reference has {expected.Length}");
        for (int i = 0; i < expected.Length; i++)
        {
            double e = expected[i];
            float a = actual[i];
            if (double.IsNaN(e))
                Assert.True(float.IsNaN(a), $"{what}: element {i} is {a}, reference NaN");
            else if (double.IsInfinity(e))
                Assert.True(a == e, $"{what}: element {i} is {a}, reference {e}");
            else
                Assert.True(float.IsFinite(a), $"{what}: element {i} is {a}, reference {e}");
        }
        double error = RelativeError(actual, expected);
        Assert.True(error <= bound, $"{what}: relative error {error:E3} exceeds {bound:E1}");
    }

    /// <summary>
    /// A sum is judged against the sum of magnitudes, its condition: |out - ref| &lt;= bound * sum|x|
    /// per output element. Relative to |sum x| alone, a sum that cancels to near zero would demand
    /// more than float32 accumulation can give.
    /// </summary>
    public static void AssertSumClose(ReadOnlySpan<float> actual, ReadOnlySpan<double> expected, ReadOnlySpan<double> magnitudes, double bound, string what)
    {
        Assert.True(actual.Length == expected.Length, $"{what}: {actual.Length} values, reference has {expected.Length}");
        for (int i = 0; i < expected.Length; i++)
        {
            double error = Math.Abs(actual[i] - expected[i]);
            Assert.True(error <= bound * magnitudes[i] + 1e-30, $"{what}: element {i} is {actual[i]}, reference {expected[i]}, error {error:E3} > {bound:E1} x sum|x| = {bound * magnitudes[i]:E3}");
        }
    }

    public static void AssertEqual(ReadOnlySpan<int> actual, ReadOnlySpan<long> expected, string what)
    {
        Assert.True(actual.Length == expected.Length, $"{what}: {actual.Length} values, reference has {expected.Length}");
        for (int i = 0; i < expected.Length; i++)
            Assert.True(actual[i] == expected[i], $"{what}: element {i} is {actual[i]}, reference {expected[i]}");
    }
}
