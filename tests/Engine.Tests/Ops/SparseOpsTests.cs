using Engine.Sparse;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using TT = TorchSharp.torch;

namespace Engine.Tests;

/// <summary>
/// One generated sparse-op problem: texts of up to MaxLength token rows over a vocabulary, values
/// of a kind ("normal"; "ties": multiples of 1/2 in [-3, 3], so maxima and top-k magnitudes tie;
/// "negative columns": a third of the columns negative in every row; "zeros": a third of the values
/// exactly 0) scaled by a magnitude, the padded or packed form of pooling, and a seed.
/// A backend clamps the sizes (<see cref="Sized"/>).
/// </summary>
public sealed record SparseCase(int Texts, int MaxLength, int Vocab, string Values, float Magnitude, bool Packed, ulong Seed)
{
    public override string ToString() =>
        $"texts {Texts}, max length {MaxLength}, vocab {Vocab}, values {Values}, magnitude {Magnitude}, packed {Packed}, seed {Seed}";

    public static Arbitrary<SparseCase> Arbitrary() =>
        (from texts in Gen.Elements(1, 2, 3, 5, 7, 13)
         from maxLength in Gen.Elements(1, 2, 3, 7, 17, 31)
         from vocab in Gen.Elements([.. Generators.InterestingSizes, 513, 1031, 2053])
         from values in Gen.Elements("normal", "normal", "ties", "negative columns", "zeros")
         from magnitude in Gen.Elements(1e-12f, 1e-3f, 1f, 1f, 1e3f, 1e12f)
         from packed in Gen.Elements(false, true)
         from seed in Gen.Choose(0, int.MaxValue)
         select new SparseCase(texts, maxLength, vocab, values, magnitude, packed, (ulong)seed)).ToArbitrary();

    /// <summary>
    /// The case shrunk for a backend: the vocabulary at most 8 x MaxDim (2400 on SIMD, 320 on the
    /// ILGPU CPU accelerator) and texts x max length x vocab at most 4 x MaxElements.
    /// </summary>
    public SparseCase Sized(BackendFixture backend)
    {
        int vocab = Math.Min(Vocab, 8 * backend.MaxDim), texts = Texts, length = MaxLength;
        while ((long)texts * length * vocab > 4L * backend.MaxElements)
        {
            if (length >= texts && length > 1) length = (length + 1) / 2;
            else if (texts > 1) texts = (texts + 1) / 2;
            else vocab = Math.Max(1, vocab / 2);
        }
        return this with { Texts = texts, MaxLength = length, Vocab = vocab };
    }

    /// <summary>rows x Vocab values of the case's kind.</summary>
    public float[] Make(int rows, ulong salt = 0)
    {
        var values = new float[(long)rows * Vocab];
        var random = new Random((int)((Seed * 31 + salt) % int.MaxValue));
        for (int i = 0; i < values.Length; i++)
        {
            double normal = Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
            int column = i % Vocab;
            values[i] = Values switch
            {
                "ties" => (float)(Math.Clamp(Math.Round(normal * 2), -6, 6) / 2) * Magnitude,
                "negative columns" when column % 3 == 1 => -(float)(Math.Abs(normal) + 0.01) * Magnitude,
                "zeros" when random.Next(3) == 0 => 0f,
                _ => (float)normal * Magnitude,
            };
        }
        return values;
    }
}

// SPLADE pooling, the FLOPs / L1 regularizers and the sparse selection against torch in float64
// (and SparseMatrix.FromDense for the selection). Bounds: pooling values and gradients 1e-6
// relative (one max, one log1p and one division per element, each within a rounding or two);
// regularizers 1e-5 (sums over N and V). Outputs start as NaN (the fixtures poison new tensors),
// so an element a kernel fails to write fails the comparison.
public abstract class SparseOpsSuite<TFixture>(TFixture backend) : IClassFixture<TFixture> where TFixture : BackendFixture
{
    private const double PoolBound = 1e-6;
    private const double RegularizerBound = 1e-5;

    protected Device D => backend.Device;

    [Theory]
    [InlineData(1, 1, 1)]
    [InlineData(2, 7, 13)]
    [InlineData(3, 5, 129)]
    public void Splade_pooling_and_regularizers_match_torch(int batch, int tokens, int vocab)
    {
        using var scope = D.Scope();
        var logits = Tensor.Randn(D, [batch, tokens, vocab], (ulong)(batch * 100 + vocab), 0f, 2f, requiresGrad: true);
        var random = new Random(tokens);
        var maskValues = Enumerable.Range(0, batch * tokens).Select(i => i % tokens == 0 || random.Next(3) != 0 ? 1 : 0).ToArray();
        var mask = Tensor.FromArray(D, maskValues, [batch, tokens]);
        var tl = Oracle.ToTorch(logits).requires_grad_(true);
        var tmask = TT.tensor(maskValues.Select(m => (double)m).ToArray(), [batch, tokens], TT.ScalarType.Float64);

        var w = F.SpladePool(logits, mask);
        var tw = (TT.log1p(TT.nn.functional.relu(tl)) * tmask.unsqueeze(-1)).max(1).values;
        Oracle.AssertClose(w, tw, PoolBound, $"SpladePool [{batch}, {tokens}, {vocab}]");

        var loss = F.FlopsRegularizer(w) * 3f + F.L1Regularizer(w);
        var tloss = (tw.abs().mean([0L]).square().sum()) * 3 + tw.abs().sum(1).mean();
        Assert.InRange(Math.Abs(loss.Item() - tloss.item<double>()), 0, 1e-5 * Math.Max(1, Math.Abs(tloss.item<double>())));
        loss.Backward();
        tloss.backward();
        Oracle.AssertClose(logits.Grad!, tl.grad!, 1e-5, $"SpladePool + FLOPs + L1 gradient [{batch}, {tokens}, {vocab}]");
    }

    [Theory]
    [InlineData(new[] { 1 }, 1)]
    [InlineData(new[] { 3, 1, 5 }, 17)]
    [InlineData(new[] { 7, 2 }, 130)]
    public void Packed_splade_pooling_matches_torch(int[] lengths, int vocab)
    {
        using var scope = D.Scope();
        int rows = lengths.Sum();
        var logits = Tensor.Randn(D, [rows, vocab], (ulong)(rows * 31 + vocab), 0f, 2f, requiresGrad: true);
        var tl = Oracle.ToTorch(logits).requires_grad_(true);
        var w = F.SpladePool(logits, lengths);
        var activations = TT.log1p(TT.nn.functional.relu(tl));
        var parts = new List<TT.Tensor>();
        for (int b = 0, start = 0; b < lengths.Length; start += lengths[b], b++)
            parts.Add(activations.narrow(0, start, lengths[b]).max(0).values);
        var tw = TT.stack(parts);
        Oracle.AssertClose(w, tw, PoolBound, $"packed SpladePool [{string.Join(", ", lengths)}] x {vocab}");
        var upstream = Tensor.Randn(D, w.Shape, 5);
        (w * upstream).Sum().Backward();
        (tw * Oracle.ToTorch(upstream)).sum().backward();
        Oracle.AssertClose(logits.Grad!, tl.grad!, PoolBound, $"packed SpladePool gradient [{string.Join(", ", lengths)}] x {vocab}");
    }

    /// <summary>
    /// w [texts, V] in float64 torch from the rows of each text of rows [R, V]: the max of
    /// log1p(relu) over the text's rows (zeros for a text without rows). torch's max(dim) takes the
    /// first maximal row of a tie, and its gradient goes there.
    /// </summary>
    private static TT.Tensor PoolReference(TT.Tensor rows, IReadOnlyList<int[]> textRows, int vocab)
    {
        var activations = TT.log1p(TT.nn.functional.relu(rows));
        var parts = textRows.Select(ids => ids.Length == 0
            ? TT.zeros([vocab], TT.ScalarType.Float64)
            : activations.index_select(0, TT.tensor(ids.Select(i => (long)i).ToArray(), TT.ScalarType.Int64)).max(0).values);
        return TT.stack(parts.ToArray());
    }

    [Property(MaxTest = 25, Arbitrary = [typeof(SparseCase)])]
    public void Splade_pooling_and_its_gradient_match_torch(SparseCase generated)
    {
        var c = generated.Sized(backend);
        using var scope = D.Scope();
        var random = new Random((int)(c.Seed % int.MaxValue));
        Tensor logits, w;
        var textRows = new List<int[]>();
        if (c.Packed)
        {
            var lengths = Enumerable.Range(0, c.Texts).Select(_ => random.Next(1, c.MaxLength + 1)).ToArray();
            for (int b = 0, start = 0; b < c.Texts; start += lengths[b], b++)
                textRows.Add(Enumerable.Range(start, lengths[b]).ToArray());
            logits = Tensor.FromArray(D, c.Make(lengths.Sum()), [lengths.Sum(), c.Vocab]);
            logits.RequiresGrad = true;
            w = F.SpladePool(logits, lengths);
        }
        else
        {
            // Random padding, the last of several texts padding only (text 0 always has a token);
            // the mask is int32 or float.
            var mask = Enumerable.Range(0, c.Texts * c.MaxLength).Select(i => i > 0 && random.Next(4) == 0 ? 0 : 1).ToArray();
            if (c.Texts > 1)
                Array.Clear(mask, c.MaxLength * (c.Texts - 1), c.MaxLength);
            for (int b = 0; b < c.Texts; b++)
                textRows.Add(Enumerable.Range(b * c.MaxLength, c.MaxLength).Where(r => mask[r] != 0).ToArray());
            logits = Tensor.FromArray(D, c.Make(c.Texts * c.MaxLength), [c.Texts, c.MaxLength, c.Vocab]);
            logits.RequiresGrad = true;
            var maskTensor = c.Seed % 2 == 0
                ? Tensor.FromArray(D, mask, [c.Texts, c.MaxLength])
                : Tensor.FromArray(D, mask.Select(m => (float)m).ToArray(), [c.Texts, c.MaxLength]);
            w = F.SpladePool(logits, maskTensor);
        }
        var tl = Oracle.ToTorch(logits).reshape(-1, c.Vocab).requires_grad_(true);
        var tw = PoolReference(tl, textRows, c.Vocab);
        Oracle.AssertClose(w, tw, PoolBound, $"SpladePool {c}");

        var upstream = Tensor.Randn(D, w.Shape, c.Seed + 1);
        (w * upstream).Sum().Backward();
        (tw * Oracle.ToTorch(upstream)).sum().backward();
        Oracle.AssertClose(logits.Grad!.Reshape(-1, c.Vocab), tl.grad!, PoolBound, $"SpladePool gradient {c}");
    }

    [Property(MaxTest = 25, Arbitrary = [typeof(SparseCase)])]
    public void Flops_and_L1_regularizers_and_their_gradients_match_torch(SparseCase generated)
    {
        var c = generated.Sized(backend);
        using var scope = D.Scope();
        int n = c.Texts * c.MaxLength;
        var w = Tensor.FromArray(D, c.Make(n), [n, c.Vocab]);
        w.RequiresGrad = true;
        var tw = Oracle.ToTorch(w).requires_grad_(true);
        // A negative upstream gradient checks the sign of the backward's scale.
        float upstream = c.Seed % 2 == 0 ? 0.75f : -1.5f;

        var flops = F.FlopsRegularizer(w);
        var tflops = tw.abs().mean([0L]).square().sum();
        Oracle.AssertClose(flops, tflops, RegularizerBound, $"FlopsRegularizer {c}");
        (flops * upstream).Backward();
        (tflops * upstream).backward();
        Oracle.AssertClose(w.Grad!, tw.grad!, RegularizerBound, $"FlopsRegularizer gradient {c}");

        w.ClearGrad();
        var tw1 = Oracle.ToTorch(w).requires_grad_(true);
        var l1 = F.L1Regularizer(w);
        var tl1 = tw1.abs().sum(1).mean();
        Oracle.AssertClose(l1, tl1, RegularizerBound, $"L1Regularizer {c}");
        (l1 * upstream).Backward();
        (tl1 * upstream).backward();
        Oracle.AssertClose(w.Grad!, tw1.grad!, RegularizerBound, $"L1Regularizer gradient {c}");
    }

    [Property(MaxTest = 25, Arbitrary = [typeof(SparseCase)])]
    public void ToSparse_equals_SparseMatrix_FromDense(SparseCase generated)
    {
        var c = generated.Sized(backend);
        using var scope = D.Scope();
        int rows = c.Texts * c.MaxLength;
        var values = c.Make(rows);
        var w = Tensor.FromArray(D, values, [rows, c.Vocab]);
        float[] thresholds = [0f, 0.5f * c.Magnitude, 3f * c.Magnitude];
        int?[] topKs = [null, 0, 1, 3, 17, c.Vocab / 2, c.Vocab + 5];
        float threshold = thresholds[c.Seed % 3];
        int? topK = topKs[(c.Seed / 3) % (ulong)topKs.Length];
        AssertSame(SparseMatrix.FromDense(values, rows, c.Vocab, threshold, topK), F.ToSparse(w, threshold, topK),
            $"ToSparse threshold {threshold}, topK {topK?.ToString() ?? "none"}, {c}");
    }

    private static void AssertSame(SparseMatrix expected, SparseMatrix actual, string what)
    {
        Assert.True(expected.Rows == actual.Rows && expected.Columns == actual.Columns, $"{what}: shape");
        Assert.True(expected.RowOffsets.SequenceEqual(actual.RowOffsets), $"{what}: row offsets differ");
        Assert.True(expected.ColumnIndices.SequenceEqual(actual.ColumnIndices), $"{what}: column indices differ");
        Assert.True(expected.Values.SequenceEqual(actual.Values), $"{what}: values differ");
    }

    [Fact]
    public void ToSparse_breaks_ties_toward_the_lower_column()
    {
        using var scope = D.Scope();
        float[] dense =
        [
            1f, -2f, 2f, 0.5f, -2f, 2f,
            0f, 0f, 0f, 0f, 0f, 0f,
            3f, 3f, -3f, 3f, 1f, 3f,
        ];
        var w = Tensor.FromArray(D, dense, [3, 6]);
        var m = F.ToSparse(w, 0.5f, 2);
        Assert.Equal([0, 2, 2, 4], m.RowOffsets.ToArray());
        Assert.Equal([1, 2, 0, 1], m.ColumnIndices.ToArray());
        Assert.Equal([-2f, 2f, 3f, 3f], m.Values.ToArray());
        AssertSame(SparseMatrix.FromDense(dense, 3, 6, 0.5f, 2), m, "ties");
    }

    [Fact]
    public void Pooling_ties_go_to_the_first_row_and_non_positive_columns_get_no_gradient()
    {
        using var scope = D.Scope();
        // Text 0 owns rows 0..2, text 1 rows 3..4. Column 0 ties at 2 (rows 1 and 2), column 1 is
        // all negative, column 2 is all 0.
        var logits = Tensor.FromArray(D, [1f, -1f, 0f, 2f, -3f, 0f, 2f, -0.5f, 0f, -1f, -2f, 0f, 5f, -1f, 0f], [5, 3]);
        logits.RequiresGrad = true;
        var w = F.SpladePool(logits, [3, 2]);
        Assert.Equal([MathF.Log(3f), 0f, 0f, MathF.Log(6f), 0f, 0f], w.ToArray(), new ToleranceComparer(1e-6f));
        w.Backward(Tensor.Ones(D, [2, 3]));
        Assert.Equal([0f, 0f, 0f, 1f / 3f, 0f, 0f, 0f, 0f, 0f, 0f, 0f, 0f, 1f / 6f, 0f, 0f], logits.Grad!.ToArray(), new ToleranceComparer(1e-7f));
    }

    private sealed class ToleranceComparer(float tolerance) : IEqualityComparer<float>
    {
        public bool Equals(float a, float b) => Math.Abs(a - b) <= tolerance * Math.Max(1f, Math.Abs(b));
        public int GetHashCode(float value) => 0;
    }

    [Fact]
    public void Same_inputs_give_bitwise_the_same_outputs()
    {
        using var scope = D.Scope();
        int vocab = Math.Min(8 * backend.MaxDim, 1031), rows = Math.Max(3, Math.Min(40, 4 * backend.MaxElements / vocab));
        var values = new SparseCase(3, rows, vocab, "normal", 1f, true, 77).Make(rows);
        int[] lengths = [rows / 3, rows / 3, rows - 2 * (rows / 3)];
        (int[], float[], float[], float[], float[]) Run()
        {
            var logits = Tensor.FromArray(D, values, [rows, vocab]);
            logits.RequiresGrad = true;
            var w = F.SpladePool(logits, lengths);
            var loss = F.FlopsRegularizer(w) + F.L1Regularizer(logits);
            loss.Backward();
            var sparse = F.ToSparse(w, 0.1f, 7);
            return (sparse.ColumnIndices.ToArray(), sparse.Values.ToArray(), w.ToArray(), [loss.Item()], logits.Grad!.ToArray());
        }
        var first = Run();
        var second = Run();
        Assert.Equal(first.Item1, second.Item1);
        foreach (var (a, b, what) in new[] { (first.Item2, second.Item2, "sparse values"), (first.Item3, second.Item3, "w"), (first.Item4, second.Item4, "loss"), (first.Item5, second.Item5, "gradient") })
            Assert.True(a.Select(BitConverter.SingleToInt32Bits).SequenceEqual(b.Select(BitConverter.SingleToInt32Bits)), $"{what} differs between two runs");
    }

    [Fact]
    public void Packed_splade_pooling_rejects_lengths_that_do_not_cover_the_rows()
    {
        using var scope = D.Scope();
        var logits = Tensor.Zeros(D, [5, 3]);
        var e = Assert.Throws<ArgumentException>(() => F.SpladePool(logits, [2, 2]));
        Assert.Contains("SpladePool", e.Message);
        Assert.Throws<ArgumentException>(() => F.SpladePool(logits, [5, 0]));
    }

    [Fact]
    public void Bad_input_names_the_op_and_the_shapes()
    {
        using var scope = D.Scope();
        void Expect(Action action, params string[] fragments)
        {
            var error = Assert.ThrowsAny<ArgumentException>(action);
            foreach (var fragment in fragments)
                Assert.Contains(fragment, error.Message);
        }
        var logits = Tensor.Zeros(D, [2, 3, 4]);
        Expect(() => F.SpladePool(logits, Tensor.Ones(D, [2, 4])), "SpladePool", "[2, 3, 4]", "[2, 4]");
        Expect(() => F.SpladePool(Tensor.Zeros(D, [6, 4]), Tensor.Ones(D, [2, 3])), "SpladePool", "[6, 4]");
        Expect(() => F.SpladePool(logits, Tensor.Full(D, [2, 3], 0.5f)), "SpladePool", "0.5", "[2, 3]");
        Expect(() => F.SpladePool(Tensor.Zeros(D, [2, 3], DType.Int32), [1, 1]), "SpladePool", "[2, 3]", "Int32");
        Expect(() => F.FlopsRegularizer(logits), "FlopsRegularizer", "[2, 3, 4]");
        Expect(() => F.L1Regularizer(Tensor.Zeros(D, [4])), "L1Regularizer", "[4]");
        var w = Tensor.FromArray(D, [1f, 2f, float.NaN, 4f], [2, 2]);
        Expect(() => F.ToSparse(w), "ToSparse", "[2, 2]", "NaN", "row 1, column 0");
        Expect(() => F.ToSparse(Tensor.Zeros(D, [2, 2]), -1f), "ToSparse", "threshold", "[2, 2]");
        Expect(() => F.ToSparse(Tensor.Zeros(D, [2, 2]), float.NaN), "ToSparse", "threshold");
        Expect(() => F.ToSparse(Tensor.Zeros(D, [2, 2]), 0f, -1), "ToSparse", "topK", "[2, 2]");
        Expect(() => F.ToSparse(logits), "ToSparse", "[2, 3, 4]");
    }

    [Fact]
    public void Flops_gradient_is_two_mean_sign_over_n()
    {
        using var scope = D.Scope();
        var w = Tensor.FromArray(D, [1f, -2f, 0f, 3f, 0f, -1f], [2, 3]);
        w.RequiresGrad = true;
        F.FlopsRegularizer(w).Backward();
        // mean_j |w| = [2, 1, 0.5]; dL/dw_ij = 2 mean_j sign(w_ij) / N.
        Assert.Equal([2f, -1f, 0f, 2f, 0f, -0.5f], w.Grad!.ToArray());
    }
}

public sealed class SparseOpsOnSimd(SimdFixture backend) : SparseOpsSuite<SimdFixture>(backend)
{
    /// <summary>BERT's vocabulary (30522 columns, no multiple of any register or tile width), once.</summary>
    [Fact]
    public void Pooling_regularizer_and_selection_at_the_bert_vocabulary_match_the_references()
    {
        const int vocab = 30522;
        var device = D;
        using var scope = device.Scope();
        int[] lengths = [5, 1, 9];
        var c = new SparseCase(3, 9, vocab, "normal", 2f, true, 11);
        var logits = Tensor.FromArray(device, c.Make(lengths.Sum()), [lengths.Sum(), vocab]);
        logits.RequiresGrad = true;
        var tl = Oracle.ToTorch(logits).requires_grad_(true);
        var w = F.SpladePool(logits, lengths);
        var tw = TT.stack([.. new[] { (0, 5), (5, 1), (6, 9) }.Select(s => TT.log1p(TT.nn.functional.relu(tl.narrow(0, s.Item1, s.Item2))).max(0).values)]);
        Oracle.AssertClose(w, tw, 1e-6, "SpladePool at V = 30522");

        var loss = F.FlopsRegularizer(w);
        var tloss = tw.abs().mean([0L]).square().sum();
        Oracle.AssertClose(loss, tloss, 1e-5, "FlopsRegularizer at V = 30522");
        loss.Backward();
        tloss.backward();
        Oracle.AssertClose(logits.Grad!, tl.grad!, 1e-5, "SpladePool + FLOPs gradient at V = 30522");

        var values = w.ToArray();
        foreach (int? k in new int?[] { null, 64, 2000 })
            Assert.True(SparseMatrix.FromDense(values, 3, vocab, 0.3f, k).ColumnIndices.SequenceEqual(F.ToSparse(w, 0.3f, k).ColumnIndices),
                $"ToSparse at V = 30522, top-k {k}");
    }
}

public sealed class SparseOpsOnIlgpuCpu(IlgpuCpuFixture backend) : SparseOpsSuite<IlgpuCpuFixture>(backend);

public sealed class SparseOpsOnIlgpuCpuGpuGroups(IlgpuCpuGpuGroupsFixture backend) : SparseOpsSuite<IlgpuCpuGpuGroupsFixture>(backend);
