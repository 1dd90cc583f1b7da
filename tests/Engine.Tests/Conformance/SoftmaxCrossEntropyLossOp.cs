namespace Engine.Tests.Conformance;

/// <summary>
/// SoftmaxCrossEntropyLoss (opset 13): scores [N, C, d...], int labels [N, d...], optional class
/// weights [C]. Per sample l = -w[t] * log_softmax(scores)[t], 0 where t == ignore_index;
/// "mean" divides the sum by the sum of w[t] over the samples not ignored (their count without
/// weights), "sum" sums, "none" keeps [N, d...]. Without weights this is F.CrossEntropy; with
/// them, F.CrossEntropy's per-sample losses are scaled by w[t] looked up with F.Embedding. The
/// optional second output is log_softmax(scores) over the class dimension.
/// </summary>
internal sealed class SoftmaxCrossEntropyLossOnnxOp : OnnxOp
{
    public override string? Unsupported(OnnxCase c) =>
        c.String("reduction", "mean") is "mean" or "sum" or "none" ? base.Unsupported(c) : $"reduction=\"{c.String("reduction", "mean")}\" is not an ONNX reduction";

    public override Tensor?[] Run(OnnxCase c, Device device)
    {
        var scores = c.Input(0).ToFloatTensor(device);
        var labelValues = c.Input(1).ToInt32s();
        var labels = OnnxTensor.Upload(device, labelValues, c.Input(1).Shape);
        int ignoreIndex = c.Has("ignore_index") ? checked((int)c.Int("ignore_index", 0)) : int.MinValue;
        var reduction = c.String("reduction", "mean") switch
        {
            "sum" => Reduction.Sum,
            "none" => Reduction.None,
            _ => Reduction.Mean,
        };
        var loss = c.OptionalInput(2) is { } weights
            ? WeightedLoss(scores, labels, labelValues, weights.ToFloatTensor(device), ignoreIndex, reduction)
            : F.CrossEntropy(scores, labels, ignoreIndex, reduction);
        return [loss, c.WantsOutput(1) ? F.LogSoftmax(scores, 1) : null];
    }

    private static Tensor WeightedLoss(Tensor scores, Tensor labels, int[] labelValues, Tensor weights, int ignoreIndex, Reduction reduction)
    {
        var device = scores.Device;
        var perSample = F.CrossEntropy(scores, labels, ignoreIndex, Reduction.None);
        // An ignored label may lie outside the classes; it looks up class 0 and is masked to weight 0.
        var lookup = OnnxTensor.Upload(device, labelValues.Select(t => t == ignoreIndex ? 0 : t).ToArray(), labels.Shape.ToArray());
        var kept = OnnxTensor.Upload(device, labelValues.Select(t => t == ignoreIndex ? 0f : 1f).ToArray(), labels.Shape.ToArray());
        var sampleWeights = F.Mul(F.Embedding(weights.Reshape(weights.Size(0), 1), lookup).Reshape(labels.Shape.ToArray()), kept);
        var weighted = F.Mul(perSample, sampleWeights);
        return reduction switch
        {
            Reduction.None => weighted,
            Reduction.Sum => F.Sum(weighted),
            _ => F.Div(F.Sum(weighted), F.Sum(sampleWeights)),
        };
    }
}
