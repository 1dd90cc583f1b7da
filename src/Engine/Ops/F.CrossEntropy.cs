namespace Engine;

/// <summary>How per-sample losses are combined.</summary>
public enum Reduction
{
    /// <summary>Mean over the samples whose target is not ignored (NaN when all are).</summary>
    Mean,
    /// <summary>Sum over the samples.</summary>
    Sum,
    /// <summary>No reduction: one loss per sample (0 for ignored ones).</summary>
    None,
}

// Cross-entropy fused with log-softmax, as torch.nn.functional.cross_entropy with class indices:
//   loss_r = logsumexp_c(logits_rc) - logits_r,t_r   for rows whose target t_r != ignoreIndex
// logits [N, C] or [N, C, d1, ...] (classes in dimension 1), targets int32 [N] or [N, d1, ...].
// Backward per row: dlogits_rc = dloss_r * (softmax(logits_r)_c - [c = t_r]), 0 for ignored rows;
// the reduction (sum, or sum / number of counted rows) is composed from recorded ops.
public static partial class F
{
    /// <summary>Cross-entropy of logits against int32 class targets, skipping <paramref name="ignoreIndex"/>.</summary>
    public static Tensor CrossEntropy(Tensor logits, Tensor targets, int ignoreIndex = -100, Reduction reduction = Reduction.Mean)
    {
        const string op = "CrossEntropy";
        Checks.SameDevice(op, logits, targets);
        Checks.Float(op, logits, "logits");
        Checks.Int(op, targets, "targets");
        Checks.MinRank(op, logits, 2, "logits");
        var expectedTargets = logits.ShapeArray.Where((_, i) => i != 1).ToArray();
        if (!targets.Shape.SequenceEqual(expectedTargets))
            throw new ArgumentException($"{op}: targets {ShapeMath.Format(targets.Shape)} must have shape {ShapeMath.Format(expectedTargets)} for logits {ShapeMath.Format(logits.Shape)}.");
        int classes = logits.Size(1);
        var values = targets.ToInt32Array();
        for (int i = 0; i < values.Length; i++)
            if (values[i] != ignoreIndex && (uint)values[i] >= (uint)classes)
                throw new ArgumentException($"{op}: target {values[i]} at flat position {i} of targets {ShapeMath.Format(targets.Shape)} is outside [0, {classes}) and is not the ignore index {ignoreIndex} (logits {ShapeMath.Format(logits.Shape)}).");

        using var scope = logits.Device.Scope();
        // Classes last: [N, C, d...] -> [N, d..., C] -> [rows, C].
        var rowsView = logits.Rank == 2 ? logits : logits.Permute([0, .. Enumerable.Range(2, logits.Rank - 2), 1]);
        var dense = rowsView.Reshape(-1, classes);
        int rows = dense.Size(0);
        var loss = Tensor.Empty(logits.Device, targets.Shape);
        var valid = Tensor.Empty(logits.Device, targets.Shape);
        var targetsDense = targets.Contiguous();
        if (rows > 0)
            logits.Backend.CrossEntropy(dense.Buffer, targetsDense.Buffer, loss.Buffer, valid.Buffer, rows, classes, ignoreIndex);
        if (Autograd.Needs(dense))
        {
            var savedLogits = Autograd.Save(dense);
            var savedTargets = Autograd.Save(targetsDense);
            Autograd.Record(op, loss, [dense, null],
                g => [CrossEntropyGrad(savedLogits, savedTargets, g, ignoreIndex)], savedLogits, savedTargets);
        }
        Tensor result = reduction switch
        {
            Reduction.None => loss,
            Reduction.Sum => Sum(loss),
            _ => Div(Sum(loss), Sum(valid)),
        };
        return scope.Keep(result);
    }

    private static Tensor CrossEntropyGrad(Tensor logits, Tensor targets, Tensor dloss, int ignoreIndex)
    {
        int rows = logits.Size(0), cols = logits.Size(1);
        var dlogits = Tensor.Empty(logits.Device, logits.Shape);
        if (rows == 0) return dlogits;
        var dlossDense = Dense(dloss, out bool copied);
        logits.Backend.CrossEntropyBackward(logits.Buffer, targets.Buffer, dlossDense.Buffer, dlogits.Buffer, rows, cols, ignoreIndex);
        if (copied) dlossDense.Dispose();
        return dlogits;
    }
}
