using Dapper;
using PyAirtable.Contracts.Workspaces;

namespace PyAirtable.Services.Workspaces.Stores;

/// <summary>Bases (workspaces.bases), each in one workspace.</summary>
internal sealed class BaseStore(WorkspaceSession session)
{
    private const string Columns =
        "id AS Id, workspace_id AS WorkspaceId, name AS Name, created_by AS CreatedBy, created_at AS CreatedAt, updated_at AS UpdatedAt";

    public Task<BaseRow> InsertAsync(Guid id, Guid workspace, string name, Guid createdBy, CancellationToken ct) =>
        session.Connection.QuerySingleAsync<BaseRow>(new CommandDefinition(
            $"INSERT INTO workspaces.bases (id, workspace_id, name, created_by) VALUES (@id, @workspace, @name, @by) RETURNING {Columns}",
            new { id, workspace, name, by = createdBy }, session.Transaction, cancellationToken: ct));

    public Task<BaseRow?> FindAsync(Guid id, CancellationToken ct) =>
        session.Connection.QuerySingleOrDefaultAsync<BaseRow?>(new CommandDefinition(
            $"SELECT {Columns} FROM workspaces.bases WHERE id = @id", new { id }, session.Transaction, cancellationToken: ct));

    /// <summary>Every base of the workspace, by id.</summary>
    public async Task<List<BaseRow>> ListInWorkspaceAsync(Guid workspace, CancellationToken ct) =>
        (await session.Connection.QueryAsync<BaseRow>(new CommandDefinition(
            $"SELECT {Columns} FROM workspaces.bases WHERE workspace_id = @workspace ORDER BY id", new { workspace },
            session.Transaction, cancellationToken: ct))).ToList();

    /// <summary>The renamed base; null when there is no such base.</summary>
    public Task<BaseRow?> RenameAsync(Guid id, string name, CancellationToken ct) =>
        session.Connection.QuerySingleOrDefaultAsync<BaseRow?>(new CommandDefinition(
            $"UPDATE workspaces.bases SET name = @name, updated_at = now() WHERE id = @id RETURNING {Columns}", new { id, name },
            session.Transaction, cancellationToken: ct));

    /// <summary>Deletes the base; the workspace it was in, or null when there was no such base.</summary>
    public Task<Guid?> DeleteAsync(Guid id, CancellationToken ct) =>
        session.Connection.ExecuteScalarAsync<Guid?>(new CommandDefinition(
            "DELETE FROM workspaces.bases WHERE id = @id RETURNING workspace_id", new { id }, session.Transaction, cancellationToken: ct));
}

/// <summary>A row of workspaces.bases.</summary>
internal sealed record BaseRow
{
    public Guid Id { get; init; }
    public Guid WorkspaceId { get; init; }
    public string Name { get; init; } = "";
    public Guid CreatedBy { get; init; }
    public DateTime CreatedAt { get; init; }
    public DateTime UpdatedAt { get; init; }

    public Base ToContract() => new()
    {
        Id = Id.ToString(), WorkspaceId = WorkspaceId.ToString(), Name = Name, CreatedBy = CreatedBy.ToString(),
        CreatedAt = CreatedAt, UpdatedAt = UpdatedAt,
    };
}
