using Engine.Io.Onnx;

namespace Engine.Tests;

// Each packaged model's bytes and loaded weights, read once for all the tests of a class
// (reading and copying 90 MB takes a noticeable fraction of a second).
public sealed class OnnxPackagedModelFixture
{
    private readonly Lazy<(byte[] Bytes, OnnxModel Model, BertOnnxWeights Bert)> _miniLM = new(() => Load(OnnxPackagedModel.MiniLM));
    private readonly Lazy<(byte[] Bytes, OnnxModel Model, BertOnnxWeights Bert)> _arcticXs = new(() => Load(OnnxPackagedModel.ArcticXs));

    public (byte[] Bytes, OnnxModel Model, BertOnnxWeights Bert) Get(string name) => name == "MiniLM" ? _miniLM.Value : _arcticXs.Value;

    private static (byte[], OnnxModel, BertOnnxWeights) Load(OnnxPackagedModel package)
    {
        byte[] bytes = package.ReadModel();
        var model = OnnxModel.Parse(package.ModelSource, bytes);
        return (bytes, model, BertOnnxWeights.FromModel(model));
    }
}
