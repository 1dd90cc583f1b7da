using Engine.Models;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Engine.Tests;

/// <summary>A packaged sentence-transformers model loaded twice: by our engine and by ONNX Runtime, the reference.</summary>
public abstract class BertFixture : IDisposable
{
    private readonly InferenceSession _session;

    private protected BertFixture(OnnxPackagedModel package, Pooling pooling)
    {
        Device = Device.Cpu();
        Encoder = PretrainedBert.FromResourceAssembly(Device, package.AssemblyPath, pooling);
        using var assembly = Engine.Io.Onnx.ManifestResourceReader.Open(package.AssemblyPath);
        Tokenizer = PretrainedBert.LoadVocabulary(package.VocabResource, assembly.Read(package.VocabResource), Encoder.Encoder.Config.VocabSize);
        var options = new SessionOptions { IntraOpNumThreads = 1 };
        _session = new InferenceSession(package.ReadModel(), options);
    }

    public Device Device { get; }
    public SentenceEncoder Encoder { get; }
    public Microsoft.ML.Tokenizers.BertTokenizer Tokenizer { get; }

    /// <summary>ONNX Runtime's last_hidden_state [B, T, H] for token id sequences padded with 0 and masked.</summary>
    public float[] Reference(IReadOnlyList<int[]> sequences, out int tokens)
    {
        int batch = sequences.Count;
        tokens = sequences.Max(s => s.Length);
        var ids = new DenseTensor<long>([batch, tokens]);
        var mask = new DenseTensor<long>([batch, tokens]);
        var types = new DenseTensor<long>([batch, tokens]);
        for (int b = 0; b < batch; b++)
            for (int t = 0; t < sequences[b].Length; t++)
            {
                ids[b, t] = sequences[b][t];
                mask[b, t] = 1;
            }
        var inputs = new List<NamedOnnxValue>();
        foreach (var input in _session.InputMetadata.Keys)
            inputs.Add(input switch
            {
                "input_ids" => NamedOnnxValue.CreateFromTensor(input, ids),
                "attention_mask" => NamedOnnxValue.CreateFromTensor(input, mask),
                "token_type_ids" => NamedOnnxValue.CreateFromTensor(input, types),
                _ => throw new InvalidOperationException($"unexpected model input {input}"),
            });
        using var results = _session.Run(inputs);
        var hidden = results.First(r => r.Name == "last_hidden_state" || r.Name == _session.OutputMetadata.Keys.First());
        return hidden.AsTensor<float>().ToArray();
    }

    public void Dispose()
    {
        _session.Dispose();
        Encoder.Dispose();
        Device.Dispose();
    }
}

public sealed class MiniLMFixture() : BertFixture(OnnxPackagedModel.MiniLM, Pooling.Mean);

public sealed class ArcticXsFixture() : BertFixture(OnnxPackagedModel.ArcticXs, Pooling.Cls);
