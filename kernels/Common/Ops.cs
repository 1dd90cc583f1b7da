namespace Engine.Kernels;

/// <summary>Elementwise functions of one operand. <c>Identity</c> is a (strided) copy.</summary>
public enum UnaryOp
{
    Identity, Neg, Relu, GeluTanh, GeluErf, Exp, Log, Log1p, Tanh, Sqrt, Abs, Sign, Sigmoid, Erf, Reciprocal, Square,
}

/// <summary>Elementwise functions of two operands, y = a (op) b.</summary>
public enum BinaryOp
{
    Add, Sub, Mul, Div, Max, Min, Pow,
}

/// <summary>Reductions along one axis. <c>ArgMax</c> writes int32 indices (first maximum wins).</summary>
public enum ReduceOp
{
    Sum, Mean, Max, ArgMax,
}

/// <summary>
/// Sparsity penalties of a batch of vectors w [N, V], both built on the column means
/// m_j = mean_i |w_ij|: <c>Flops</c> = sum_j m_j^2 (Paria et al. 2020), <c>L1</c> = sum_j m_j
/// (= mean_i sum_j |w_ij|).
/// </summary>
public enum SparsityPenalty
{
    Flops, L1,
}
