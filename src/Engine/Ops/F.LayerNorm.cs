namespace Engine;

/// <summary>The output of a layer norm with what its backward needs: per-row mean and 1/std.</summary>
public sealed record LayerNormResult(Tensor Output, Tensor Mean, Tensor Rstd) : IDisposable
{
    /// <summary>Disposes the three tensors.</summary>
    public void Dispose()
    {
        Output.Dispose();
        Mean.Dispose();
        Rstd.Dispose();
    }
}

// Layer norm over the trailing dimensions whose sizes are normalizedShape (torch) — the input is
// rows x cols with cols = prod(normalizedShape):
//   mean_r = (1/C) sum_c x_rc,  rstd_r = 1 / sqrt((1/C) sum_c (x_rc - mean_r)^2 + eps)
//   y_rc = (x_rc - mean_r) * rstd_r * gamma_c + beta_c
// Backward, with xhat = (x - mean) * rstd and g = dy * gamma:
//   dx = rstd * (g - mean_c(g) - xhat * mean_c(g * xhat)), dgamma = sum_r dy * xhat, dbeta = sum_r dy.
public static partial class F
{
    /// <summary>Layer norm over the last <paramref name="normalizedDims"/> dimensions with optional affine gamma and beta of that shape.</summary>
    public static Tensor LayerNorm(Tensor x, Tensor? gamma, Tensor? beta, float eps = 1e-5f, int normalizedDims = 1)
    {
        var result = LayerNormWithStats(x, gamma, beta, eps, normalizedDims);
        result.Mean.Dispose();
        result.Rstd.Dispose();
        return result.Output;
    }

    /// <summary>Layer norm that also returns the per-row mean and rstd (shape: the leading dimensions).</summary>
    public static LayerNormResult LayerNormWithStats(Tensor x, Tensor? gamma, Tensor? beta, float eps = 1e-5f, int normalizedDims = 1)
    {
        LayerNormResult result;
        using (Autograd.Pause())
            result = LayerNormCore(x, gamma, beta, eps, normalizedDims);
        if (Autograd.Needs(x, gamma, beta))
        {
            bool needX = x.RequiresGrad, needGamma = gamma?.RequiresGrad == true, needBeta = beta?.RequiresGrad == true;
            var sx = Autograd.Save(x);
            var sg = gamma is null ? null : Autograd.Save(gamma);
            var mean = Autograd.Save(result.Mean);
            var rstd = Autograd.Save(result.Rstd);
            Tensor[] saved = sg is null ? [sx, mean, rstd] : [sx, sg, mean, rstd];
            Autograd.Record("LayerNorm", result.Output, [x, gamma, beta],
                g => LayerNormGrad(sx, sg, mean, rstd, g, needX, needGamma, needBeta, beta is not null), saved);
        }
        return result;
    }

    private static Tensor?[] LayerNormGrad(Tensor x, Tensor? gamma, Tensor mean, Tensor rstd, Tensor dy,
        bool needX, bool needGamma, bool needBeta, bool hasBeta)
    {
        using var scope = x.Device.Scope();
        int cols = gamma is null ? x.Size(-1) : (int)gamma.Count;
        int rows = cols == 0 ? 0 : (int)(x.Count / cols);
        var normalized = gamma?.ShapeArray ?? [cols];
        var xd = Dense(x, out _);
        var dyd = Dense(dy, out _);
        var g = gamma is null ? null : Dense(gamma, out _);
        var dx = Tensor.Empty(x.Device, x.Shape);
        var dgamma = Tensor.Empty(x.Device, normalized);
        var dbeta = Tensor.Empty(x.Device, normalized);
        if (rows > 0)
            x.Backend.LayerNormBackward(xd.Buffer, (g ?? xd).Buffer, mean.Buffer, rstd.Buffer, dyd.Buffer,
                dx.Buffer, dgamma.Buffer, dbeta.Buffer, rows, cols, g is not null, hasBeta);
        else
        {
            x.Backend.Fill(dgamma.Buffer, dgamma.Count, 0f);
            x.Backend.Fill(dbeta.Buffer, dbeta.Count, 0f);
        }
        return [needX ? scope.Keep(dx) : null, needGamma ? scope.Keep(dgamma) : null, needBeta ? scope.Keep(dbeta) : null];
    }

    private static LayerNormResult LayerNormCore(Tensor x, Tensor? gamma, Tensor? beta, float eps, int normalizedDims)
    {
        const string op = "LayerNorm";
        Checks.Float(op, x);
        if (normalizedDims < 1 || normalizedDims > x.Rank)
            throw new ArgumentException($"{op}: cannot normalise the last {normalizedDims} dimensions of input {ShapeMath.Format(x.Shape)}.");
        if (!(eps >= 0))
            throw new ArgumentException($"{op}: eps {eps} must be non-negative (input {ShapeMath.Format(x.Shape)}).");
        var normalized = x.Shape[^normalizedDims..];
        int cols = (int)ShapeMath.Count(normalized);
        int rows = cols == 0 ? 0 : (int)(x.Count / cols);
        foreach (var (param, role) in new[] { (gamma, "gamma"), (beta, "beta") })
        {
            if (param is null) continue;
            Checks.SameDevice(op, x, param);
            Checks.Float(op, param, role);
            if (!param.Shape.SequenceEqual(normalized))
                throw new ArgumentException($"{op}: {role} {ShapeMath.Format(param.Shape)} must have shape {ShapeMath.Format(normalized)} for input {ShapeMath.Format(x.Shape)}.");
        }
        var statsShape = x.Shape[..^normalizedDims];
        var y = Tensor.Empty(x.Device, x.Shape);
        var mean = Tensor.Empty(x.Device, statsShape);
        var rstd = Tensor.Empty(x.Device, statsShape);
        if (rows == 0 || cols == 0) return new LayerNormResult(y, mean, rstd);

        var dense = Dense(x, out bool copiedX);
        var g = gamma is null ? null : Dense(gamma, out _);
        var b = beta is null ? null : Dense(beta, out _);
        try
        {
            x.Backend.LayerNorm(dense.Buffer, (g ?? dense).Buffer, (b ?? dense).Buffer, y.Buffer, mean.Buffer, rstd.Buffer,
                rows, cols, eps, g is not null, b is not null);
        }
        finally
        {
            if (copiedX) dense.Dispose();
            if (g is not null && g != gamma) g.Dispose();
            if (b is not null && b != beta) b.Dispose();
        }
        return new LayerNormResult(y, mean, rstd);
    }
}
