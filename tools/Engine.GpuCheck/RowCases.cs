using Engine.Kernels;

namespace Engine.GpuCheck;

/// <summary>
/// Checks of the row kernels: reductions over the last axis and over a middle axis, softmax and
/// log-softmax (rows of 4096 and of a GPT-2 vocabulary, 50257), layer norm (GPT-2's 768 wide and a
/// 4096 wide one, with and without the affine part), embedding gather and the fused cross-entropy.
/// All are memory-bound.
/// </summary>
internal static class RowCases
{
    private const int GptVocabulary = 50257;
    private const int IgnoreIndex = -100;

    public static IEnumerable<KernelCase> Create(bool gpu)
    {
        (int outer, int n) rows = gpu ? (16384, 4096) : (19, 37);
        (int outer, int n, int inner) columns = gpu ? (64, 1024, 1024) : (3, 17, 23);
        foreach (var op in Enum.GetValues<ReduceOp>())
            yield return Reduce(op, rows.outer, rows.n, 1);
        foreach (var op in Enum.GetValues<ReduceOp>())
            yield return Reduce(op, columns.outer, columns.n, columns.inner);

        yield return Softmax(rows.outer, rows.n, log: false);
        yield return Softmax(rows.outer, rows.n, log: true);
        yield return gpu ? Softmax(4096, GptVocabulary, log: false) : Softmax(3, 301, log: false);

        yield return gpu ? LayerNorm(16384, 768, affine: true) : LayerNorm(19, 37, affine: true);
        yield return gpu ? LayerNorm(8192, 4096, affine: true) : LayerNorm(5, 300, affine: true);
        yield return gpu ? LayerNorm(16384, 768, affine: false) : LayerNorm(7, 40, affine: false);

        yield return gpu ? Embedding(GptVocabulary, 768, 16384) : Embedding(31, 17, 23);
        yield return gpu ? CrossEntropy(4096, GptVocabulary) : CrossEntropy(19, 37);
    }

    /// <summary>x viewed as [outer, n, inner] reduced over n into [outer, inner].</summary>
    private static KernelCase Reduce(ReduceOp op, int outer, int n, int inner)
    {
        long count = (long)outer * n * inner;
        long outputs = (long)outer * inner;
        string name = ElementwiseCases.SnakeCase(op.ToString());
        return new KernelCase
        {
            Op = $"reduce {name}" + (inner == 1 ? " (rows)" : " (columns)"),
            Shape = $"[{outer}x{n}x{inner}] over {n}",
            CreateInputs = () => [HostData.Uniform(count, 51, -4f, 4f)],
            Outputs = [new("y", outputs, op == ReduceOp.ArgMax ? OutputKind.Integer : OutputKind.Float)],
            Launch = (backend, inputs, outs) => backend.Reduce(op, inputs[0], outs[0], outer, n, inner),
            Tolerance = op is ReduceOp.Max or ReduceOp.ArgMax ? Tolerance.Exact : Tolerance.Reduction,
            Unit = RateUnit.GigabytePerSecond,
            Work = 4.0 * (count + outputs),
            Torch = new TorchSpec("reduce", new Dictionary<string, object> { ["op"] = name, ["outer"] = outer, ["n"] = n, ["inner"] = inner }),
        };
    }

    private static KernelCase Softmax(int rows, int cols, bool log)
    {
        long count = (long)rows * cols;
        return new KernelCase
        {
            Op = log ? "log_softmax" : "softmax",
            Shape = $"[{rows}x{cols}]",
            CreateInputs = () => [HostData.Uniform(count, 61, -8f, 8f)],
            Outputs = [new("y", count)],
            Launch = (backend, inputs, outputs) => backend.Softmax(inputs[0], outputs[0], rows, cols, log),
            Tolerance = Tolerance.Reduction,
            Unit = RateUnit.GigabytePerSecond,
            Work = 8.0 * count,
            Torch = new TorchSpec("softmax", new Dictionary<string, object> { ["rows"] = rows, ["cols"] = cols, ["log"] = log }),
        };
    }

    /// <summary>Outputs y [rows, cols], mean [rows], rstd [rows]; gamma and beta [cols] only when affine.</summary>
    private static KernelCase LayerNorm(int rows, int cols, bool affine)
    {
        long count = (long)rows * cols;
        const float eps = 1e-5f;
        return new KernelCase
        {
            Op = affine ? "layer_norm" : "layer_norm (no affine)",
            Shape = $"[{rows}x{cols}]",
            CreateInputs = () =>
                [HostData.Uniform(count, 71, -3f, 5f), HostData.Uniform(cols, 72, 0.5f, 1.5f), HostData.Uniform(cols, 73, -1f, 1f)],
            Outputs = [new("y", count), new("mean", rows), new("rstd", rows)],
            Launch = (backend, inputs, outputs) => backend.LayerNorm(inputs[0], inputs[1], inputs[2], outputs[0], outputs[1],
                outputs[2], rows, cols, eps, affine, affine),
            Tolerance = Tolerance.Reduction,
            Unit = RateUnit.GigabytePerSecond,
            Work = 8.0 * count + 8.0 * rows + (affine ? 8.0 * cols : 0),
            Torch = new TorchSpec("layer_norm", new Dictionary<string, object> { ["rows"] = rows, ["cols"] = cols, ["affine"] = affine }),
        };
    }

    /// <summary>y [n, dim] = table [vocab, dim] rows picked by int32 ids [n].</summary>
    private static KernelCase Embedding(int vocab, int dim, int n) => new()
    {
        Op = "embedding",
        Shape = $"[{vocab}x{dim}][{n} ids]",
        CreateInputs = () => [HostData.Uniform((long)vocab * dim, 81, -1f, 1f), HostData.Indices(n, 82, vocab)],
        Outputs = [new("y", (long)n * dim)],
        Launch = (backend, inputs, outputs) => backend.Embedding(inputs[0], inputs[1], outputs[0], n, dim),
        Tolerance = Tolerance.Exact,
        Unit = RateUnit.GigabytePerSecond,
        Work = 8.0 * n * dim + 4.0 * n,
        Torch = new TorchSpec("embedding", new Dictionary<string, object> { ["vocab"] = vocab, ["dim"] = dim, ["n"] = n }),
    };

    /// <summary>loss [rows] and valid [rows] from logits [rows, cols] and int32 targets [rows]; every 7th target is the ignore index.</summary>
    private static KernelCase CrossEntropy(int rows, int cols)
    {
        long count = (long)rows * cols;
        return new KernelCase
        {
            Op = "cross_entropy",
            Shape = $"[{rows}x{cols}]",
            CreateInputs = () => [HostData.Uniform(count, 91, -8f, 8f), Targets(rows, cols)],
            Outputs = [new("loss", rows), new("valid", rows)],
            Launch = (backend, inputs, outputs) => backend.CrossEntropy(inputs[0], inputs[1], outputs[0], outputs[1], rows, cols, IgnoreIndex),
            Tolerance = Tolerance.Reduction,
            Unit = RateUnit.GigabytePerSecond,
            Work = 4.0 * count + 12.0 * rows,
            Torch = new TorchSpec("cross_entropy", new Dictionary<string, object> { ["rows"] = rows, ["cols"] = cols }),
        };
    }

    private static float[] Targets(int rows, int cols)
    {
        var targets = HostData.AsInts(HostData.Indices(rows, 92, cols)).ToArray();
        for (int r = 0; r < rows; r += 7)
            targets[r] = IgnoreIndex;
        return HostData.FromInts(targets);
    }
}
