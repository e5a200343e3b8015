using Dapper;
using Npgsql;

namespace PyAirtable.Services.Infrastructure.Outbox;

/// <summary>Writes domain events into the outbox inside the caller's transaction.</summary>
public static class Outbox
{
    // Serializes outbox writers from their insert to their commit, so outbox ids are handed out in
    // commit order: the dispatcher never delivers id N+1 and later finds a committed id N.
    // Enqueue events as the last statements of a transaction to keep the lock short.
    internal const long OrderLockKey = 0x5079_4169_7254_0002;

    /// <summary>
    /// Adds an event to the outbox. It becomes visible to the dispatcher only when
    /// <paramref name="transaction"/> commits, and disappears with it on rollback.
    /// </summary>
    /// <returns>The event id.</returns>
    public static async Task<Guid> EnqueueAsync<TEvent>(
        NpgsqlTransaction transaction,
        string eventType,
        string aggregateType,
        string aggregateId,
        TEvent payload,
        string? requestId,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(transaction);
        ArgumentException.ThrowIfNullOrWhiteSpace(eventType);
        var connection = transaction.Connection ?? throw new InvalidOperationException("The transaction has completed.");

        using var buffer = new MemoryStream();
        ProtoBuf.Serializer.Serialize(buffer, payload);
        var eventId = Guid.CreateVersion7();

        await connection.ExecuteAsync(new CommandDefinition(
            """
            SELECT pg_advisory_xact_lock(@lockKey);
            INSERT INTO platform.outbox (event_id, event_type, aggregate_type, aggregate_id, payload, request_id)
            VALUES (@eventId, @eventType, @aggregateType, @aggregateId, @payload, @requestId);
            """,
            new { lockKey = OrderLockKey, eventId, eventType, aggregateType, aggregateId, payload = buffer.ToArray(), requestId },
            transaction,
            cancellationToken: cancellationToken));
        return eventId;
    }
}
