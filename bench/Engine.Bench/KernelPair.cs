using TorchSharp;
using TorchTensor = TorchSharp.torch.Tensor;

namespace Engine.Bench;

/// <summary>
/// Our kernel and libtorch's for one <see cref="Workload"/>, set up on the same input values: each
/// side's inputs are created once; every call makes and returns a new output.
/// </summary>
public sealed class KernelPair : IDisposable
{
    private readonly List<IDisposable> _inputs;
    private readonly Func<Tensor> _ours;
    private readonly Func<TorchTensor> _torch;

    private KernelPair(Workload workload, List<IDisposable> inputs, Func<Tensor> ours, Func<TorchTensor> torch)
    {
        Workload = workload;
        _inputs = inputs;
        _ours = ours;
        _torch = torch;
    }

    /// <summary>What both sides compute.</summary>
    public Workload Workload { get; }

    /// <summary>One call of our kernel, its output disposed at once.</summary>
    public void RunOurs()
    {
        using var output = _ours();
    }

    /// <summary>One call of libtorch's kernel, its output disposed at once.</summary>
    public void RunTorch()
    {
        using var output = _torch();
    }

    /// <summary>‖ours − torch‖₂ / ‖torch‖₂ over one output of each.</summary>
    public double RelativeError()
    {
        using var ours = _ours();
        using var torchOutput = _torch();
        var expected = torchOutput.data<float>().ToArray();
        var actual = ours.ToArray();
        double difference = 0, reference = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            double d = (double)actual[i] - expected[i];
            difference += d * d;
            reference += (double)expected[i] * expected[i];
        }
        return Math.Sqrt(difference / Math.Max(reference, double.Epsilon));
    }

    /// <summary>Disposes both sides' inputs.</summary>
    public void Dispose()
    {
        foreach (var input in _inputs)
            input.Dispose();
    }

    /// <summary>Creates the inputs of <paramref name="workload"/> on <paramref name="device"/> and their copies in libtorch.</summary>
    public static KernelPair Create(Workload workload, Device device)
    {
        var inputs = new List<IDisposable>();
        (Tensor Ours, TorchTensor Torch) Input(ulong seed, params int[] shape)
        {
            var ours = Tensor.Randn(device, shape, seed);
            var torchCopy = torch.tensor(ours.ToArray(), shape.Select(d => (long)d).ToArray());
            inputs.Add(ours);
            inputs.Add(torchCopy);
            return (ours, torchCopy);
        }

        switch (workload)
        {
            case MatMulWorkload w:
            {
                var a = Input(1, w.M, w.K);
                var b = Input(2, w.K, w.N);
                return new(workload, inputs, () => F.MatMul(a.Ours, b.Ours), () => torch.matmul(a.Torch, b.Torch));
            }
            case SoftmaxWorkload w:
            {
                var x = Input(3, w.Rows, w.Cols);
                return new(workload, inputs, () => F.Softmax(x.Ours), () => torch.nn.functional.softmax(x.Torch, -1));
            }
            case LayerNormWorkload w:
            {
                var x = Input(4, w.Rows, w.Cols);
                var gamma = Input(5, w.Cols);
                var beta = Input(6, w.Cols);
                long[] normalizedShape = [w.Cols];
                return new(workload, inputs,
                    () => F.LayerNorm(x.Ours, gamma.Ours, beta.Ours),
                    () => torch.nn.functional.layer_norm(x.Torch, normalizedShape, gamma.Torch, beta.Torch, 1e-5));
            }
            case GeluWorkload w:
            {
                var x = Input(7, w.Rows, w.Cols);
                return new(workload, inputs,
                    () => F.Gelu(x.Ours, GeluApproximation.Tanh),
                    () => torch.nn.functional.gelu(x.Torch, TorchSharp.Modules.GELU.Approximate.tanh));
            }
            default:
                throw new ArgumentException($"no libtorch counterpart for {workload.GetType().Name}");
        }
    }
}
