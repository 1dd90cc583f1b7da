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
