namespace Engine;

/// <summary>
/// A Linear weight [out, in] packed once into the layout of the backend's matrix product, for a
/// model that multiplies by the same weights many times (inference, as ONNX Runtime prepacks
/// constant weights when a session starts). <see cref="F.Linear(Tensor, PackedWeight, Tensor?)"/>
/// then reads the packed copy instead of packing the weight again on every call, with bitwise the
/// same result. The weight itself is not owned and must outlive this object.
/// The packed copy is a snapshot: once the weight is written in place (a copy into it, an optimizer
/// step, a checkpoint load), F.Linear reads the weight directly, still correct, until it is packed
/// again. A backend without a packed layout (ILGPU) keeps no copy and always reads the weight.
/// </summary>
public sealed class PackedWeight : IDisposable
{
    private readonly Tensor? _packed;
    private readonly int _packedVersion;

    private PackedWeight(Tensor weight, Tensor? packed, int packedVersion)
    {
        Weight = weight;
        _packed = packed;
        _packedVersion = packedVersion;
    }

    /// <summary>The weight [out, in] this was packed from.</summary>
    public Tensor Weight { get; }

    /// <summary>Whether a packed copy exists and the weight has not been written since it was made.</summary>
    public bool IsCurrent => _packed is not null && Weight.Storage.Version == _packedVersion;

    /// <summary>Packs <paramref name="weight"/> [out, in] (float32) for <see cref="F.Linear(Tensor, PackedWeight, Tensor?)"/>.</summary>
    public static PackedWeight Pack(Tensor weight)
    {
        const string op = "PackedWeight.Pack";
        Checks.Float(op, weight, "weight");
        if (weight.Rank != 2)
            throw new ArgumentException($"{op}: weight {ShapeMath.Format(weight.Shape)} must be [out, in].");
        int outFeatures = weight.Size(0), inFeatures = weight.Size(1);
        long length = weight.Backend.PackedMatMulOperandLength(inFeatures, outFeatures);
        if (length == 0 || weight.Count == 0)
            return new PackedWeight(weight, null, 0);
        if (length > int.MaxValue)
            throw new ArgumentException($"{op}: weight {ShapeMath.Format(weight.Shape)} packs to {length} elements, more than one tensor holds.");

        int version = weight.Storage.Version;
        Tensor packed;
        using (TensorScope.Suspend())
            packed = Tensor.Empty(weight.Device, [(int)length]);
        using (Autograd.Pause())
        using (var dense = weight.Contiguous())
            weight.Backend.PackMatMulOperand(dense.Buffer, inFeatures, outFeatures, transB: true, ldb: inFeatures, packed.Buffer);
        return new PackedWeight(weight, packed, version);
    }

    /// <summary>The packed copy of op(B) = weight^T while it is current; null otherwise.</summary>
    internal Backends.BufferView? CurrentPacked => IsCurrent ? _packed!.Buffer : null;

    /// <summary>Frees the packed copy (not the weight).</summary>
    public void Dispose() => _packed?.Dispose();
}
