namespace Engine.Tests.Conformance;

/// <summary>
/// Gather (opset 13): y[i0.., j.., k..] = data[i0.., indices[j..], k..], of shape
/// data.shape[:axis] + indices.shape + data.shape[axis+1:]. Composed as an embedding lookup:
/// the axis is moved first and the other dimensions flattened into one row, F.Embedding picks
/// the rows, and the index dimensions are moved back to the axis position. Negative indices
/// count from the end of the axis, as ONNX allows.
/// </summary>
internal sealed class GatherOnnxOp : OnnxOp
{
    public override Tensor?[] Run(OnnxCase c, Device device)
    {
        var data = c.Input(0).ToFloatTensor(device);
        var indices = c.Input(1);
        int axis = Axis(c.Int("axis", 0), data.Rank, c);
        int size = data.Size(axis);
        var others = Enumerable.Range(0, data.Rank).Where(d => d != axis).ToArray();
        var otherSizes = others.Select(d => data.Size(d)).ToArray();

        var ids = OnnxTensor.Upload(device, WrapNegative(indices, size), indices.Shape);
        var table = data.Permute([axis, .. others]).Reshape(size, (int)ShapeMath.Count(otherSizes));
        var gathered = F.Embedding(table, ids).Reshape([.. indices.Shape, .. otherSizes]);

        // gathered is [indices..., data dims before axis..., data dims after axis...].
        int q = indices.Shape.Length;
        int[] order = [.. Enumerable.Range(q, axis), .. Enumerable.Range(0, q), .. Enumerable.Range(q + axis, data.Rank - 1 - axis)];
        return [gathered.Permute(order)];
    }

    private static int[] WrapNegative(OnnxTensor indices, int size) =>
        indices.ToInt32s().Select(i => i < 0 ? i + size : i).ToArray();
}
