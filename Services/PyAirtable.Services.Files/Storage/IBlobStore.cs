namespace PyAirtable.Services.Files.Storage;

/// <summary>
/// Where contents live, addressed by their SHA-256 (lower-case hex). Putting the same contents twice is harmless (same
/// key, same bytes); which blobs are referenced is PostgreSQL's business (files.blobs), not the store's.
/// </summary>
public interface IBlobStore
{
    /// <summary>Stores the staged file's bytes under <paramref name="sha256"/>; the staged file may be moved away.</summary>
    Task PutAsync(string sha256, string stagedPath, long size, CancellationToken ct);

    /// <summary>A stream of <paramref name="length"/> bytes from <paramref name="offset"/>.</summary>
    Task<Stream> OpenReadAsync(string sha256, long offset, long length, CancellationToken ct);

    Task<bool> ExistsAsync(string sha256, CancellationToken ct);

    /// <summary>Deletes the blob; nothing happens when it is not there.</summary>
    Task DeleteAsync(string sha256, CancellationToken ct);
}
