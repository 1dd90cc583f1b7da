namespace Engine.Models;

/// <summary>
/// Linear projections of the same input stacked into one: their weights [out_i, in] into
/// [sum out_i, in] (packed) and their biases into [sum out_i], so one product replaces several.
/// Made from the parameters when the model is built, so it stands for them only while they are
/// unchanged (their storage versions) and not being trained (a product through the copy would not
/// reach their gradients); otherwise the caller runs the projections one by one.
/// </summary>
internal sealed class FusedProjection : IDisposable
{
    private readonly Tensor[] _sources;
    private readonly int[] _versions;

    /// <param name="device">Where the stacked copy lives.</param>
    /// <param name="names">The projections in output order, e.g. query, key, value.</param>
    /// <param name="parameter">A projection's parameter by "{name}.weight" / "{name}.bias".</param>
    public FusedProjection(Device device, string[] names, Func<string, Tensor> parameter)
    {
        var weights = names.Select(n => parameter(n + ".weight")).ToArray();
        var biases = names.Select(n => parameter(n + ".bias")).ToArray();
        _sources = [.. weights, .. biases];
        _versions = _sources.Select(t => t.Storage.Version).ToArray();
        int inFeatures = weights[0].Size(1), outFeatures = weights.Sum(w => w.Size(0));
        Tensor weight, bias;
        using (TensorScope.Suspend())
        {
            weight = Tensor.Zeros(device, [outFeatures, inFeatures]);
            bias = Tensor.Zeros(device, [outFeatures]);
        }
        using (Autograd.NoGrad())
        {
            int row = 0;
            for (int i = 0; i < weights.Length; row += weights[i].Size(0), i++)
            {
                using (var rows = weight.Narrow(0, row, weights[i].Size(0))) rows.CopyFrom(weights[i]);
                using (var part = bias.Narrow(0, row, weights[i].Size(0))) part.CopyFrom(biases[i]);
            }
        }
        Weight = PackedWeight.Pack(weight);
        Bias = bias;
    }

    /// <summary>The stacked weight [sum out_i, in], packed.</summary>
    public PackedWeight Weight { get; }
    /// <summary>The stacked bias [sum out_i].</summary>
    public Tensor Bias { get; }

    /// <summary>Whether the stacked copy still equals the projections and none of them is being trained.</summary>
    public bool IsCurrent
    {
        get
        {
            for (int i = 0; i < _sources.Length; i++)
                if (_sources[i].RequiresGrad || _sources[i].Storage.Version != _versions[i]) return false;
            return true;
        }
    }

    public void Dispose()
    {
        Weight.Dispose();
        Weight.Weight.Dispose();
        Bias.Dispose();
    }
}
