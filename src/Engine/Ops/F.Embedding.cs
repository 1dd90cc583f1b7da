namespace Engine;

// Embedding gather: y[..., :] = table[ids[...], :], table [vocab, dim], int32 ids of any shape,
// y of shape ids.shape + [dim]. Ids are checked on the host first: an id outside the table is an
// error naming its position, never a read out of range.
// Backward: dtable[v, :] = sum of dy[i, :] over the positions i with ids[i] = v (scatter-add).
public static partial class F
{
    /// <summary>Rows of <paramref name="table"/> selected by the int32 <paramref name="ids"/>.</summary>
    public static Tensor Embedding(Tensor table, Tensor ids)
    {
        const string op = "Embedding";
        Checks.SameDevice(op, table, ids);
        Checks.Float(op, table, "table");
        Checks.Int(op, ids, "ids");
        if (table.Rank != 2)
            throw new ArgumentException($"{op}: table {ShapeMath.Format(table.Shape)} must be 2-D [vocab, dim].");
        int vocab = table.Size(0), dim = table.Size(1);
        var values = ids.ToInt32Array();
        for (int i = 0; i < values.Length; i++)
            if ((uint)values[i] >= (uint)vocab)
                throw new ArgumentException($"{op}: id {values[i]} at flat position {i} of ids {ShapeMath.Format(ids.Shape)} is outside the table [{vocab}, {dim}].");
        var y = Tensor.Empty(table.Device, [.. ids.Shape, dim]);
        if (y.Count == 0) return y;
        var t = Dense(table, out bool copiedTable);
        var idsDense = Dense(ids, out bool copiedIds);
        try
        {
            table.Backend.Embedding(t.Buffer, idsDense.Buffer, y.Buffer, values.Length, dim);
            if (Autograd.Needs(table))
            {
                var savedIds = copiedIds ? idsDense.Alias() : Autograd.Save(ids.Contiguous());
                Autograd.Record(op, y, [table, null], g => [EmbeddingGrad(savedIds, g, vocab, dim)], savedIds);
            }
        }
        finally
        {
            if (copiedTable) t.Dispose();
            if (copiedIds) idsDense.Dispose();
        }
        return y;
    }

    private static Tensor EmbeddingGrad(Tensor ids, Tensor dy, int vocab, int dim)
    {
        var dtable = Tensor.Empty(dy.Device, [vocab, dim]);
        var dyd = Dense(dy, out bool copied);
        dy.Backend.EmbeddingBackward(ids.Buffer, dyd.Buffer, dtable.Buffer, (int)ids.Count, dim, vocab);
        if (copied) dyd.Dispose();
        return dtable;
    }
}
