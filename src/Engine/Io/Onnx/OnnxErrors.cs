namespace Engine.Io.Onnx;

/// <summary>The error every ONNX and manifest-resource reader throws for input that breaks its format.</summary>
internal static class OnnxErrors
{
    /// <summary>An <see cref="InvalidDataException"/> whose message starts with the source's name.</summary>
    public static InvalidDataException Invalid(string source, string problem, Exception? inner = null) => new($"{source}: {problem}", inner);
}
