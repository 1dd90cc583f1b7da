namespace Engine.Io.Onnx;

/// <summary>One parameter of a BERT encoder on the host: its shape and its elements, row-major.</summary>
/// <param name="Shape">Sizes of the dimensions; Linear weights are [out, in] as in PyTorch.</param>
/// <param name="Data">The elements, row-major; the array belongs to the caller.</param>
public sealed record BertParameter(int[] Shape, float[] Data)
{
    /// <summary>Copies the parameter onto <paramref name="device"/> as a float32 tensor.</summary>
    public Tensor ToTensor(Device device) => Tensor.FromArray(device, Data, Shape);
}
