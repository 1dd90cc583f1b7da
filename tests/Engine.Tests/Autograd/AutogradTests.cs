using Engine.Nn;

namespace Engine.Tests;

// The tape's own rules, independent of any one kernel: accumulation, zeroing, no-grad, reuse of
// an input, freeing the graph, detaching, scopes disposing intermediates before the backward, and
// a finite-difference check that needs no oracle.
public sealed class AutogradTests(SimdFixture backend) : IClassFixture<SimdFixture>
{
    private Device D => backend.Device;

    private Tensor Leaf(float[] values, params int[] shape)
    {
        var t = Tensor.FromArray(D, values, shape.Length == 0 ? [values.Length] : shape);
        t.RequiresGrad = true;
        return t;
    }

    [Fact]
    public void Gradients_accumulate_until_zeroed()
    {
        using var scope = D.Scope();
        var x = Leaf([1f, 2f, 3f]);
        F.Sum(x * x).Backward();
        Assert.Equal([2f, 4f, 6f], x.Grad!.ToArray());
        F.Sum(x * 3f).Backward();
        Assert.Equal([5f, 7f, 9f], x.Grad!.ToArray());
        x.ZeroGrad();
        Assert.Equal([0f, 0f, 0f], x.Grad!.ToArray());
        F.Sum(x).Backward();
        Assert.Equal([1f, 1f, 1f], x.Grad!.ToArray());
    }

    [Fact]
    public void An_input_used_twice_gets_both_contributions()
    {
        using var scope = D.Scope();
        var x = Leaf([0.5f, -1f]);
        var y = F.Sum(F.Tanh(x) * x + x);
        y.Backward();
        var expected = new[] { 0.5f, -1f }.Select(v => (float)(Math.Tanh(v) + v * (1 - Math.Tanh(v) * Math.Tanh(v)) + 1)).ToArray();
        Accuracy.AssertClose(x.Grad!.ToArray(), expected.Select(v => (double)v).ToArray(), 1e-6, "x used three times");
    }

    [Fact]
    public void Nothing_is_recorded_under_no_grad()
    {
        using var scope = D.Scope();
        var x = Leaf([1f, 2f]);
        Tensor y;
        using (Autograd.NoGrad())
        {
            Assert.False(Autograd.IsEnabled);
            y = F.Sum(x * x);
        }
        Assert.True(Autograd.IsEnabled);
        Assert.False(y.RequiresGrad);
        Assert.Throws<InvalidOperationException>(() => y.Backward());
    }

    [Fact]
    public void The_graph_is_freed_after_backward_unless_retained()
    {
        using var scope = D.Scope();
        var x = Leaf([1f, 2f]);
        var y = F.Sum(F.Exp(x));
        y.Backward(retainGraph: true);
        y.Backward();
        var e = new[] { Math.E, Math.E * Math.E };
        Accuracy.AssertClose(x.Grad!.ToArray(), e.Select(v => 2 * v).ToArray(), 1e-6, "two walks of a retained graph");
        var error = Assert.Throws<InvalidOperationException>(() => y.Backward());
        Assert.Contains("already freed", error.Message);
    }

    [Fact]
    public void Detach_cuts_the_graph_and_leaf_gradients_share_no_memory()
    {
        using var scope = D.Scope();
        var a = Leaf([1f, 2f]);
        var b = Leaf([3f, 4f]);
        F.Sum(a + b + a.Detach() * b).Backward();
        Assert.Equal([1f, 1f], a.Grad!.ToArray());     // 1, not 1 + b: the detached a carries nothing
        Assert.Equal([2f, 3f], b.Grad!.ToArray());     // 1 + a

        // a + b hands the same upstream gradient to both leaves: each must get memory of its own.
        a.ClearGrad();
        b.ClearGrad();
        F.Sum(a + b).Backward();
        a.ZeroGrad();
        Assert.Equal([0f, 0f], a.Grad!.ToArray());
        Assert.Equal([1f, 1f], b.Grad!.ToArray());
    }

    [Fact]
    public void Backward_survives_scopes_that_disposed_the_intermediates()
    {
        var x = Leaf([0.1f, 0.2f, 0.3f, 0.4f], 2, 2);
        Tensor loss;
        using (var scope = D.Scope())
        {
            var h = F.Softmax(x.MatMul(x.T), -1);
            loss = scope.Keep(F.Sum(F.LayerNorm(h, null, null)) + F.Sum(h * h));
        }
        loss.Backward();
        Assert.All(x.Grad!.ToArray(), g => Assert.True(float.IsFinite(g)));
        loss.Dispose();
        x.Dispose();
    }

    [Fact]
    public void A_gradient_of_the_wrong_shape_names_the_problem()
    {
        using var scope = D.Scope();
        var x = Leaf([1f, 2f, 3f]);
        var y = x * 2f;
        Assert.Throws<ArgumentException>(() => y.Backward());
        Assert.Throws<ArgumentException>(() => y.Backward(Tensor.Ones(D, [2])));
        var gradient = Tensor.FromArray(D, [1f, 10f, 100f]);
        y.Backward(gradient);
        Assert.Equal([2f, 20f, 200f], x.Grad!.ToArray());
        Assert.Equal([1f, 10f, 100f], gradient.ToArray());
    }

    // Central differences in float32 with h = 1e-2 on smooth functions of inputs of order 1 agree
    // with the analytic gradient to about 1e-3 (truncation h^2 and rounding eps/h); 1e-2 leaves room.
    [Fact]
    public void Gradients_agree_with_finite_differences()
    {
        using var scope = D.Scope();
        var x = Tensor.Randn(D, [3, 5], 11);
        var w = Tensor.Randn(D, [5, 4], 12, 0f, 0.5f);
        var gamma = Tensor.Randn(D, [4], 13, 1f, 0.1f);
        Tensor Function(Tensor input) =>
            F.Sum(F.Gelu(F.LayerNorm(F.Tanh(input.MatMul(w)), gamma, null), GeluApproximation.Tanh) * F.LogSoftmax(input.MatMul(w), -1));

        x.RequiresGrad = true;
        Function(x).Backward();
        var analytic = x.Grad!.ToArray();

        var values = x.ToArray();
        var numeric = new double[values.Length];
        const float h = 1e-2f;
        using var noGrad = Autograd.NoGrad();
        for (int i = 0; i < values.Length; i++)
        {
            var plus = (float[])values.Clone();
            var minus = (float[])values.Clone();
            plus[i] += h;
            minus[i] -= h;
            double fPlus = Function(Tensor.FromArray(D, plus, [3, 5])).Item();
            double fMinus = Function(Tensor.FromArray(D, minus, [3, 5])).Item();
            numeric[i] = (fPlus - fMinus) / (2 * h);
        }
        Accuracy.AssertClose(analytic, numeric, 1e-2, "analytic vs central-difference gradient");
    }

    [Fact]
    public void Clipping_scales_the_global_norm_like_torch()
    {
        using var scope = D.Scope();
        var a = Leaf([3f, 0f]);
        var b = Leaf([4f]);
        F.Sum(a * a * 0.5f).Backward();   // grad a = a
        F.Sum(b * b * 0.5f).Backward();   // grad b = b
        float norm = GradClip.ClipGradNorm([a, b], 1f);
        Assert.Equal(5f, norm, 5);
        float factor = 1f / (5f + 1e-6f);
        Assert.Equal(new[] { 3f * factor, 0f }, a.Grad!.ToArray());
        Assert.Equal(new[] { 4f * factor }, b.Grad!.ToArray());
    }

    [Fact]
    public void Warmup_then_cosine_schedule()
    {
        Assert.Equal(0.1f, LearningRateSchedule.WarmupCosine(0, 1f, 0.1f, 10, 110), 6);
        Assert.Equal(1f, LearningRateSchedule.WarmupCosine(9, 1f, 0.1f, 10, 110), 6);
        Assert.Equal(1f, LearningRateSchedule.WarmupCosine(10, 1f, 0.1f, 10, 110), 6);
        Assert.Equal(0.55f, LearningRateSchedule.WarmupCosine(60, 1f, 0.1f, 10, 110), 6);
        Assert.Equal(0.1f, LearningRateSchedule.WarmupCosine(110, 1f, 0.1f, 10, 110), 6);
    }
}
