namespace Engine.Tests.Conformance;

/// <summary>The ONNX operators the engine has, each mapped to Engine calls. Any other op is "not implemented".</summary>
internal static class OnnxOpTable
{
    public static readonly IReadOnlyDictionary<string, OnnxOp> Ops = new Dictionary<string, OnnxOp>
    {
        ["Abs"] = new UnaryOnnxOp(F.Abs),
        ["Erf"] = new UnaryOnnxOp(F.Erf),
        ["Exp"] = new UnaryOnnxOp(F.Exp),
        ["Log"] = new UnaryOnnxOp(F.Log),
        ["Sqrt"] = new UnaryOnnxOp(F.Sqrt),
        ["Tanh"] = new UnaryOnnxOp(F.Tanh),
        ["Relu"] = new UnaryOnnxOp(F.Relu),
        ["Sigmoid"] = new UnaryOnnxOp(F.Sigmoid),
        ["Sign"] = new UnaryOnnxOp(F.Sign),
        ["Gelu"] = new GeluOnnxOp(),
        ["Add"] = new BinaryOnnxOp(F.Add),
        ["Sub"] = new BinaryOnnxOp(F.Sub),
        ["Mul"] = new BinaryOnnxOp(F.Mul),
        ["Div"] = new BinaryOnnxOp(F.Div),
        ["Pow"] = new BinaryOnnxOp(F.Pow),
        ["MatMul"] = new MatMulOnnxOp(),
        ["Gemm"] = new GemmOnnxOp(),
        ["Softmax"] = new SoftmaxOnnxOp(log: false),
        ["LogSoftmax"] = new SoftmaxOnnxOp(log: true),
        ["LayerNormalization"] = new LayerNormalizationOnnxOp(),
        ["RMSNormalization"] = new RmsNormalizationOnnxOp(),
        ["ReduceSum"] = ReduceOnnxOp.Sum(),
        ["ReduceMean"] = ReduceOnnxOp.Mean(),
        ["ReduceMax"] = ReduceOnnxOp.Max(),
        ["ReduceL1"] = ReduceOnnxOp.L1(),
        ["ReduceL2"] = ReduceOnnxOp.L2(),
        ["ReduceSumSquare"] = ReduceOnnxOp.SumSquare(),
        ["Reshape"] = new ReshapeOnnxOp(),
        ["Transpose"] = new TransposeOnnxOp(),
        ["Slice"] = new SliceOnnxOp(),
        ["Split"] = new SplitOnnxOp(),
        ["Gather"] = new GatherOnnxOp(),
        ["SoftmaxCrossEntropyLoss"] = new SoftmaxCrossEntropyLossOnnxOp(),
        ["Attention"] = new AttentionOnnxOp(),
    };
}
