using Npgsql;
using PyAirtable.Contracts.Events;
using PyAirtable.Services.Infrastructure.Events;
using PyAirtable.Services.Webhooks.Stores;

namespace PyAirtable.Services.Webhooks.Outbound;

/// <summary>
/// The event-stream consumer (<c>webhooks.forward</c>) that turns each event of a workspace into one delivery per
/// matching webhook, in the same transaction as its handled mark (<see cref="EventContext.FirstDeliveryAsync"/>): a
/// redelivered event queues nothing twice. It takes every event type (<see cref="IEventStreamConsumer"/>), so event types
/// added to the contracts later reach webhooks without a change here. When a workspace or base is deleted, its webhooks
/// are retired in the same transaction (see EndpointStore.RetireAsync).
/// </summary>
internal sealed class WebhookForwarder(NpgsqlDataSource dataSource, DeliveryWorker worker) : IEventStreamConsumer
{
    public const string ConsumerName = "webhooks.forward";

    public async Task HandleAsync(EventEnvelope envelope, EventContext context, CancellationToken cancellationToken)
    {
        if (!Guid.TryParse(envelope.WorkspaceId, out var workspace) || !Guid.TryParse(envelope.Id, out var eventId))
        {
            return; // not a workspace's event (accounts, API keys): no webhook can want it
        }

        var data = EventCatalog.Decode(envelope);
        var happened = envelope.Time is { } time ? DateTime.SpecifyKind(time, DateTimeKind.Utc) : DateTime.UtcNow;
        var retire = Deletes(envelope, out var deletedBase);
        await using var db = await WebhookSession.BeginAsync(dataSource, cancellationToken);
        var queued = await db.Deliveries.EnqueueMatchingAsync(workspace, EventCatalog.BasesOf(envelope, data), envelope.Type, happened, eventId,
            envelope.Sequence, EventCatalog.Render(envelope, data), cancellationToken);
        // Nothing queued (no webhook wants it, or it was queued before) and nothing to retire: roll back, mark nothing.
        if ((queued == 0 && !retire) || !await context.FirstDeliveryAsync(db.WriteTransaction, cancellationToken))
        {
            return;
        }

        if (retire)
        {
            // After the deletion event was queued for them: it is the last thing they send.
            await db.Endpoints.RetireAsync(workspace, deletedBase, cancellationToken);
        }

        await db.CommitAsync(cancellationToken);
        if (queued > 0)
        {
            worker.Wake();
        }
    }

    /// <summary>Whether the event deletes the owner of webhooks: its workspace (<paramref name="baseId"/> null) or a base.</summary>
    private static bool Deletes(EventEnvelope envelope, out Guid? baseId)
    {
        baseId = null;
        if (envelope.Type == EventTypes.NameOf<WorkspaceDeleted>())
        {
            return true;
        }

        if (envelope.Type == EventTypes.NameOf<BaseDeleted>() && Guid.TryParse(envelope.Subject, out var deleted))
        {
            baseId = deleted;
            return true;
        }

        return false;
    }
}
