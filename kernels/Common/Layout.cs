namespace Engine.Kernels;

/// <summary>
/// Up to eight dimension sizes or strides, as plain fields so the struct can be passed by value
/// to an ILGPU kernel (kernel parameters cannot hold arrays).
/// </summary>
public struct Dims8
{
    public int D0, D1, D2, D3, D4, D5, D6, D7;

    /// <summary>The largest rank a layout can hold after adjacent dimensions are merged.</summary>
    public const int MaxRank = 8;

    public readonly int Get(int i) => i switch
    {
        0 => D0, 1 => D1, 2 => D2, 3 => D3, 4 => D4, 5 => D5, 6 => D6, _ => D7,
    };

    public void Set(int i, int value)
    {
        switch (i)
        {
            case 0: D0 = value; break;
            case 1: D1 = value; break;
            case 2: D2 = value; break;
            case 3: D3 = value; break;
            case 4: D4 = value; break;
            case 5: D5 = value; break;
            case 6: D6 = value; break;
            default: D7 = value; break;
        }
    }
}

/// <summary>
/// The iteration space of an elementwise op: an output of shape <see cref="Shape"/> (row-major,
/// contiguous) and up to two inputs read through their own element strides. A stride of 0
/// broadcasts that input along the dimension. Dimensions are merged before a kernel sees them,
/// so most ops arrive here with rank 1 or 2.
/// </summary>
public struct ElementwiseLayout
{
    /// <summary>Number of dimensions in use (1..8).</summary>
    public int Rank;
    /// <summary>Output sizes per dimension.</summary>
    public Dims8 Shape;
    /// <summary>Element strides of input A per dimension (0 = broadcast).</summary>
    public Dims8 StridesA;
    /// <summary>Element strides of input B per dimension (0 = broadcast); unused by unary ops.</summary>
    public Dims8 StridesB;

    /// <summary>Total number of output elements.</summary>
    public readonly int Count
    {
        get
        {
            int n = 1;
            for (int d = 0; d < Rank; d++) n *= Shape.Get(d);
            return n;
        }
    }

    /// <summary>Element offset in A of output element <paramref name="linear"/>.</summary>
    public readonly int OffsetA(int linear) => Offset(linear, StridesA);

    /// <summary>Element offset in B of output element <paramref name="linear"/>.</summary>
    public readonly int OffsetB(int linear) => Offset(linear, StridesB);

    private readonly int Offset(int linear, Dims8 strides)
    {
        int offset = 0;
        for (int d = Rank - 1; d >= 0; d--)
        {
            int size = Shape.Get(d);
            offset += (linear % size) * strides.Get(d);
            linear /= size;
        }
        return offset;
    }
}

/// <summary>
/// A batched matrix product C[b] = alpha * op(A[b]) op(B[b]) (+ bias) (+ C[b] when accumulating),
/// with op(X) = X or X^T. Shapes: op(A) is [M, K], op(B) is [K, N], C is [M, N] row-major with
/// leading dimension N. Element (m, k) of op(A) lives at A[m * Lda + k] when not transposed and at
/// A[k * Lda + m] when transposed; likewise for B with Ldb. Batch b starts at b * BatchStrideA
/// (0 = the same matrix for every batch), b * BatchStrideB and b * M * N.
/// </summary>
public struct MatMulDesc
{
    public int Batch, M, N, K;
    public bool TransA, TransB;
    public int Lda, Ldb;
    public long BatchStrideA, BatchStrideB;
    public float Alpha;
    /// <summary>Add a bias vector of length N to every row of C.</summary>
    public bool HasBias;
    /// <summary>C += result instead of C = result (for gradient accumulation).</summary>
    public bool Accumulate;

    /// <summary>Floating-point operations of the product: 2 * Batch * M * N * K.</summary>
    public readonly double Flops => 2.0 * Batch * M * N * K;
}

/// <summary>
/// The shapes of a fused scaled dot-product attention. q [Batch, QueryHeads, QueryLength, HeadSize],
/// k and v [Batch, KvHeads, KeyLength, HeadSize], out [Batch, QueryHeads, QueryLength, HeadSize] and
/// lse [Batch, QueryHeads, QueryLength], all contiguous. QueryHeads is a multiple of KvHeads:
/// query head h reads kv head h / (QueryHeads / KvHeads) (grouped-query attention).
/// Scores s_ij = Scale * q_i . k_j (+ mask_ij) are -inf where masked; with Causal, query i sees
/// keys j &lt;= i + KeyLength - QueryLength (the diagonal aligned bottom-right, as for queries that
/// extend a cache). The optional additive mask is read at
/// b * MaskBatchStride + h * MaskHeadStride + i * MaskRowStride + j (strides 0 broadcast; -inf drops).
/// A row whose keys are all masked has lse = -inf and an output of zeros, never NaN.
/// </summary>
public struct AttentionDesc
{
    public int Batch, QueryHeads, KvHeads, QueryLength, KeyLength, HeadSize;
    public float Scale;
    /// <summary>Nonzero for the causal mask.</summary>
    public int Causal;
    /// <summary>Nonzero when an additive mask is given.</summary>
    public int HasMask;
    public long MaskBatchStride, MaskHeadStride, MaskRowStride;
}
