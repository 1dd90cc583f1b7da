using System.Globalization;

namespace Engine.Cli;

/// <summary>Command-line options: "--name value" pairs and bare "--flag"s of a known set.</summary>
internal sealed class Options
{
    private readonly Dictionary<string, string> _values = new();
    private readonly HashSet<string> _flags = new();

    public static Options Parse(string[] args, params string[] flags)
    {
        var options = new Options();
        for (int i = 0; i < args.Length; i++)
        {
            if (flags.Contains(args[i]))
            {
                options._flags.Add(args[i]);
                continue;
            }
            if (!args[i].StartsWith("--") || i + 1 >= args.Length)
                throw new ArgumentException($"expected '--name value', got '{args[i]}'.");
            options._values[args[i]] = args[++i];
        }
        return options;
    }

    public bool Has(string name) => _values.ContainsKey(name);
    public bool Flag(string name) => _flags.Contains(name);
    public string Get(string name, string fallback) => _values.GetValueOrDefault(name, fallback);

    public int GetInt(string name, int fallback) =>
        !_values.TryGetValue(name, out var text) ? fallback
        : int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int value) && value > 0 ? value
        : throw new ArgumentException($"{name} must be a positive integer, not '{text}'.");

    public int GetCount(string name, int fallback) =>
        !_values.TryGetValue(name, out var text) ? fallback
        : int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int value) && value >= 0 ? value
        : throw new ArgumentException($"{name} must be a non-negative integer, not '{text}'.");

    public double GetDouble(string name, double fallback) =>
        !_values.TryGetValue(name, out var text) ? fallback
        : double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) && value >= 0 && double.IsFinite(value) ? value
        : throw new ArgumentException($"{name} must be a non-negative number, not '{text}'.");

    public float GetFloat(string name, float fallback) => (float)GetDouble(name, fallback);

    public float GetSignedFloat(string name, float fallback) =>
        !_values.TryGetValue(name, out var text) ? fallback
        : float.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out float value) && float.IsFinite(value) ? value
        : throw new ArgumentException($"{name} must be a finite number, not '{text}'.");
}
