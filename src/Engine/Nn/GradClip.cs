namespace Engine.Nn;

/// <summary>Global gradient-norm clipping (torch.nn.utils.clip_grad_norm_ with the L2 norm).</summary>
public static class GradClip
{
    /// <summary>sqrt of the sum over parameters of the squared L2 norms of their gradients (parameters without one are skipped).</summary>
    public static float TotalNorm(IEnumerable<Tensor> parameters)
    {
        double sumOfSquares = 0;
        using var noGrad = Autograd.NoGrad();
        foreach (var p in parameters)
        {
            if (p.Grad is not { } grad) continue;
            using var squares = F.Square(grad);
            using var sum = F.Sum(squares);
            sumOfSquares += sum.Item();
        }
        return (float)Math.Sqrt(sumOfSquares);
    }

    /// <summary>The factor torch applies: min(1, maxNorm / (totalNorm + 1e-6)).</summary>
    public static float ClipFactor(float totalNorm, float maxNorm) => Math.Min(1f, maxNorm / (totalNorm + 1e-6f));

    /// <summary>Scales every gradient in place so their total norm is at most <paramref name="maxNorm"/>; returns the norm before clipping.</summary>
    public static float ClipGradNorm(IEnumerable<Tensor> parameters, float maxNorm)
    {
        var list = parameters.ToList();
        float norm = TotalNorm(list);
        float factor = ClipFactor(norm, maxNorm);
        if (factor < 1f)
        {
            using var noGrad = Autograd.NoGrad();
            foreach (var p in list)
            {
                if (p.Grad is not { } grad) continue;
                using var scaled = F.Mul(grad, factor);
                grad.CopyFrom(scaled);
            }
        }
        return norm;
    }
}
