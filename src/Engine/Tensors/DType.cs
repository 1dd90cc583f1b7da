namespace Engine;

/// <summary>Element types. float32 is the working type; int32 holds token ids, targets and indices.</summary>
public enum DType
{
    /// <summary>IEEE 754 single precision.</summary>
    Float32,
    /// <summary>32-bit signed integer (stored bit-for-bit in the same 4-byte storage).</summary>
    Int32,
}
