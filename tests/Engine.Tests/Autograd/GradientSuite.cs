using Engine.Kernels;
using FsCheck.Xunit;
using TT = TorchSharp.torch;

namespace Engine.Tests;

// Every differentiable op's backward against torch autograd. Each check takes a random upstream
// gradient w, backpropagates loss = sum(op(inputs) * w) through the engine and through torch in
// float64, and compares every input's gradient with the bound of its op family: elementwise and
// row ops 1e-5 like their forwards; matmul 1e-4 (long reductions, as its forward); reductions
// over a dimension and layer norm's gamma/beta gradients, which are sums over rows, are judged
// against the sum of magnitudes as the forward sums are.
public abstract class GradientSuite<TFixture>(TFixture backend) : IClassFixture<TFixture> where TFixture : BackendFixture
{
    private const double Bound = 1e-5;
    private Device D => backend.Device;

    /// <summary>A float32 leaf that requires a gradient, and its float64 torch twin that does too.</summary>
    private static (Tensor Engine, TT.Tensor Torch) Leaf(Tensor values)
    {
        values.RequiresGrad = true;
        return (values, Oracle.ToTorch(values).requires_grad_(true));
    }

    /// <summary>Backpropagates sum(y * w) for a random w on both sides.</summary>
    private void BackwardWeighted(Tensor y, TT.Tensor ty, ulong seed)
    {
        var w = Tensor.Randn(D, y.Shape, seed + 99);
        F.Sum(F.Mul(y, w)).Backward();
        (ty * Oracle.ToTorch(w)).sum().backward();
    }

    private static void AssertGrad(Tensor x, TT.Tensor tx, double bound, string what)
    {
        Assert.NotNull(x.Grad);
        Oracle.AssertClose(x.Grad!, tx.grad!, bound, what);
    }

    public static IEnumerable<object[]> UnaryOps() =>
        Enum.GetValues<UnaryOp>().Where(op => op != UnaryOp.Identity).Select(op => new object[] { op });

    [Theory]
    [MemberData(nameof(UnaryOps))]
    public void Unary_gradients_match_torch(UnaryOp op)
    {
        foreach (var (shape, seed) in new[] { (new[] { 1 }, 1UL), ([7, 13], 2UL), ([3, 5, 33], 3UL) })
        {
            using var scope = D.Scope();
            var values = Tensor.Randn(D, Clamp(shape), seed, 0f, 2f);
            // Keep each function inside its domain and away from its kinks.
            if (op is UnaryOp.Log or UnaryOp.Sqrt) values = F.Add(F.Abs(values), 0.1f);
            if (op is UnaryOp.Log1p) values = F.Add(F.Abs(values), -0.5f);
            if (op is UnaryOp.Reciprocal) values = F.Add(F.Abs(values), 0.5f);
            var (x, tx) = Leaf(values);
            var y = Apply(op, x);
            var ty = ApplyTorch(op, tx);
            BackwardWeighted(y, ty, seed);
            if (op == UnaryOp.Sign)
                Assert.All(x.Grad!.ToArray(), g => Assert.Equal(0f, g));
            else
                AssertGrad(x, tx, Bound, $"{op} gradient {ShapeMath.Format(x.Shape)}");
        }
    }

    private int[] Clamp(int[] shape) => new TensorCase(shape, 1f, 0).Shape(backend);

    private static Tensor Apply(UnaryOp op, Tensor x) => op switch
    {
        UnaryOp.Neg => F.Neg(x), UnaryOp.Relu => F.Relu(x), UnaryOp.GeluTanh => F.Gelu(x, GeluApproximation.Tanh),
        UnaryOp.GeluErf => F.Gelu(x), UnaryOp.Exp => F.Exp(x), UnaryOp.Log => F.Log(x), UnaryOp.Log1p => F.Log1p(x),
        UnaryOp.Tanh => F.Tanh(x), UnaryOp.Sqrt => F.Sqrt(x), UnaryOp.Abs => F.Abs(x), UnaryOp.Sign => F.Sign(x),
        UnaryOp.Sigmoid => F.Sigmoid(x), UnaryOp.Erf => F.Erf(x), UnaryOp.Reciprocal => F.Reciprocal(x),
        UnaryOp.Square => F.Square(x), _ => throw new ArgumentOutOfRangeException(nameof(op)),
    };

    private static TT.Tensor ApplyTorch(UnaryOp op, TT.Tensor x) => op switch
    {
        UnaryOp.Neg => -x, UnaryOp.Relu => TT.nn.functional.relu(x), UnaryOp.GeluTanh => 0.5 * x * (1 + TT.tanh(Math.Sqrt(2 / Math.PI) * (x + 0.044715 * x.pow(3)))),
        UnaryOp.GeluErf => TT.nn.functional.gelu(x), UnaryOp.Exp => x.exp(), UnaryOp.Log => x.log(), UnaryOp.Log1p => x.log1p(),
        UnaryOp.Tanh => x.tanh(), UnaryOp.Sqrt => x.sqrt(), UnaryOp.Abs => x.abs(), UnaryOp.Sign => x.sign(),
        UnaryOp.Sigmoid => x.sigmoid(), UnaryOp.Erf => x.erf(), UnaryOp.Reciprocal => x.reciprocal(),
        UnaryOp.Square => x.square(), _ => throw new ArgumentOutOfRangeException(nameof(op)),
    };

    [Property(MaxTest = 12, Arbitrary = [typeof(Generators)])]
    public void Binary_gradients_with_broadcasting_match_torch(TensorCase c)
    {
        var shape = c.Shape(backend);
        // b broadcasts: every other dimension of a collapsed to 1, and a leading dimension dropped.
        var bShape = shape.Select((d, i) => (i + (int)c.Seed) % 2 == 0 ? 1 : d).Skip(shape.Length > 1 && c.Seed % 3 == 0 ? 1 : 0).ToArray();
        foreach (var op in Enum.GetValues<BinaryOp>())
        {
            using var scope = D.Scope();
            var aValues = Tensor.Randn(D, shape, c.Seed, 0f, 1f);
            var bValues = Tensor.Randn(D, bShape, c.Seed + 1, 0f, 1f);
            if (op is BinaryOp.Div or BinaryOp.Pow)
            {
                // Division away from 0; powers of positive bases.
                bValues = op == BinaryOp.Div ? F.Add(F.Abs(bValues), 0.5f) : bValues;
                aValues = op == BinaryOp.Pow ? F.Add(F.Abs(aValues), 0.5f) : aValues;
            }
            var (a, ta) = Leaf(aValues);
            var (b, tb) = Leaf(bValues);
            var (y, ty) = op switch
            {
                BinaryOp.Add => (a + b, ta + tb),
                BinaryOp.Sub => (a - b, ta - tb),
                BinaryOp.Mul => (a * b, ta * tb),
                BinaryOp.Div => (a / b, ta / tb),
                BinaryOp.Max => (F.Maximum(a, b), TT.maximum(ta, tb)),
                BinaryOp.Min => (F.Minimum(a, b), TT.minimum(ta, tb)),
                _ => (F.Pow(a, b), ta.pow(tb)),
            };
            BackwardWeighted(y, ty, c.Seed);
            AssertGrad(a, ta, Bound, $"{op} gradient of a {ShapeMath.Format(shape)} {c}");
            // b's gradient sums over the broadcast dimensions.
            AssertGrad(b, tb, 1e-4, $"{op} gradient of b {ShapeMath.Format(bShape)} {c}");
        }
    }

    [Fact]
    public void Max_and_min_split_ties_evenly_like_torch()
    {
        using var scope = D.Scope();
        var (a, ta) = Leaf(Tensor.FromArray(D, [1f, 2f, 3f, 4f]));
        var (b, tb) = Leaf(Tensor.FromArray(D, [1f, 5f, 3f, 0f]));
        BackwardWeighted(F.Maximum(a, b) + F.Minimum(a, b) * 3f, TT.maximum(ta, tb) + TT.minimum(ta, tb) * 3, 7);
        AssertGrad(a, ta, Bound, "Maximum/Minimum gradient of a");
        AssertGrad(b, tb, Bound, "Maximum/Minimum gradient of b");
    }

    [Property(MaxTest = 12, Arbitrary = [typeof(Generators)])]
    public void Matmul_gradients_match_torch(MatmulCase c)
    {
        using var scope = D.Scope();
        int max = backend.MaxMatmulDim;
        int m = Math.Min(c.M, max), k = Math.Min(c.K, max), n = Math.Min(c.N, max);
        var aShape = c.TransA ? new[] { c.Batch, k, m } : [c.Batch, m, k];
        var bShape = c.SharedB ? (c.TransB ? new[] { n, k } : [k, n]) : (c.TransB ? [c.Batch, n, k] : [c.Batch, k, n]);
        var (a, ta) = Leaf(Tensor.Randn(D, aShape, c.Seed));
        var (b, tb) = Leaf(Tensor.Randn(D, bShape, c.Seed + 1));
        var (bias, tbias) = Leaf(Tensor.Randn(D, [n], c.Seed + 2));
        var aView = c.TransA ? a.Transpose(-1, -2) : a;
        var bView = c.TransB ? b.Transpose(-1, -2) : b;
        var taView = c.TransA ? ta.transpose(-1, -2) : ta;
        var tbView = c.TransB ? tb.transpose(-1, -2) : tb;
        var y = F.MatMul(aView, bView, c.Bias ? bias : null, 0.5f);
        var ty = taView.matmul(tbView) * 0.5 + (c.Bias ? tbias : TT.zeros(n, TT.ScalarType.Float64));
        BackwardWeighted(y, ty, c.Seed);
        AssertGrad(a, ta, 1e-4, $"MatMul dA {c}");
        AssertGrad(b, tb, 1e-4, $"MatMul dB {c}");
        if (c.Bias) AssertGrad(bias, tbias, 1e-4, $"MatMul dbias {c}");
    }

    [Fact]
    public void Matmul_of_vectors_and_linear_gradients_match_torch()
    {
        using var scope = D.Scope();
        var (v, tv) = Leaf(Tensor.Randn(D, [5], 1));
        var (m, tm) = Leaf(Tensor.Randn(D, [5, 3], 2));
        var (x, tx) = Leaf(Tensor.Randn(D, [2, 4, 5], 3));
        var (w, tw) = Leaf(Tensor.Randn(D, [3, 5], 4));
        var (bias, tbias) = Leaf(Tensor.Randn(D, [3], 5));
        var y = F.Sum(F.MatMul(v, m)) + F.Sum(F.Linear(x, w, bias) * F.Linear(x, w, bias));
        var ty = tv.matmul(tm).sum() + TT.nn.functional.linear(tx, tw, tbias).square().sum();
        y.Backward();
        ty.backward();
        foreach (var (e, t, name) in new[] { (v, tv, "vector"), (m, tm, "matrix"), (x, tx, "x"), (w, tw, "weight"), (bias, tbias, "bias") })
            AssertGrad(e, t, 1e-4, $"MatMul/Linear gradient of {name}");
    }

    [Property(MaxTest = 12, Arbitrary = [typeof(Generators)])]
    public void Reduction_gradients_match_torch(TensorCase c)
    {
        using var scope = D.Scope();
        var (x, tx) = Leaf(c.Make(backend));
        int dim = (int)(c.Seed % (ulong)x.Rank);
        bool keep = c.Seed % 2 == 0;
        var y = F.Sum(x, dim, keep) * 2f + F.Mean(x, dim, keep) + F.Max(x, dim, keep) * 3f + F.Sum(x) * 0.5f;
        var ty = tx.sum(dim, keep) * 2 + tx.mean([(long)dim], keep) + tx.max(dim, keep).values * 3 + tx.sum() * 0.5;
        BackwardWeighted(y, ty, c.Seed);
        AssertGrad(x, tx, Bound, $"Sum/Mean/Max gradient dim {dim} keepDim {keep} {c}");
    }

    [Property(MaxTest = 12, Arbitrary = [typeof(Generators)])]
    public void Softmax_gradients_match_torch(TensorCase c)
    {
        using var scope = D.Scope();
        var (x, tx) = Leaf(c.Make(backend));
        int dim = (int)(c.Seed % (ulong)x.Rank);
        var y = F.Softmax(x, dim) + F.LogSoftmax(x, dim) * 0.25f;
        var ty = TT.nn.functional.softmax(tx, dim) + TT.nn.functional.log_softmax(tx, dim) * 0.25;
        BackwardWeighted(y, ty, c.Seed);
        AssertGrad(x, tx, Bound, $"Softmax/LogSoftmax gradient dim {dim} {c}");
    }

    [Property(MaxTest = 12, Arbitrary = [typeof(Generators)])]
    public void LayerNorm_gradients_match_torch(TensorCase c)
    {
        using var scope = D.Scope();
        var (x, tx) = Leaf(c.Make(backend));
        int cols = x.Size(-1);
        var (gamma, tgamma) = Leaf(Tensor.Randn(D, [cols], c.Seed + 1));
        var (beta, tbeta) = Leaf(Tensor.Randn(D, [cols], c.Seed + 2));
        bool affine = c.Seed % 3 != 0;
        var y = F.LayerNorm(x, affine ? gamma : null, affine ? beta : null, 1e-5f);
        var ty = TT.nn.functional.layer_norm(tx, [cols], affine ? tgamma : null, affine ? tbeta : null, 1e-5);
        var w = Tensor.Randn(D, y.Shape, c.Seed + 99);
        F.Sum(F.Mul(y, w)).Backward();
        var tw = Oracle.ToTorch(w);
        (ty * tw).sum().backward();

        // dx = rstd * (g - mean(g) - xhat * mean(g * xhat)) cancels when a row has few columns
        // (over two columns xhat = +-1 up to eps, and the terms cancel to ~eps / var); over one
        // column it is exactly 0. float32 cannot resolve the cancelled remainder, so dx is judged
        // against the size of its terms, ||rstd * g||, the op's condition, as sums are judged
        // against the sum of magnitudes, or against 4x libtorch's own float32 error on the same
        // inputs when that is larger. dgamma over one column is exactly 0 likewise.
        var rstd = (tx.var([-1L], false, true) + 1e-5).rsqrt();
        var terms = rstd * tw * (affine ? tgamma : TT.ones(cols, TT.ScalarType.Float64));
        double termNorm = terms.norm().item<double>();
        var dx = x.Grad!.ToArray();
        var expected = Oracle.Values(tx.grad!);
        double diff = Math.Sqrt(dx.Select((v, i) => (v - expected[i]) * (v - expected[i])).Sum());
        double refNorm = Math.Sqrt(expected.Select(v => v * v).Sum());
        // libtorch's own float32 layer norm backward on the same inputs: the bound never asks more than 4x its error.
        var x32 = tx.detach().to_type(TT.ScalarType.Float32).requires_grad_(true);
        var y32 = TT.nn.functional.layer_norm(x32, [cols], affine ? tgamma.detach().to_type(TT.ScalarType.Float32) : null, affine ? tbeta.detach().to_type(TT.ScalarType.Float32) : null, 1e-5);
        (y32 * tw.to_type(TT.ScalarType.Float32)).sum().backward();
        var dx32 = x32.grad!.data<float>().ToArray();
        double torchDiff = Math.Sqrt(dx32.Select((v, i) => (v - expected[i]) * (v - expected[i])).Sum());
        double bound = Math.Max(5e-5 * Math.Max(refNorm, termNorm), 4 * torchDiff);
        Assert.True(diff <= bound + 1e-30, $"LayerNorm dx {c}: error {diff:E3}, reference norm {refNorm:E3}, term norm {termNorm:E3}, libtorch float32 error {torchDiff:E3}");
        if (!affine) return;
        if (cols == 1)
            Assert.All(gamma.Grad!.ToArray(), g => Assert.True(Math.Abs(g) <= 1e-6, $"LayerNorm dgamma over one column is {g}"));
        else
            AssertGrad(gamma, tgamma, 1e-4, $"LayerNorm dgamma {c}");
        AssertGrad(beta, tbeta, 1e-4, $"LayerNorm dbeta {c}");
    }

    [Property(MaxTest = 12, Arbitrary = [typeof(Generators)])]
    public void Embedding_and_cross_entropy_gradients_match_torch(TensorCase c)
    {
        using var scope = D.Scope();
        var shape = c.Shape(backend);
        int vocab = shape[0], dim = shape.Length > 1 ? shape[^1] : 3;
        var random = new Random((int)(c.Seed % int.MaxValue));
        int count = random.Next(1, 40);
        var idValues = Enumerable.Range(0, count).Select(_ => random.Next(vocab)).ToArray();
        var targetValues = Enumerable.Range(0, count).Select(_ => random.Next(5) == 0 ? -100 : random.Next(dim)).ToArray();
        var ids = Tensor.FromArray(D, idValues);
        var targets = Tensor.FromArray(D, targetValues);
        var (table, ttable) = Leaf(Tensor.Randn(D, [vocab, dim], c.Seed, 0f, c.Magnitude));

        var rows = F.Embedding(table, ids);                      // [count, dim] used as logits over dim classes
        var loss = F.CrossEntropy(rows, targets) + F.CrossEntropy(rows, targets, reduction: Reduction.Sum) * 0.1f;
        var trows = ttable.index_select(0, Oracle.ToTorchIndex(ids));
        var tt = Oracle.ToTorchIndex(targets);
        var tloss = TT.nn.functional.cross_entropy(trows, tt, ignore_index: -100) + TT.nn.functional.cross_entropy(trows, tt, ignore_index: -100, reduction: TT.nn.Reduction.Sum) * 0.1;
        if (targetValues.All(t => t == -100)) return;    // the mean over no rows is NaN on both sides
        loss.Backward();
        tloss.backward();
        AssertGrad(table, ttable, Bound, $"Embedding + CrossEntropy gradient {c}");
    }

    [Property(MaxTest = 12, Arbitrary = [typeof(Generators)])]
    public void View_gradients_match_torch(TensorCase c)
    {
        using var scope = D.Scope();
        var (x, tx) = Leaf(c.Make(backend));
        int last = x.Rank - 1;
        int half = x.Size(last) / 2;
        // A chain of views and copies: transpose, slice with a step, unsqueeze/expand, reshape.
        var y = x.Transpose(0, last).Slice(0, half, x.Size(last), 2).Unsqueeze(0).Expand([2, .. x.Transpose(0, last).Slice(0, half, x.Size(last), 2).Shape]);
        var flat = y.Reshape(-1);
        var ty = tx.transpose(0, last).slice(0, half, x.Size(last), 2).unsqueeze(0);
        ty = ty.expand([2, .. ty.shape.Skip(1)]);
        BackwardWeighted(flat, ty.reshape(-1), c.Seed);
        AssertGrad(x, tx, Bound, $"view chain gradient {c}");
    }
}

public sealed class GradientsOnSimd(SimdFixture backend) : GradientSuite<SimdFixture>(backend);

public sealed class GradientsOnIlgpuCpu(IlgpuCpuFixture backend) : GradientSuite<IlgpuCpuFixture>(backend);

public sealed class GradientsOnIlgpuCpuGpuGroups(IlgpuCpuGpuGroupsFixture backend) : GradientSuite<IlgpuCpuGpuGroupsFixture>(backend);
