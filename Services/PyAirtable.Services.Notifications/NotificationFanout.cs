using Npgsql;
using Microsoft.Extensions.Options;
using PyAirtable.Contracts.Events;
using PyAirtable.Services.Infrastructure.Events;
using PyAirtable.Services.Notifications.Stores;

namespace PyAirtable.Services.Notifications;

/// <summary>
/// The event-stream consumer (<c>notifications.fanout</c>): each event of a workspace becomes a notification in the feed
/// of every member but the one who caused it, in the transaction that marks the event handled (exactly once per event),
/// and keeps the membership projection (WorkspaceCreated, MemberAdded, MemberRemoved, WorkspaceDeleted) up to date —
/// after the fan-out, so a member who is removed is still a recipient of their removal, which delivery then hides from
/// them (they can no longer read the workspace). Takes every type (<see cref="IEventStreamConsumer"/>).
/// </summary>
internal sealed class NotificationFanout(NpgsqlDataSource dataSource, FeedSignals signals, IOptions<NotificationOptions> options) : IEventStreamConsumer
{
    public const string ConsumerName = "notifications.fanout";

    public async Task HandleAsync(EventEnvelope envelope, EventContext context, CancellationToken cancellationToken)
    {
        if (!Guid.TryParse(envelope.WorkspaceId, out var workspace) || !Guid.TryParse(envelope.Id, out var eventId))
        {
            return;
        }

        Guid[] recipients;
        await using (var db = await NotificationSession.BeginAsync(dataSource, cancellationToken))
        {
            if (!await context.FirstDeliveryAsync(db.WriteTransaction, cancellationToken))
            {
                return;
            }

            recipients = await db.Feeds.RecipientsAsync(workspace, Guid.TryParse(envelope.ActorId, out var actor) ? actor : null, cancellationToken);
            if (recipients.Length > 0)
            {
                await db.Feeds.AppendAsync(recipients, new InboxRow
                {
                    EventId = eventId, EventType = envelope.Type, WorkspaceId = workspace,
                    BaseId = BaseOf(envelope),
                    Subject = envelope.Subject, ActorId = envelope.ActorId,
                    HappenedAt = envelope.Time is { } time ? DateTime.SpecifyKind(time, DateTimeKind.Utc) : DateTime.UtcNow, Data = envelope.Data,
                }, options.Value.MaxPerUser, cancellationToken);
            }

            await ProjectAsync(db, envelope, workspace, cancellationToken);
            await db.CommitAsync(cancellationToken);
        }

        await signals.PublishAsync(recipients);
    }

    // Event types of the contracts by wire name, for the base an event is about when it is not itself a base's event (a
    // file's): its BaseId field. Scanned once; types added to the contracts later are found without a change here.
    private static readonly Dictionary<string, System.Reflection.PropertyInfo> BaseIdFields = typeof(IDomainEvent).Assembly.GetTypes()
        .Where(t => t is { IsClass: true, IsAbstract: false } && typeof(IDomainEvent).IsAssignableFrom(t) && t.Namespace == typeof(IDomainEvent).Namespace
            && Attribute.IsDefined(t, typeof(ProtoBuf.ProtoContractAttribute)) && t.GetProperty("BaseId")?.PropertyType == typeof(string))
        .ToDictionary(EventTypes.NameOf, t => t.GetProperty("BaseId")!, StringComparer.Ordinal);

    /// <summary>The base the event is about: its subject when it is a base's event, else its data's BaseId, else none.</summary>
    private static Guid? BaseOf(EventEnvelope envelope)
    {
        if (envelope.AggregateType == "base")
        {
            return Guid.TryParse(envelope.Subject, out var subject) ? subject : null;
        }

        if (!BaseIdFields.TryGetValue(envelope.Type, out var field))
        {
            return null;
        }

        var data = ProtoBuf.Meta.RuntimeTypeModel.Default.Deserialize(field.DeclaringType!, new ReadOnlyMemory<byte>(envelope.Data));
        return Guid.TryParse(field.GetValue(data) as string, out var id) ? id : null;
    }

    private static async Task ProjectAsync(NotificationSession db, EventEnvelope envelope, Guid workspace, CancellationToken ct)
    {
        var data = new ReadOnlyMemory<byte>(envelope.Data);
        if (envelope.Type == EventTypes.NameOf<WorkspaceCreated>()
            && Guid.TryParse(ProtoBuf.Serializer.Deserialize<WorkspaceCreated>(data).CreatedBy, out var creator))
        {
            await db.Feeds.AddMemberAsync(workspace, creator, ct);
        }
        else if (envelope.Type == EventTypes.NameOf<MemberAdded>()
            && Guid.TryParse(ProtoBuf.Serializer.Deserialize<MemberAdded>(data).UserId, out var added))
        {
            await db.Feeds.AddMemberAsync(workspace, added, ct);
        }
        else if (envelope.Type == EventTypes.NameOf<MemberRemoved>()
            && Guid.TryParse(ProtoBuf.Serializer.Deserialize<MemberRemoved>(data).UserId, out var removed))
        {
            await db.Feeds.RemoveMemberAsync(workspace, removed, ct);
        }
        else if (envelope.Type == EventTypes.NameOf<WorkspaceDeleted>())
        {
            await db.Feeds.RemoveWorkspaceAsync(workspace, ct);
        }
    }
}
