namespace Engine.Tests;

// Every class of mistake gives an ArgumentException that names the op and the shapes.
public sealed class BadInputTests : IClassFixture<SimdFixture>
{
    private readonly Device _device;

    public BadInputTests(SimdFixture backend) => _device = backend.Device;

    private static void AssertMessage(Action action, params string[] fragments)
    {
        var error = Assert.ThrowsAny<ArgumentException>(action);
        foreach (var fragment in fragments)
            Assert.Contains(fragment, error.Message);
    }

    [Fact]
    public void Shape_mismatches_name_the_op_and_the_shapes()
    {
        using var scope = _device.Scope();
        var a = Tensor.Zeros(_device, [2, 3]);
        var b = Tensor.Zeros(_device, [4, 5]);
        AssertMessage(() => F.MatMul(a, b), "MatMul", "[2, 3]", "[4, 5]");
        AssertMessage(() => F.Add(a, b), "Add", "[2, 3]", "[4, 5]");
        AssertMessage(() => F.Linear(a, b), "Linear", "[4, 5]", "[2, 3]");
        using (var packed = PackedWeight.Pack(b))
            AssertMessage(() => F.Linear(a, packed), "Linear", "[4, 5]", "[2, 3]");
        AssertMessage(() => PackedWeight.Pack(Tensor.Zeros(_device, [2, 3, 4])), "PackedWeight.Pack", "[2, 3, 4]");
        AssertMessage(() => F.MatMul(a, Tensor.Zeros(_device, [3, 2]), Tensor.Zeros(_device, [3])), "MatMul", "bias", "[3]");
        AssertMessage(() => F.LayerNorm(a, Tensor.Ones(_device, [2]), null), "LayerNorm", "gamma", "[2]", "[2, 3]");
        AssertMessage(() => a.Reshape(4, 2), "Reshape", "[2, 3]", "[4, 2]");
        AssertMessage(() => a.Permute(0, 0), "Permute", "[2, 3]");
        AssertMessage(() => F.Softmax(a, 2), "Softmax", "rank 2");
        AssertMessage(() => F.Sum(a, -3), "Sum", "rank 2");
        AssertMessage(() => a.Squeeze(0), "Squeeze", "[2, 3]");
        AssertMessage(() => a.Narrow(1, 2, 2), "Narrow", "[2, 3]");
        AssertMessage(() => Tensor.FromArray(_device, [1f, 2f, 3f], [2, 2]), "FromArray", "[2, 2]");
    }

    [Fact]
    public void Dtype_mismatches_name_the_op_and_the_shapes()
    {
        using var scope = _device.Scope();
        var ids = Tensor.FromArray(_device, [1, 2, 3]);
        var x = Tensor.Zeros(_device, [3, 4]);
        AssertMessage(() => F.Add(ids, ids), "Add", "Int32", "[3]");
        AssertMessage(() => F.Embedding(x, x), "Embedding", "ids", "[3, 4]");
        AssertMessage(() => F.CrossEntropy(x, x), "CrossEntropy", "targets", "[3, 4]");
        AssertMessage(() => ids.ToArray(), "ToArray", "Int32");
        AssertMessage(() => x.ToInt32Array(), "ToInt32Array", "Float32");
    }

    [Fact]
    public void Out_of_range_ids_and_targets_are_named()
    {
        using var scope = _device.Scope();
        var table = Tensor.Zeros(_device, [10, 4]);
        AssertMessage(() => F.Embedding(table, Tensor.FromArray(_device, [3, 10])), "Embedding", "id 10", "[10, 4]");
        AssertMessage(() => F.Embedding(table, Tensor.FromArray(_device, [-1])), "Embedding", "id -1");
        var logits = Tensor.Zeros(_device, [2, 5]);
        AssertMessage(() => F.CrossEntropy(logits, Tensor.FromArray(_device, [0, 5])), "CrossEntropy", "target 5", "[2, 5]");
        AssertMessage(() => F.CrossEntropy(logits, Tensor.FromArray(_device, [0, 1, 2])), "CrossEntropy", "[3]", "[2, 5]");
    }

    [Fact]
    public void Device_mismatches_name_the_op_and_the_devices()
    {
        using var other = Device.Cpu();
        using var scope = _device.Scope();
        var a = Tensor.Zeros(_device, [2, 2]);
        var b = Tensor.Zeros(other, [2, 2]);
        AssertMessage(() => F.MatMul(a, b), "MatMul", "different devices", "[2, 2]");
        AssertMessage(() => F.Mul(a, b), "Mul", "different devices");
    }

    [Fact]
    public void Using_a_disposed_tensor_is_an_error()
    {
        var a = Tensor.Zeros(_device, [2]);
        a.Dispose();
        var error = Assert.Throws<ObjectDisposedException>(() => F.Exp(a));
        Assert.Contains("[2]", error.Message);
    }
}
