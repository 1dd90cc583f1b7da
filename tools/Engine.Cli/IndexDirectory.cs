using Engine.Io.Retrieval;
using Engine.Models;
using Engine.Sparse;

namespace Engine.Cli;

/// <summary>
/// An index directory as <see cref="IndexCommand"/> writes it, loaded with the dataset it indexes:
/// index.bin (<see cref="InvertedIndex.Save"/>) and either bm25.tsv (<see cref="Bm25.Save"/>) or
/// splade.safetensors (<see cref="SpladeEncoder.Save"/>), which says how queries are encoded and
/// which term each posting list belongs to.
/// </summary>
internal sealed class IndexDirectory : IDisposable
{
    public const string IndexFileName = "index.bin";
    public const string Bm25FileName = "bm25.tsv";
    public const string SpladeFileName = "splade.safetensors";

    private readonly Bm25? _bm25;
    private readonly SpladeEncoder? _splade;
    private readonly Device? _device;

    private IndexDirectory(InvertedIndex index, RetrievalDataset dataset, Bm25? bm25, SpladeEncoder? splade, Device? device)
    {
        Index = index;
        Dataset = dataset;
        _bm25 = bm25;
        _splade = splade;
        _device = device;
    }

    public InvertedIndex Index { get; }
    public RetrievalDataset Dataset { get; }

    /// <summary>"BM25" or "SPLADE".</summary>
    public string Method => _bm25 is not null ? "BM25" : "SPLADE";

    /// <summary>The term of each posting list (BM25: words; SPLADE: word pieces).</summary>
    public IReadOnlyList<string> Terms => _bm25?.Vocabulary ?? _splade!.Vocabulary;

    public SparseVector EncodeQuery(string text) => _bm25?.EncodeQuery(text) ?? _splade!.Encode(text);

    public SparseMatrix EncodeQueries(IReadOnlyList<string> texts) => _bm25 is { } bm25
        ? SparseMatrix.FromRows(texts.Select(bm25.EncodeQuery).ToArray(), bm25.Vocabulary.Count)
        : _splade!.Encode(texts, batchSize: 64);

    /// <summary>Loads <paramref name="indexDirectory"/> and the dataset of <paramref name="dataDirectory"/>, checking that they belong together; a SPLADE model goes on <paramref name="device"/>.</summary>
    public static IndexDirectory Open(string indexDirectory, string dataDirectory, Func<Device> device)
    {
        var index = InvertedIndex.Load(Path.Combine(indexDirectory, IndexFileName));
        var dataset = RetrievalDataset.Load(dataDirectory);
        if (index.Documents != dataset.Documents.Count)
            throw new InvalidDataException($"{indexDirectory} does not belong to {dataDirectory}: the index has {index.Documents} documents, the dataset {dataset.Documents.Count}.");
        string bm25Path = Path.Combine(indexDirectory, Bm25FileName), spladePath = Path.Combine(indexDirectory, SpladeFileName);
        if (File.Exists(bm25Path))
        {
            var model = Bm25.Load(bm25Path);
            if (model.DocumentCount != index.Documents || index.Terms != model.Vocabulary.Count)
                throw new InvalidDataException($"{indexDirectory}: the index has {index.Documents} documents and {index.Terms} terms, the BM25 model {model.DocumentCount} and {model.Vocabulary.Count}.");
            return new IndexDirectory(index, dataset, model, null, null);
        }
        if (!File.Exists(spladePath))
            throw new FileNotFoundException($"{indexDirectory} has neither {Bm25FileName} nor {SpladeFileName}: it is not an index directory written by engine index.");
        var owned = device();
        try
        {
            var splade = SpladeEncoder.Load(owned, spladePath);
            if (index.Terms != splade.Vocabulary.Count)
            {
                splade.Dispose();
                throw new InvalidDataException($"{indexDirectory}: the index has {index.Terms} terms, the SPLADE model's vocabulary {splade.Vocabulary.Count}.");
            }
            return new IndexDirectory(index, dataset, null, splade, owned);
        }
        catch
        {
            owned.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        _splade?.Dispose();
        _device?.Dispose();
    }
}
