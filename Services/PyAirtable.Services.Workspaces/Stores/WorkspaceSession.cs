using Npgsql;
using PyAirtable.Services.Infrastructure.Database;

namespace PyAirtable.Services.Workspaces.Stores;

/// <summary>A connection of the platform pool and, for an RPC that writes, its transaction, with the workspaces schema's stores.</summary>
internal sealed class WorkspaceSession(NpgsqlConnection connection, NpgsqlTransaction? transaction, WorkspaceMemory? memory = null)
    : DatabaseSession(connection, transaction)
{
    private WorkspaceStore? _workspaces;
    private BaseStore? _bases;

    public WorkspaceStore Workspaces => _workspaces ??= new(this);

    public BaseStore Bases => _bases ??= new(this);

    /// <summary>A session without a transaction, for RPCs that only read.</summary>
    public static Task<WorkspaceSession> OpenAsync(NpgsqlDataSource dataSource, CancellationToken ct) =>
        OpenAsync(dataSource, write: false, (c, t) => new WorkspaceSession(c, t), ct);

    /// <summary>A session in a transaction, for RPCs that write: the rows and their outbox event commit together.</summary>
    public static Task<WorkspaceSession> BeginAsync(NpgsqlDataSource dataSource, WorkspaceMemory memory, CancellationToken ct) =>
        OpenAsync(dataSource, write: true, (c, t) => new WorkspaceSession(c, t, memory), ct);

    /// <summary>Commits, then tells every host's <see cref="WorkspaceMemory"/> (before the RPC answers) to drop what it read before.</summary>
    public override async Task CommitAsync(CancellationToken ct)
    {
        await base.CommitAsync(ct);
        if (memory is not null)
        {
            await memory.PublishAsync();
        }
    }
}
