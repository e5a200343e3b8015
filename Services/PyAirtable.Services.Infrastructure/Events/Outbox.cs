using System.Reflection;
using Dapper;
using Npgsql;
using ProtoBuf.Grpc;
using ProtoBuf.Grpc.Configuration;
using PyAirtable.Contracts.Events;
using PyAirtable.Services.Infrastructure.Identity;
using PyAirtable.Services.Infrastructure.Requests;

namespace PyAirtable.Services.Infrastructure.Events;

/// <summary>Who and what caused an event: the writing service, the acting user and the request.</summary>
/// <param name="Source">CloudEvents source: <c>/</c> + the gRPC service name of the writer.</param>
public sealed record EventOrigin(string Source, string ActorId, string RequestId)
{
    /// <summary>The origin of events written by <typeparamref name="TContract"/>'s implementation during a call.</summary>
    public static EventOrigin Of<TContract>(CallContext context) where TContract : class
    {
        var caller = context.GetCaller();
        var actor = caller.IsAuthenticated && Guid.TryParse(caller.UserId, out _) ? caller.UserId : "";
        var requestId = context.ServerCallContext is null ? "" : context.GetRequestMetadata().RequestId ?? "";
        return new EventOrigin(SourceOf<TContract>.Value, actor, requestId);
    }

    private static class SourceOf<TContract>
    {
        public static readonly string Value = "/" + (typeof(TContract).GetCustomAttribute<ServiceAttribute>()?.Name ?? typeof(TContract).Name);
    }
}

/// <summary>Writes domain events into the outbox inside the caller's transaction.</summary>
public static class Outbox
{
    // Advisory locks taken per aggregate live in their own two-key space (class, hash), apart from the
    // platform's single-key locks.
    internal const int AggregateLockClass = 0x50_41_45_31;

    /// <summary>
    /// Adds an event to the outbox. It reaches the stream only when <paramref name="transaction"/> commits, and
    /// disappears with it on rollback. Writers of different aggregates never wait for each other; writers of the same
    /// aggregate are serialized from this call to their commit, so the aggregate's events are numbered in commit
    /// order. Enqueue as the last statement of the transaction to keep that wait short. The same round trip notifies
    /// <see cref="OutboxNotifications.Channel"/>, which PostgreSQL delivers at commit: the relays wake for it.
    /// </summary>
    /// <returns>The event id (CloudEvents id).</returns>
    public static async Task<Guid> EnqueueAsync<TEvent>(NpgsqlTransaction transaction, TEvent domainEvent, EventOrigin origin, CancellationToken cancellationToken)
        where TEvent : IDomainEvent
    {
        ArgumentNullException.ThrowIfNull(transaction);
        ArgumentNullException.ThrowIfNull(domainEvent);
        ArgumentNullException.ThrowIfNull(origin);
        var connection = transaction.Connection ?? throw new InvalidOperationException("The transaction has completed.");
        if (string.IsNullOrEmpty(domainEvent.Subject))
        {
            throw new ArgumentException($"{typeof(TEvent).Name} has no subject (aggregate id).", nameof(domainEvent));
        }

        using var buffer = new MemoryStream();
        ProtoBuf.Serializer.Serialize(buffer, domainEvent);
        var eventId = Guid.CreateVersion7();
        await connection.ExecuteAsync(new CommandDefinition(
            $"""
            SELECT pg_advisory_xact_lock(@lockClass, hashtext(@aggregateType || '/' || @aggregateId));
            INSERT INTO platform.outbox (event_id, event_type, aggregate_type, aggregate_id, payload, request_id, source, workspace_id, actor_id)
            VALUES (@eventId, @eventType, @aggregateType, @aggregateId, @payload, @requestId, @source, @workspaceId, @actorId);
            SELECT pg_notify('{OutboxNotifications.Channel}', '');
            """,
            new
            {
                lockClass = AggregateLockClass, eventId, eventType = EventTypes.NameOf<TEvent>(), aggregateType = domainEvent.AggregateType,
                aggregateId = domainEvent.Subject, payload = buffer.ToArray(), requestId = origin.RequestId, source = origin.Source,
                workspaceId = domainEvent.EventWorkspaceId, actorId = origin.ActorId,
            },
            transaction,
            cancellationToken: cancellationToken));
        return eventId;
    }
}
