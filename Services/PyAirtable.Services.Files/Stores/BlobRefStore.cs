using Dapper;

namespace PyAirtable.Services.Files.Stores;

/// <summary>
/// Reference counts of the blobs (files.blobs). A writer that adds a reference holds the blob's row lock until it
/// commits, and the collector deletes a blob from the store only while holding the same lock, so a blob is never
/// deleted under a file that is being stored.
/// </summary>
internal sealed class BlobRefStore(FileSession session)
{
    /// <summary>Adds a reference; true when the row is new, i.e. the contents must be put into the store.</summary>
    public Task<bool> AddReferenceAsync(string sha256, long size, CancellationToken ct) =>
        session.Connection.ExecuteScalarAsync<bool>(new CommandDefinition(
            "INSERT INTO files.blobs AS b (sha256, size_bytes, refs) VALUES (@sha256, @size, 1) " +
            "ON CONFLICT (sha256) DO UPDATE SET refs = b.refs + 1, unreferenced_at = NULL RETURNING (xmax = 0)",
            new { sha256, size }, session.Transaction, cancellationToken: ct));

    public Task ReleaseAsync(string sha256, CancellationToken ct) =>
        session.Connection.ExecuteAsync(new CommandDefinition(
            "UPDATE files.blobs SET refs = refs - 1, unreferenced_at = CASE WHEN refs = 1 THEN now() END WHERE sha256 = @sha256",
            new { sha256 }, session.Transaction, cancellationToken: ct));

    /// <summary>Unreferenced blobs, locked (skipping those another transaction holds) until the transaction ends.</summary>
    public async Task<List<string>> LockUnreferencedAsync(int limit, CancellationToken ct) =>
        (await session.Connection.QueryAsync<string>(new CommandDefinition(
            "SELECT sha256 FROM files.blobs WHERE refs = 0 ORDER BY unreferenced_at LIMIT @limit FOR UPDATE SKIP LOCKED",
            new { limit }, session.Transaction, cancellationToken: ct))).ToList();

    public Task DeleteAsync(IReadOnlyList<string> sha256s, CancellationToken ct) =>
        session.Connection.ExecuteAsync(new CommandDefinition(
            "DELETE FROM files.blobs WHERE sha256 = ANY(@sha256s) AND refs = 0", new { sha256s = sha256s.ToArray() },
            session.Transaction, cancellationToken: ct));

    public Task<long> CountAsync(CancellationToken ct) =>
        session.Connection.ExecuteScalarAsync<long>(new CommandDefinition(
            "SELECT count(*) FROM files.blobs", transaction: session.Transaction, cancellationToken: ct));
}
