using Dapper;
using PyAirtable.Contracts.Files;

namespace PyAirtable.Services.Files.Stores;

/// <summary>Resumable uploads (files.uploads): what they will become and how many bytes are committed.</summary>
internal sealed class UploadStore(FileSession session)
{
    private const string Columns =
        "id AS Id, workspace_id AS WorkspaceId, base_id AS BaseId, table_id AS TableId, name AS Name, content_type AS ContentType, " +
        "declared_size AS DeclaredSize, declared_sha256 AS DeclaredSha256, committed_offset AS CommittedOffset, created_by AS CreatedBy, " +
        "expires_at AS ExpiresAt";

    public Task<UploadRow> InsertAsync(UploadRow upload, CancellationToken ct) =>
        session.Connection.QuerySingleAsync<UploadRow>(new CommandDefinition(
            "INSERT INTO files.uploads (id, workspace_id, base_id, table_id, name, content_type, declared_size, declared_sha256, created_by, expires_at) " +
            $"VALUES (@Id, @WorkspaceId, @BaseId, @TableId, @Name, @ContentType, @DeclaredSize, @DeclaredSha256, @CreatedBy, @ExpiresAt) RETURNING {Columns}",
            upload, session.Transaction, cancellationToken: ct));

    /// <summary>The caller's live upload; null when there is none (or it expired, or is someone else's).</summary>
    public Task<UploadRow?> FindAsync(Guid id, Guid owner, CancellationToken ct) =>
        session.Connection.QuerySingleOrDefaultAsync<UploadRow?>(new CommandDefinition(
            $"SELECT {Columns} FROM files.uploads WHERE id = @id AND created_by = @owner AND expires_at > now()",
            new { id, owner }, session.Transaction, cancellationToken: ct));

    public Task SetOffsetAsync(Guid id, long offset, CancellationToken ct) =>
        session.Connection.ExecuteAsync(new CommandDefinition(
            "UPDATE files.uploads SET committed_offset = @offset WHERE id = @id", new { id, offset }, session.Transaction, cancellationToken: ct));

    public Task<int> DeleteAsync(Guid id, CancellationToken ct) =>
        session.Connection.ExecuteAsync(new CommandDefinition(
            "DELETE FROM files.uploads WHERE id = @id", new { id }, session.Transaction, cancellationToken: ct));

    /// <summary>Deletes expired uploads; their ids (their staged bytes are to be deleted).</summary>
    public async Task<List<Guid>> DeleteExpiredAsync(int limit, CancellationToken ct) =>
        (await session.Connection.QueryAsync<Guid>(new CommandDefinition(
            "DELETE FROM files.uploads WHERE id IN (SELECT id FROM files.uploads WHERE expires_at <= now() LIMIT @limit) RETURNING id",
            new { limit }, session.Transaction, cancellationToken: ct))).ToList();
}

/// <summary>A row of files.uploads.</summary>
internal sealed record UploadRow
{
    public Guid Id { get; init; }
    public Guid WorkspaceId { get; init; }
    public Guid BaseId { get; init; }
    public Guid? TableId { get; init; }
    public string Name { get; init; } = "";
    public string ContentType { get; init; } = "";
    public long? DeclaredSize { get; init; }
    public string? DeclaredSha256 { get; init; }
    public long CommittedOffset { get; init; }
    public Guid CreatedBy { get; init; }
    public DateTime ExpiresAt { get; init; }

    public Upload ToContract() => new()
    {
        Id = Id.ToString(), CommittedOffset = CommittedOffset, ExpiresAt = DateTime.SpecifyKind(ExpiresAt, DateTimeKind.Utc),
        Header = new FileHeader
        {
            Name = Name, ContentType = ContentType, BaseId = BaseId.ToString(), TableId = TableId?.ToString() ?? "",
            SizeBytes = DeclaredSize, Sha256 = DeclaredSha256 ?? "",
        },
    };
}
