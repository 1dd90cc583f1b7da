namespace Engine.GpuCheck;

/// <summary>The outcome of comparing one output with its reference.</summary>
/// <param name="Error">Relative error (float outputs) or fraction of differing elements (integer outputs); +inf when a NaN or infinity is misplaced.</param>
/// <param name="Detail">Where the first misplaced non-finite value is, or empty.</param>
internal readonly record struct OutputError(double Error, string Detail);

/// <summary>
/// The design's error measure: NaN and infinities must sit where the reference has them; over
/// the finite rest the error is ||out - ref|| / ||ref|| in float64 (the absolute norm when the
/// reference is all zeros). Integer outputs (argmax) must match exactly.
/// </summary>
internal static class Comparison
{
    public static OutputError Compare(string name, float[] actual, float[] expected, OutputKind kind)
    {
        if (actual.Length != expected.Length)
            return new OutputError(double.PositiveInfinity, $"{name}: {actual.Length} values, reference has {expected.Length}");
        return kind == OutputKind.Integer ? CompareIntegers(name, actual, expected) : CompareFloats(name, actual, expected);
    }

    private static OutputError CompareFloats(string name, float[] actual, float[] expected)
    {
        double diff = 0, norm = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            float e = expected[i], a = actual[i];
            if (!float.IsFinite(e) || !float.IsFinite(a))
            {
                bool same = float.IsNaN(e) ? float.IsNaN(a) : a == e;
                if (!same)
                    return new OutputError(double.PositiveInfinity, $"{name}[{i}] is {a}, reference {e}");
                continue;
            }
            double d = (double)a - e;
            diff += d * d;
            norm += (double)e * e;
        }
        return new OutputError(norm == 0 ? Math.Sqrt(diff) : Math.Sqrt(diff / norm), "");
    }

    private static OutputError CompareIntegers(string name, float[] actual, float[] expected)
    {
        var a = HostData.AsInts(actual);
        var e = HostData.AsInts(expected);
        long differing = 0;
        int first = -1;
        for (int i = 0; i < e.Length; i++)
        {
            if (a[i] == e[i]) continue;
            differing++;
            if (first < 0) first = i;
        }
        return differing == 0
            ? new OutputError(0, "")
            : new OutputError((double)differing / e.Length, $"{name}[{first}] is {a[first]}, reference {e[first]} ({differing} differ)");
    }
}
