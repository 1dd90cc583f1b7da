using Engine.Kernels;
using FsCheck;
using FsCheck.Xunit;
using TT = TorchSharp.torch;

namespace Engine.Tests;

// Unary and binary elementwise ops against torch, on every backend. Bound: 1e-5 relative
// (the vector exp/log/tanh/erf are accurate to a few ulp; the reference is float64 rounded to float32).
public abstract class ElementwiseSuite<TFixture>(TFixture backend) : IClassFixture<TFixture> where TFixture : BackendFixture
{
    private const double Bound = 1e-5;

    public static readonly UnaryOp[] UnaryOps = Enum.GetValues<UnaryOp>();

    private static TT.Tensor UnaryReference(UnaryOp op, TT.Tensor x) => op switch
    {
        UnaryOp.Identity => x.clone(),
        UnaryOp.Neg => x.neg(),
        UnaryOp.Relu => TT.nn.functional.relu(x),
        UnaryOp.GeluTanh => 0.5 * x * (1 + TT.tanh(Math.Sqrt(2 / Math.PI) * (x + 0.044715 * x.pow(3)))),
        UnaryOp.GeluErf => 0.5 * x * (1 + TT.special.erf(x / Math.Sqrt(2))),
        UnaryOp.Exp => x.exp(),
        UnaryOp.Log => x.log(),
        UnaryOp.Log1p => x.log1p(),
        UnaryOp.Tanh => x.tanh(),
        UnaryOp.Sqrt => x.sqrt(),
        UnaryOp.Abs => x.abs(),
        UnaryOp.Sign => x.sign(),
        UnaryOp.Sigmoid => x.sigmoid(),
        UnaryOp.Erf => TT.special.erf(x),
        UnaryOp.Reciprocal => x.reciprocal(),
        UnaryOp.Square => x.square(),
        _ => throw new ArgumentOutOfRangeException(nameof(op)),
    };

    // Ops whose domain is x >= 0 (or > -1) get |x| so the comparison exercises values, not NaN.
    private static bool NeedsNonNegative(UnaryOp op) => op is UnaryOp.Log or UnaryOp.Sqrt or UnaryOp.Log1p;

    [Property(MaxTest = 20, Arbitrary = [typeof(Generators)])]
    public void Unary_matches_torch(TensorCase c)
    {
        using var scope = backend.Device.Scope();
        var raw = c.Make(backend);
        foreach (var op in UnaryOps)
        {
            var x = NeedsNonNegative(op) ? F.Abs(raw) : raw;
            var y = F.Unary(op, x, op.ToString());
            Oracle.AssertClose(y, UnaryReference(op, Oracle.ToTorch(x)), Bound, $"{op} {c}");
        }
    }

    [Property(MaxTest = 10, Arbitrary = [typeof(Generators)])]
    public void Unary_reads_strided_views(TensorCase c)
    {
        using var scope = backend.Device.Scope();
        var x = c.Make(backend);
        var view = x.Rank >= 2 ? x.Transpose(0, -1) : x.Slice(0, 0, x.Size(0), 2);
        var y = F.Tanh(view);
        Oracle.AssertClose(y, Oracle.ToTorch(view).tanh(), Bound, $"Tanh of a view {c}");
    }

    [Fact]
    public void Unary_handles_special_values()
    {
        using var scope = backend.Device.Scope();
        float[] values = [0f, -0f, 1e-30f, -1e-30f, 1e-7f, 88.7f, 89f, -104f, -200f, 1e30f, -1e30f,
            float.PositiveInfinity, float.NegativeInfinity, float.NaN, 20f, -20f, 9f, -9f, 3.5f, -3.5f];
        var x = Tensor.FromArray(backend.Device, values);
        foreach (var op in UnaryOps)
        {
            var y = F.Unary(op, x, op.ToString());
            Oracle.AssertClose(y, UnaryReference(op, Oracle.ToTorch(x)), Bound, $"{op} on special values");
        }
    }

    public static readonly BinaryOp[] BinaryOps = Enum.GetValues<BinaryOp>();

    private static TT.Tensor BinaryReference(BinaryOp op, TT.Tensor a, TT.Tensor b) => op switch
    {
        BinaryOp.Add => a + b,
        BinaryOp.Sub => a - b,
        BinaryOp.Mul => a * b,
        BinaryOp.Div => a / b,
        BinaryOp.Max => TT.maximum(a, b),
        BinaryOp.Min => TT.minimum(a, b),
        BinaryOp.Pow => a.pow(b),
        _ => throw new ArgumentOutOfRangeException(nameof(op)),
    };

    /// <summary>The shape of a second operand that broadcasts against <paramref name="shape"/>: some dims set to 1, maybe leading dims dropped.</summary>
    private static int[] BroadcastPartner(int[] shape, ulong seed)
    {
        var random = new Random((int)(seed % int.MaxValue));
        var partner = shape.Select(d => random.Next(3) == 0 ? 1 : d).ToArray();
        int drop = random.Next(partner.Length);
        return partner[drop..];
    }

    [Property(MaxTest = 25, Arbitrary = [typeof(Generators)])]
    public void Binary_broadcasts_like_torch(TensorCase c)
    {
        using var scope = backend.Device.Scope();
        var shape = c.Shape(backend);
        var partner = BroadcastPartner(shape, c.Seed);
        bool swap = c.Seed % 2 == 0;
        var a = Tensor.Randn(backend.Device, swap ? partner : shape, c.Seed, 0f, c.Magnitude);
        var b = Tensor.Randn(backend.Device, swap ? shape : partner, c.Seed + 1, 0f, c.Magnitude);
        foreach (var op in BinaryOps)
        {
            // Pow: positive base and exponents in [-3, 3] keep results representable.
            var (x, y) = op == BinaryOp.Pow ? (F.Abs(a), F.Div(b, c.Magnitude / 3f)) : (a, b);
            var result = F.Binary(op, x, y, op.ToString());
            Oracle.AssertClose(result, BinaryReference(op, Oracle.ToTorch(x), Oracle.ToTorch(y)), Bound, $"{op} {ShapeMath.Format(x.Shape)} with {ShapeMath.Format(y.Shape)}, {c}");
        }
    }

    [Property(MaxTest = 10, Arbitrary = [typeof(Generators)])]
    public void Binary_reads_transposed_operands(TensorCase c)
    {
        using var scope = backend.Device.Scope();
        var a = c.Make(backend, 1);
        var b = c.Make(backend, 2);
        var at = a.Rank >= 2 ? a.Transpose(0, 1) : a;
        var bt = b.Rank >= 2 ? b.Transpose(0, 1) : b;
        var result = F.Mul(at, bt);
        Oracle.AssertClose(result, Oracle.ToTorch(at) * Oracle.ToTorch(bt), Bound, $"Mul of transposed views {c}");
    }
}

public sealed class ElementwiseOnSimd(SimdFixture backend) : ElementwiseSuite<SimdFixture>(backend);

public sealed class ElementwiseOnIlgpuCpu(IlgpuCpuFixture backend) : ElementwiseSuite<IlgpuCpuFixture>(backend);
