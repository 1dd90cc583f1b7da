using System.Text.Json;

namespace Engine.Tests.Conformance;

/// <summary>An ONNX node attribute as the converter wrote it: its type name and its JSON value.</summary>
internal sealed record OnnxAttribute(string Type, JsonElement Value);

/// <summary>
/// One ONNX backend node test: an operator at an opset version, its attributes, and its inputs
/// and reference outputs in the node's order (null where an optional one is omitted).
/// </summary>
internal sealed record OnnxCase(
    string Test,
    string Op,
    int Opset,
    IReadOnlyDictionary<string, OnnxAttribute> Attributes,
    IReadOnlyList<OnnxTensor?> Inputs,
    IReadOnlyList<OnnxTensor?> Outputs)
{
    /// <summary>Input <paramref name="k"/>, or null when the node omits it.</summary>
    public OnnxTensor? OptionalInput(int k) => k < Inputs.Count ? Inputs[k] : null;

    /// <summary>Input <paramref name="k"/>, which the operator requires.</summary>
    public OnnxTensor Input(int k) => OptionalInput(k) ?? throw new InvalidDataException($"{Test}: {Op} requires input {k}.");

    /// <summary>Whether the node asks for output <paramref name="k"/>.</summary>
    public bool WantsOutput(int k) => k < Outputs.Count && Outputs[k] is not null;

    public bool Has(string name) => Attributes.ContainsKey(name);

    public long Int(string name, long fallback) => Get(name, "int") is { } v ? v.GetInt64() : fallback;

    public float Float(string name, float fallback) => Get(name, "float") is { } v ? (float)v.GetDouble() : fallback;

    public string String(string name, string fallback) => Get(name, "string") is { } v ? v.GetString() ?? fallback : fallback;

    public long[]? Ints(string name) => Get(name, "ints") is { } v ? v.EnumerateArray().Select(e => e.GetInt64()).ToArray() : null;

    private JsonElement? Get(string name, string type)
    {
        if (!Attributes.TryGetValue(name, out var attribute)) return null;
        if (attribute.Type != type)
            throw new InvalidDataException($"{Test}: attribute {name} is {attribute.Type}; {Op} expects {type}.");
        return attribute.Value;
    }
}
