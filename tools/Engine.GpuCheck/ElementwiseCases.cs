using Engine.Kernels;

namespace Engine.GpuCheck;

/// <summary>
/// Checks of the elementwise kernels: every unary and binary op over a long contiguous vector
/// (64 Mi elements, 256 MB a tensor, on a GPU), a broadcast add of a row vector, a transposed
/// (strided) copy, and fill. All are memory-bound: the rate is bytes read plus written per second.
/// </summary>
internal static class ElementwiseCases
{
    public static IEnumerable<KernelCase> Create(bool gpu)
    {
        int count = gpu ? 1 << 26 : 37 * 29;
        (int rows, int cols) matrix = gpu ? (8192, 8192) : (29, 37);
        foreach (var op in Enum.GetValues<UnaryOp>())
            yield return Unary(op, count);
        foreach (var op in Enum.GetValues<BinaryOp>())
            yield return Binary(op, count);
        yield return BroadcastAdd(matrix.rows, matrix.cols);
        yield return TransposedCopy(matrix.rows, matrix.cols);
        yield return Fill(count);
    }

    /// <summary>op names as the torch script spells them: GeluTanh -> gelu_tanh.</summary>
    public static string SnakeCase(string name) =>
        string.Concat(name.Select((ch, i) => char.IsUpper(ch) && i > 0 ? "_" + char.ToLowerInvariant(ch) : char.ToLowerInvariant(ch).ToString()));

    private static KernelCase Unary(UnaryOp op, int count)
    {
        var (low, high) = op switch
        {
            UnaryOp.Log or UnaryOp.Sqrt or UnaryOp.Reciprocal => (0.1f, 4f),
            UnaryOp.Log1p => (-0.5f, 4f),
            _ => (-4f, 4f),
        };
        var tolerance = op switch
        {
            UnaryOp.Identity or UnaryOp.Neg or UnaryOp.Relu or UnaryOp.Abs or UnaryOp.Sign => Tolerance.Exact,
            UnaryOp.Sqrt or UnaryOp.Reciprocal or UnaryOp.Square => Tolerance.Rounded,
            _ => Tolerance.Transcendental,
        };
        var layout = Contiguous(count);
        string name = SnakeCase(op.ToString());
        return new KernelCase
        {
            Op = $"unary {name}",
            Shape = $"[{count}]",
            CreateInputs = () => [HostData.Uniform(count, 11, low, high)],
            Outputs = [new("y", count)],
            Launch = (backend, inputs, outputs) => backend.Unary(op, inputs[0], outputs[0], layout),
            Tolerance = tolerance,
            Unit = RateUnit.GigabytePerSecond,
            Work = 8.0 * count,
            Torch = new TorchSpec("unary", new Dictionary<string, object> { ["op"] = name, ["n"] = count }),
        };
    }

    private static KernelCase Binary(BinaryOp op, int count)
    {
        var (aLow, aHigh, bLow, bHigh) = op switch
        {
            BinaryOp.Div => (-4f, 4f, 0.5f, 4f),
            BinaryOp.Pow => (0.1f, 4f, -2f, 2f),
            _ => (-4f, 4f, -4f, 4f),
        };
        var tolerance = op switch
        {
            BinaryOp.Max or BinaryOp.Min => Tolerance.Exact,
            BinaryOp.Pow => Tolerance.Transcendental,
            _ => Tolerance.Rounded,
        };
        var layout = Contiguous(count);
        string name = SnakeCase(op.ToString());
        return new KernelCase
        {
            Op = $"binary {name}",
            Shape = $"[{count}] (op) [{count}]",
            CreateInputs = () => [HostData.Uniform(count, 21, aLow, aHigh), HostData.Uniform(count, 22, bLow, bHigh)],
            Outputs = [new("y", count)],
            Launch = (backend, inputs, outputs) => backend.Binary(op, inputs[0], inputs[1], outputs[0], layout),
            Tolerance = tolerance,
            Unit = RateUnit.GigabytePerSecond,
            Work = 12.0 * count,
            Torch = new TorchSpec("binary", new Dictionary<string, object> { ["op"] = name, ["n"] = count }),
        };
    }

    /// <summary>y [rows, cols] = x [rows, cols] + bias [cols]: the bias is read with row stride 0.</summary>
    private static KernelCase BroadcastAdd(int rows, int cols)
    {
        var layout = new ElementwiseLayout { Rank = 2 };
        layout.Shape.Set(0, rows);
        layout.Shape.Set(1, cols);
        layout.StridesA.Set(0, cols);
        layout.StridesA.Set(1, 1);
        layout.StridesB.Set(0, 0);
        layout.StridesB.Set(1, 1);
        long count = (long)rows * cols;
        return new KernelCase
        {
            Op = "binary add (broadcast)",
            Shape = $"[{rows}x{cols}] + [{cols}]",
            CreateInputs = () => [HostData.Uniform(count, 31, -4f, 4f), HostData.Uniform(cols, 32, -4f, 4f)],
            Outputs = [new("y", count)],
            Launch = (backend, inputs, outputs) => backend.Binary(BinaryOp.Add, inputs[0], inputs[1], outputs[0], layout),
            Tolerance = Tolerance.Rounded,
            Unit = RateUnit.GigabytePerSecond,
            Work = 8.0 * count + 4.0 * cols,
            Torch = new TorchSpec("binary_broadcast", new Dictionary<string, object> { ["rows"] = rows, ["cols"] = cols }),
        };
    }

    /// <summary>y [rows, cols] = x^T for x [cols, rows]: the strided path of the unary kernel (what Contiguous() runs).</summary>
    private static KernelCase TransposedCopy(int rows, int cols)
    {
        var layout = new ElementwiseLayout { Rank = 2 };
        layout.Shape.Set(0, rows);
        layout.Shape.Set(1, cols);
        layout.StridesA.Set(0, 1);
        layout.StridesA.Set(1, rows);
        long count = (long)rows * cols;
        return new KernelCase
        {
            Op = "unary identity (transposed)",
            Shape = $"[{cols}x{rows}]^T",
            CreateInputs = () => [HostData.Uniform(count, 41, -4f, 4f)],
            Outputs = [new("y", count)],
            Launch = (backend, inputs, outputs) => backend.Unary(UnaryOp.Identity, inputs[0], outputs[0], layout),
            Tolerance = Tolerance.Exact,
            Unit = RateUnit.GigabytePerSecond,
            Work = 8.0 * count,
            Torch = new TorchSpec("transpose_copy", new Dictionary<string, object> { ["rows"] = rows, ["cols"] = cols }),
        };
    }

    private static KernelCase Fill(int count) => new()
    {
        Op = "fill",
        Shape = $"[{count}]",
        CreateInputs = () => [],
        Outputs = [new("y", count)],
        Launch = (backend, _, outputs) => backend.Fill(outputs[0], count, 1.5f),
        Tolerance = Tolerance.Exact,
        Unit = RateUnit.GigabytePerSecond,
        Work = 4.0 * count,
        Torch = new TorchSpec("fill", new Dictionary<string, object> { ["n"] = count }),
    };

    private static ElementwiseLayout Contiguous(int count)
    {
        var layout = new ElementwiseLayout { Rank = 1 };
        layout.Shape.Set(0, count);
        layout.StridesA.Set(0, 1);
        layout.StridesB.Set(0, 1);
        return layout;
    }
}
