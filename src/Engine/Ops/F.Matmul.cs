using Engine.Kernels;

namespace Engine;

// Matrix products.
//   MatMul: a [..., M, K] @ b [..., K, N] -> [..., M, N], batch dimensions broadcast (torch.matmul;
//           a 1-D a is [1, K] and a 1-D b is [K, 1], their dimension dropped from the result).
//   Linear: x [..., in] @ weight[out, in]^T + bias[out] -> [..., out] (torch.nn.functional.linear).
// Transposed views reach the kernel as TransA/TransB flags instead of copies.
// Backward of C = alpha * A @ B + bias (batch dimensions broadcast):
//   dA = alpha * dC @ B^T, dB = alpha * A^T @ dC (each summed over the batch dimensions its operand
//   was broadcast along), dbias = dC summed over every dimension but the last. When B is a single
//   matrix shared by a batch of A (a layer's weight), dB is one product over the flattened rows.
public static partial class F
{
    /// <summary>Matrix product with torch.matmul's rules (broadcast batch dimensions, 1-D operands promoted).</summary>
    public static Tensor MatMul(Tensor a, Tensor b) => MatMul(a, b, null, 1f, "MatMul");

    /// <summary>x @ weight^T + bias, with weight [out, in] as torch.nn.Linear stores it.</summary>
    public static Tensor Linear(Tensor x, Tensor weight, Tensor? bias = null)
    {
        Checks.MinRank("Linear", x, 1);
        if (weight.Rank != 2 || weight.Size(1) != x.Size(-1))
            throw new ArgumentException($"Linear: weight {ShapeMath.Format(weight.Shape)} must be [out, {x.Size(-1)}] for input {ShapeMath.Format(x.Shape)}.");
        using var weightT = weight.T;
        return MatMul(x, weightT, bias, 1f, "Linear");
    }

    /// <summary>
    /// x @ weight^T + bias with the weight packed beforehand (<see cref="PackedWeight"/>): the same
    /// result and gradients as <see cref="Linear(Tensor, Tensor, Tensor?)"/> on its weight, without
    /// packing the weight on every call.
    /// </summary>
    public static Tensor Linear(Tensor x, PackedWeight weight, Tensor? bias = null)
    {
        Checks.MinRank("Linear", x, 1);
        if (weight.Weight.Size(1) != x.Size(-1))
            throw new ArgumentException($"Linear: weight {ShapeMath.Format(weight.Weight.Shape)} must be [out, {x.Size(-1)}] for input {ShapeMath.Format(x.Shape)}.");
        using var weightT = weight.Weight.T;
        return MatMul(x, weightT, bias, 1f, "Linear", weight);
    }

    /// <summary>alpha * (a @ b) + bias, bias [N] broadcast over rows (fused into the kernel's epilogue).</summary>
    public static Tensor MatMul(Tensor a, Tensor b, Tensor? bias, float alpha = 1f) => MatMul(a, b, bias, alpha, "MatMul");

    private static Tensor MatMul(Tensor a, Tensor b, Tensor? bias, float alpha, string op, PackedWeight? packedB = null)
    {
        Tensor c;
        using (Autograd.Pause())
            c = MatMulCore(a, b, bias, alpha, op, packedB);
        if (Autograd.Needs(a, b, bias))
        {
            bool needA = a.RequiresGrad, needB = b.RequiresGrad, needBias = bias?.RequiresGrad == true;
            var sa = Autograd.Save(a);
            var sb = Autograd.Save(b);
            Autograd.Record(op, c, [a, b, bias], g => MatMulGrad(sa, sb, g, alpha, needA, needB, needBias), sa, sb);
        }
        return c;
    }

    private static Tensor?[] MatMulGrad(Tensor a, Tensor b, Tensor dc, float alpha, bool needA, bool needB, bool needBias)
    {
        using var scope = a.Device.Scope();
        var a2 = a.Rank == 1 ? a.Unsqueeze(0) : a;
        var b2 = b.Rank == 1 ? b.Unsqueeze(1) : b;
        int m = a2.Size(-2), k = a2.Size(-1), n = b2.Size(-1);
        var batchShape = ShapeMath.Broadcast(a2.Shape[..^2], b2.Shape[..^2], "MatMul");
        var dc2 = dc.Reshape([.. batchShape, m, n]);

        Tensor? da = null, db = null, dbias = null;
        if (needA)
        {
            var full = MatMul(dc2, b2.Transpose(-1, -2), null, alpha);
            da = scope.Keep(SumToShape(full, a2.ShapeArray).Reshape(a.ShapeArray));
        }
        if (needB)
        {
            Tensor product;
            bool transposedWeight = b2.Rank == 2 && b2.Strides[0] == 1 && b2.Strides[1] >= k && k > 1;
            if (b2.Rank == 2 && transposedWeight)
                // B is W^T for a contiguous W (Linear's weight): compute dW = dC^T A directly in W's
                // layout, so its gradient arrives contiguous instead of as a transposed copy.
                product = MatMul(dc2.Reshape(-1, n).T, a2.Reshape(-1, k), null, alpha).T;
            else if (b2.Rank == 2 && a2.Rank > 2)
                product = MatMul(a2.Reshape(-1, k).T, dc2.Reshape(-1, n), null, alpha);
            else
                product = SumToShape(MatMul(a2.Transpose(-1, -2), dc2, null, alpha), b2.ShapeArray);
            db = scope.Keep(product.Reshape(b.ShapeArray));
        }
        if (needBias)
            dbias = scope.Keep(Sum(dc2.Reshape(-1, n), 0));
        return [da, db, dbias];
    }

    /// <summary>The product; <paramref name="packedB"/>, when given, is b already packed (b = its weight^T).</summary>
    private static Tensor MatMulCore(Tensor a, Tensor b, Tensor? bias, float alpha, string op, PackedWeight? packedB)
    {
        Checks.SameDevice(op, a, b);
        Checks.Float(op, a, "left operand");
        Checks.Float(op, b, "right operand");
        if (a.Rank == 0 || b.Rank == 0)
            throw new ArgumentException($"{op}: operands {ShapeMath.Format(a.Shape)} and {ShapeMath.Format(b.Shape)} must have at least one dimension.");

        using var scope = a.Device.Scope();
        var a2 = a.Rank == 1 ? a.Unsqueeze(0) : a;
        var b2 = b.Rank == 1 ? b.Unsqueeze(1) : b;
        int m = a2.Size(-2), k = a2.Size(-1), n = b2.Size(-1);
        if (b2.Size(-2) != k)
            throw new ArgumentException($"{op}: inner dimensions differ: {ShapeMath.Format(a.Shape)} @ {ShapeMath.Format(b.Shape)} ({k} vs {b2.Size(-2)}).");
        if (bias is not null)
        {
            Checks.SameDevice(op, a, bias);
            Checks.Float(op, bias, "bias");
            if (bias.Rank != 1 || bias.Size(0) != n)
                throw new ArgumentException($"{op}: bias {ShapeMath.Format(bias.Shape)} must be [{n}] for {ShapeMath.Format(a.Shape)} @ {ShapeMath.Format(b.Shape)}.");
        }

        var batchShape = ShapeMath.Broadcast(a2.Shape[..^2], b2.Shape[..^2], op);
        int batch = (int)ShapeMath.Count(batchShape);
        var (aView, aTrans, lda, aBatchStride) = MatrixOperand(a2, batchShape);
        var (bView, bTrans, ldb, bBatchStride) = MatrixOperand(b2, batchShape);
        var biasView = bias is null ? null : Dense(bias, out _);

        var outShape = new List<int>(batchShape);
        if (a.Rank > 1) outShape.Add(m);
        if (b.Rank > 1) outShape.Add(n);
        var c = Tensor.Empty(a.Device, outShape.ToArray());
        scope.Keep(c);
        if (c.Count == 0) return c;
        if (k == 0)
        {
            a.Backend.Fill(c.Buffer, c.Count, 0f);
            if (bias is null) return c;
        }

        // A batch of row-major matrices stacked without gaps times one shared B (a layer's weight)
        // is a single product over all the rows, as torch folds it: one taller product packs B
        // once instead of once per batch item, and splits its rows over the cores however few items.
        if (batch > 1 && bBatchStride == 0 && !aTrans && aBatchStride == (long)m * lda)
        {
            m *= batch;
            batch = 1;
        }
        var desc = new MatMulDesc
        {
            Batch = batch, M = m, N = n, K = k,
            TransA = aTrans, TransB = bTrans, Lda = lda, Ldb = ldb,
            BatchStrideA = aBatchStride, BatchStrideB = bBatchStride,
            Alpha = alpha, HasBias = bias is not null, Accumulate = false,
        };
        var packed = batch == 1 || bBatchStride == 0 ? packedB?.CurrentPacked : null;
        a.Backend.MatMul(desc, aView.Buffer, bView.Buffer, biasView is null ? c.Buffer : biasView.Buffer, c.Buffer, packed);
        return c;
    }

    /// <summary>
    /// Expresses one operand as (matrix view, transposed, leading dimension, batch stride) for the
    /// given broadcast batch shape; operands whose layout the kernel cannot read are copied.
    /// The returned view belongs to the caller's scope.
    /// </summary>
    private static (Tensor View, bool Trans, int Ld, long BatchStride) MatrixOperand(Tensor t, int[] batchShape)
    {
        int rows = t.Size(-2), cols = t.Size(-1);
        int sr = t.Strides[^2], sc = t.Strides[^1];
        var full = new List<int>(batchShape) { rows, cols };
        var batchStrides = ShapeMath.BroadcastStrides(t.Shape[..^2], t.Strides[..^2], batchShape);
        long? batchStride = UniformBatchStride(batchShape, batchStrides);

        // A dimension of size 1 can have any stride: the kernel never steps along it.
        if (rows == 1) sr = cols;
        if (cols == 1) sc = 1;
        bool plain = sc == 1 && sr >= cols;
        bool transposed = sr == 1 && sc >= rows;
        if (batchStride is null || !(plain || transposed))
        {
            var dense = t.Expand(full.ToArray()).Contiguous();
            return (dense, false, cols, batchShape.Length == 0 ? 0 : (long)rows * cols);
        }
        return plain
            ? (t, false, sr, batchStride.Value)
            : (t, true, sc, batchStride.Value);
    }

    /// <summary>The single stride that walks all batch dimensions in order, 0 when all are broadcast, null when none fits.</summary>
    private static long? UniformBatchStride(int[] batchShape, int[] strides)
    {
        long? stride = null;
        long expectedNext = -1;
        for (int d = batchShape.Length - 1; d >= 0; d--)
        {
            if (batchShape[d] == 1) continue;
            if (stride is null)
            {
                stride = strides[d];
                expectedNext = (long)strides[d] * batchShape[d];
            }
            else
            {
                if (strides[d] != expectedNext) return null;
                expectedNext *= batchShape[d];
            }
        }
        return stride ?? 0;
    }
}
