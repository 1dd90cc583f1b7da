namespace Engine.Tests.Conformance;

/// <summary>Runs one case's op on a device and checks every output the node asks for against the reference.</summary>
internal static class ConformanceRunner
{
    public static void Run(OnnxCase c, OnnxOp op, Device device)
    {
        using var scope = device.Scope();
        var outputs = op.Run(c, device);
        for (int k = 0; k < c.Outputs.Count; k++)
        {
            if (c.Outputs[k] is not { } expected) continue;
            var actual = k < outputs.Length ? outputs[k] : null;
            OutputComparison.AssertMatches(expected, actual, op.Tolerance, $"{c.Test} on {device.Kind}: output {k} ({expected.Name})");
        }
    }
}
