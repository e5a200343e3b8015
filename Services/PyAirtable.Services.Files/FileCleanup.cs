using Npgsql;
using PyAirtable.Contracts.Events;
using PyAirtable.Services.Files.Stores;
using PyAirtable.Services.Infrastructure.Events;

namespace PyAirtable.Services.Files;

/// <summary>
/// Files go with the base or workspace they hang off: on <see cref="BaseDeleted"/> and <see cref="WorkspaceDeleted"/>
/// their rows and resumable uploads are deleted and their blobs' references released (the collector then deletes the
/// blobs), once per event (its id is recorded in the same transaction). No FileDeleted is written for them: the
/// deletion of the base or workspace is the event.
/// </summary>
internal sealed class FileCleanup(NpgsqlDataSource dataSource) : IEventConsumer<BaseDeleted>, IEventConsumer<WorkspaceDeleted>
{
    public const string ConsumerName = "files.cleanup";

    public Task HandleAsync(BaseDeleted domainEvent, EventContext context, CancellationToken cancellationToken) =>
        Guid.TryParse(domainEvent.BaseId, out var id) ? DeleteAsync(Owner.Base, id, context, cancellationToken) : Task.CompletedTask;

    public Task HandleAsync(WorkspaceDeleted domainEvent, EventContext context, CancellationToken cancellationToken) =>
        Guid.TryParse(domainEvent.WorkspaceId, out var id) ? DeleteAsync(Owner.Workspace, id, context, cancellationToken) : Task.CompletedTask;

    private async Task DeleteAsync(Owner owner, Guid id, EventContext context, CancellationToken ct)
    {
        await using var db = await FileSession.BeginAsync(dataSource, ct);
        if (!await context.FirstDeliveryAsync(db.WriteTransaction, ct))
        {
            return;
        }

        await db.Files.DeleteAllAsync(owner, id, ct);
        await db.CommitAsync(ct);
    }
}

/// <summary>What a set of files hangs off.</summary>
internal enum Owner
{
    Base,
    Workspace,
}
