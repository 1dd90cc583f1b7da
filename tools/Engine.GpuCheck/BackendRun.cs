using Engine.Backends;

namespace Engine.GpuCheck;

/// <summary>
/// A case's buffers on one backend: the inputs uploaded, the outputs allocated and filled with
/// NaN (so an element no kernel writes fails the comparison) or set by the case's Prepare step.
/// Disposing gives the storages back and trims the pool, so the next case has the memory.
/// </summary>
internal sealed class BackendRun : IDisposable
{
    private readonly IBackend _backend;
    private readonly List<Storage> _storages = [];

    public BackendRun(IBackend backend, float[][] inputs, IReadOnlyList<OutputSpec> outputs,
        Action<IBackend, float[][], BufferView[]>? prepare)
    {
        _backend = backend;
        Inputs = inputs.Select(data =>
        {
            var view = Allocate(data.Length);
            backend.Upload(data, view);
            return view;
        }).ToArray();
        Outputs = outputs.Select(spec =>
        {
            var view = Allocate(spec.Length);
            backend.Fill(view, spec.Length, float.NaN);
            return view;
        }).ToArray();
        prepare?.Invoke(backend, inputs, Outputs);
    }

    /// <summary>The uploaded inputs.</summary>
    public BufferView[] Inputs { get; }

    /// <summary>The output buffers.</summary>
    public BufferView[] Outputs { get; }

    /// <summary>Runs <paramref name="launch"/> once on this run's buffers.</summary>
    public void Launch(Action<IBackend, BufferView[], BufferView[]> launch) => launch(_backend, Inputs, Outputs);

    /// <summary>Waits for queued work and copies the outputs back to the host; scratch outputs come back empty.</summary>
    public float[][] Download(IReadOnlyList<OutputSpec> outputs)
    {
        _backend.Synchronize();
        var result = new float[outputs.Count][];
        for (int i = 0; i < outputs.Count; i++)
        {
            result[i] = outputs[i].Kind == OutputKind.Scratch ? [] : new float[outputs[i].Length];
            if (result[i].Length > 0)
                _backend.Download(Outputs[i], result[i]);
        }
        return result;
    }

    /// <summary>Uploads, launches once and downloads: the whole case on one backend.</summary>
    public static float[][] Evaluate(IBackend backend, float[][] inputs, IReadOnlyList<OutputSpec> outputs,
        Action<IBackend, BufferView[], BufferView[]> launch, Action<IBackend, float[][], BufferView[]>? prepare = null)
    {
        using var run = new BackendRun(backend, inputs, outputs, prepare);
        run.Launch(launch);
        return run.Download(outputs);
    }

    private BufferView Allocate(long length)
    {
        var storage = _backend.Allocate(Math.Max(length, 1));
        _storages.Add(storage);
        return new BufferView(storage, 0);
    }

    public void Dispose()
    {
        foreach (var storage in _storages)
            _backend.Release(storage);
        _storages.Clear();
        _backend.TrimPool();
    }
}
