namespace Engine.Io;

/// <summary>
/// Replaces a file all at once: readers and a crash at any moment see either the previous
/// contents or the new ones, never a mix or a truncated file.
/// </summary>
/// <remarks>
/// The new contents go to a temporary file in the same directory (a rename is atomic only
/// within one file system), are flushed to the disk, and then the temporary file is renamed over
/// the target. If writing fails, the temporary file is deleted and the target is untouched.
/// The rename itself reaches the disk when the file system commits its journal; ext4, XFS and
/// NTFS keep the old-or-new guarantee across a power loss.
/// </remarks>
public static class AtomicFile
{
    private const int BufferSize = 1 << 20;

    /// <summary>Writes <paramref name="path"/> through <paramref name="write"/>, replacing any existing file atomically.</summary>
    /// <param name="path">The file to create or replace. Its directory must exist.</param>
    /// <param name="write">Writes the whole new contents to the stream it is given; if it throws, nothing is replaced.</param>
    public static void Write(string path, Action<Stream> write)
    {
        ArgumentNullException.ThrowIfNull(write);
        string target = Path.GetFullPath(path);
        string temporary = Path.Combine(Path.GetDirectoryName(target)!, $"{Path.GetFileName(target)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, BufferSize))
            {
                write(stream);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temporary, target, overwrite: true);
        }
        catch
        {
            DeleteIfPresent(temporary);
            throw;
        }
    }

    private static void DeleteIfPresent(string temporary)
    {
        try
        {
            File.Delete(temporary);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The write already failed; that error is the one to report, not a failed clean-up.
        }
    }
}
