using Dapper;
using PyAirtable.Contracts.Permissions;
using PyAirtable.Contracts.Workspaces;

namespace PyAirtable.Services.Workspaces.Stores;

/// <summary>Workspaces (workspaces.workspaces): a name and a description; who may see them is the Permission service's.</summary>
internal sealed class WorkspaceStore(WorkspaceSession session)
{
    private const string Columns =
        "id AS Id, name AS Name, description AS Description, created_by AS CreatedBy, created_at AS CreatedAt, updated_at AS UpdatedAt";

    public Task<WorkspaceRow> InsertAsync(Guid id, string name, string description, Guid createdBy, CancellationToken ct) =>
        session.Connection.QuerySingleAsync<WorkspaceRow>(new CommandDefinition(
            $"""
            INSERT INTO workspaces.workspaces (id, name, description, created_by) VALUES (@id, @name, @description, @by)
            RETURNING {Columns}
            """,
            new { id, name, description, by = createdBy }, session.Transaction, cancellationToken: ct));

    public Task<WorkspaceRow?> FindAsync(Guid id, CancellationToken ct) =>
        session.Connection.QuerySingleOrDefaultAsync<WorkspaceRow?>(new CommandDefinition(
            $"SELECT {Columns} FROM workspaces.workspaces WHERE id = @id", new { id }, session.Transaction, cancellationToken: ct));

    /// <summary>Those of <paramref name="ids"/> that have a row, by id.</summary>
    public async Task<List<WorkspaceRow>> FindManyAsync(Guid[] ids, CancellationToken ct) =>
        (await session.Connection.QueryAsync<WorkspaceRow>(new CommandDefinition(
            $"SELECT {Columns} FROM workspaces.workspaces WHERE id = ANY(@ids) ORDER BY id", new { ids },
            session.Transaction, cancellationToken: ct))).ToList();

    /// <summary>Changes the fields that are not null; null when there is no such workspace.</summary>
    public Task<WorkspaceRow?> UpdateAsync(Guid id, string? name, string? description, CancellationToken ct) =>
        session.Connection.QuerySingleOrDefaultAsync<WorkspaceRow?>(new CommandDefinition(
            $"""
            UPDATE workspaces.workspaces
               SET name = coalesce(@name, name), description = coalesce(@description, description), updated_at = now()
             WHERE id = @id RETURNING {Columns}
            """, new { id, name, description }, session.Transaction, cancellationToken: ct));

    /// <summary>Deletes the workspace and, by cascade, its bases.</summary>
    public Task DeleteAsync(Guid id, CancellationToken ct) =>
        session.Connection.ExecuteAsync(new CommandDefinition(
            "DELETE FROM workspaces.workspaces WHERE id = @id", new { id }, session.Transaction, cancellationToken: ct));
}

/// <summary>A row of workspaces.workspaces.</summary>
internal sealed record WorkspaceRow
{
    public Guid Id { get; init; }
    public string Name { get; init; } = "";
    public string Description { get; init; } = "";
    public Guid CreatedBy { get; init; }
    public DateTime CreatedAt { get; init; }
    public DateTime UpdatedAt { get; init; }

    /// <summary>The workspace as the caller sees it, with the level they hold on it.</summary>
    public Workspace ToContract(PermissionLevel level) => new()
    {
        Id = Id.ToString(), Name = Name, Description = Description, CreatedBy = CreatedBy.ToString(),
        CreatedAt = CreatedAt, UpdatedAt = UpdatedAt, MyLevel = level,
    };
}
