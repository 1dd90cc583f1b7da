namespace Engine.Sparse;

/// <summary>
/// The best k hits offered so far: a min-heap of size at most k whose root is the worst kept hit.
/// Higher scores are better; equal scores go to the lower document number, so the result does
/// not depend on the order hits are offered in.
/// </summary>
internal sealed class TopHits
{
    private readonly SearchHit[] _heap;
    private int _size;

    /// <summary>An empty selection keeping at most <paramref name="capacity"/> hits.</summary>
    public TopHits(int capacity) => _heap = new SearchHit[capacity];

    /// <summary>Empties the selection for reuse.</summary>
    public void Clear() => _size = 0;

    /// <summary>Keeps the hit if it is among the best <c>capacity</c> offered so far.</summary>
    public void Offer(int document, float score)
    {
        var hit = new SearchHit(document, score);
        if (_size < _heap.Length)
        {
            _heap[_size++] = hit;
            SiftUp(_size - 1);
        }
        else if (_heap.Length > 0 && Better(hit, _heap[0]))
        {
            _heap[0] = hit;
            SiftDown();
        }
    }

    /// <summary>The kept hits, best first.</summary>
    public SearchHit[] ToSortedArray()
    {
        var hits = _heap.AsSpan(0, _size).ToArray();
        Array.Sort(hits, (a, b) => Better(a, b) ? -1 : Better(b, a) ? 1 : 0);
        return hits;
    }

    /// <summary>Higher score first; equal scores by lower document number.</summary>
    public static bool Better(SearchHit a, SearchHit b)
    {
        int order = a.Score.CompareTo(b.Score);
        return order > 0 || (order == 0 && a.Document < b.Document);
    }

    private void SiftUp(int i)
    {
        while (i > 0)
        {
            int parent = (i - 1) / 2;
            if (!Better(_heap[parent], _heap[i]))
                return;
            (_heap[parent], _heap[i]) = (_heap[i], _heap[parent]);
            i = parent;
        }
    }

    private void SiftDown()
    {
        int i = 0;
        while (true)
        {
            int worst = i, left = 2 * i + 1, right = left + 1;
            if (left < _size && Better(_heap[worst], _heap[left]))
                worst = left;
            if (right < _size && Better(_heap[worst], _heap[right]))
                worst = right;
            if (worst == i)
                return;
            (_heap[worst], _heap[i]) = (_heap[i], _heap[worst]);
            i = worst;
        }
    }
}
