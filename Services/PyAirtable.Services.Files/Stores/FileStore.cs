using Dapper;
using PyAirtable.Contracts.Files;

namespace PyAirtable.Services.Files.Stores;

/// <summary>Files (files.files): a name and a place in the tree for a blob.</summary>
internal sealed class FileStore(FileSession session)
{
    private const string Columns =
        "id AS Id, workspace_id AS WorkspaceId, base_id AS BaseId, table_id AS TableId, name AS Name, content_type AS ContentType, " +
        "size_bytes AS SizeBytes, sha256 AS Sha256, created_by AS CreatedBy, created_at AS CreatedAt";

    public Task<FileRow> InsertAsync(FileRow file, CancellationToken ct) =>
        session.Connection.QuerySingleAsync<FileRow>(new CommandDefinition(
            "INSERT INTO files.files (id, workspace_id, base_id, table_id, name, content_type, size_bytes, sha256, created_by) " +
            $"VALUES (@Id, @WorkspaceId, @BaseId, @TableId, @Name, @ContentType, @SizeBytes, @Sha256, @CreatedBy) RETURNING {Columns}",
            file, session.Transaction, cancellationToken: ct));

    public Task<FileRow?> FindAsync(Guid id, CancellationToken ct) =>
        session.Connection.QuerySingleOrDefaultAsync<FileRow?>(new CommandDefinition(
            $"SELECT {Columns} FROM files.files WHERE id = @id", new { id }, session.Transaction, cancellationToken: ct));

    /// <summary>Up to <paramref name="limit"/> files of a base (or one table of it) after <paramref name="after"/>, by id.</summary>
    public async Task<List<FileRow>> ListAsync(Guid baseId, Guid? tableId, Guid after, int limit, CancellationToken ct) =>
        (await session.Connection.QueryAsync<FileRow>(new CommandDefinition(
            $"SELECT {Columns} FROM files.files WHERE base_id = @baseId AND (@tableId::uuid IS NULL OR table_id = @tableId) AND id > @after " +
            "ORDER BY id LIMIT @limit",
            new { baseId, tableId, after, limit }, session.Transaction, cancellationToken: ct))).ToList();

    public Task<long> CountAsync(Guid baseId, Guid? tableId, CancellationToken ct) =>
        session.Connection.ExecuteScalarAsync<long>(new CommandDefinition(
            "SELECT count(*) FROM files.files WHERE base_id = @baseId AND (@tableId::uuid IS NULL OR table_id = @tableId)",
            new { baseId, tableId }, session.Transaction, cancellationToken: ct));

    /// <summary>The deleted file; null when there was none.</summary>
    public Task<FileRow?> DeleteAsync(Guid id, CancellationToken ct) =>
        session.Connection.QuerySingleOrDefaultAsync<FileRow?>(new CommandDefinition(
            $"DELETE FROM files.files WHERE id = @id RETURNING {Columns}", new { id }, session.Transaction, cancellationToken: ct));

    /// <summary>
    /// Deletes every file and resumable upload of a base or workspace and releases the files' blob references; the
    /// staged bytes of the uploads are left to expire with nothing pointing at them (they are only this host's disk).
    /// </summary>
    public async Task DeleteAllAsync(Owner owner, Guid id, CancellationToken ct)
    {
        // The column is chosen from the enum here, never from input.
        var column = owner == Owner.Base ? "base_id" : "workspace_id";
        await session.Connection.ExecuteAsync(new CommandDefinition(
            $"WITH gone AS (DELETE FROM files.files WHERE {column} = @id RETURNING sha256), " +
            "counts AS (SELECT sha256, count(*)::int AS n FROM gone GROUP BY sha256) " +
            "UPDATE files.blobs b SET refs = b.refs - c.n, unreferenced_at = CASE WHEN b.refs = c.n THEN now() ELSE b.unreferenced_at END " +
            "FROM counts c WHERE b.sha256 = c.sha256",
            new { id }, session.Transaction, cancellationToken: ct));
        await session.Connection.ExecuteAsync(new CommandDefinition(
            $"DELETE FROM files.uploads WHERE {column} = @id", new { id }, session.Transaction, cancellationToken: ct));
    }

    /// <summary>
    /// Serializes quota decisions of one workspace until the transaction ends, so parallel uploads cannot together pass
    /// a quota each of them alone respects.
    /// </summary>
    public Task LockQuotaAsync(Guid workspaceId, CancellationToken ct) =>
        session.Connection.ExecuteAsync(new CommandDefinition(
            "SELECT pg_advisory_xact_lock(hashtextextended('files.quota:' || @key, 0))", new { key = workspaceId.ToString() },
            session.Transaction, cancellationToken: ct));

    /// <summary>Bytes the files of the base and of its workspace take (each file counted, shared contents too).</summary>
    public Task<Usage> UsageAsync(Guid workspaceId, Guid baseId, CancellationToken ct) =>
        session.Connection.QuerySingleAsync<Usage>(new CommandDefinition(
            "SELECT coalesce(sum(size_bytes), 0)::bigint AS Workspace, coalesce(sum(size_bytes) FILTER (WHERE base_id = @baseId), 0)::bigint AS Base " +
            "FROM files.files WHERE workspace_id = @workspaceId",
            new { workspaceId, baseId }, session.Transaction, cancellationToken: ct));
}

/// <summary>Storage used, in bytes.</summary>
internal sealed record Usage
{
    public long Workspace { get; init; }
    public long Base { get; init; }
}

/// <summary>A row of files.files.</summary>
internal sealed record FileRow
{
    public Guid Id { get; init; }
    public Guid WorkspaceId { get; init; }
    public Guid BaseId { get; init; }
    public Guid? TableId { get; init; }
    public string Name { get; init; } = "";
    public string ContentType { get; init; } = "";
    public long SizeBytes { get; init; }
    public string Sha256 { get; init; } = "";
    public Guid CreatedBy { get; init; }
    public DateTime CreatedAt { get; init; }

    public StoredFile ToContract() => new()
    {
        Id = Id.ToString(), WorkspaceId = WorkspaceId.ToString(), BaseId = BaseId.ToString(), TableId = TableId?.ToString() ?? "",
        Name = Name, ContentType = ContentType, SizeBytes = SizeBytes, Sha256 = Sha256, CreatedBy = CreatedBy.ToString(),
        CreatedAt = DateTime.SpecifyKind(CreatedAt, DateTimeKind.Utc),
    };
}
