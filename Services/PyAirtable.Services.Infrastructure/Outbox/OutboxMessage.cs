using Npgsql;

namespace PyAirtable.Services.Infrastructure.Outbox;

/// <summary>A domain event read back from the outbox for delivery.</summary>
/// <param name="Sequence">The outbox id: events are delivered in this order, which is commit order.</param>
/// <param name="EventId">Unique per event; at-least-once consumers outside PostgreSQL deduplicate on it.</param>
/// <param name="EventType">For example <c>user.registered</c>.</param>
/// <param name="Payload">The event serialized with protobuf-net.</param>
public sealed record OutboxMessage(
    long Sequence,
    Guid EventId,
    string EventType,
    string AggregateType,
    string AggregateId,
    byte[] Payload,
    string? RequestId,
    DateTime OccurredAt,
    int Attempts)
{
    public T Read<T>() => ProtoBuf.Serializer.Deserialize<T>(Payload.AsSpan());
}

/// <summary>
/// The database transaction a delivery runs in. Whatever a handler writes through it commits
/// together with the "dispatched" mark, so a handler whose effects live in PostgreSQL sees each
/// event exactly once, crash or not. Effects outside it (Redis, HTTP) are at-least-once: key them
/// by <see cref="OutboxMessage.EventId"/>.
/// </summary>
public sealed record OutboxDelivery(NpgsqlConnection Connection, NpgsqlTransaction Transaction);

/// <summary>A consumer of domain events (notifications, webhooks, cache fan-out…).</summary>
public interface IOutboxHandler
{
    ValueTask HandleAsync(OutboxMessage message, OutboxDelivery delivery, CancellationToken cancellationToken);
}

/// <summary>Dispatcher settings (section <c>Outbox</c>).</summary>
public sealed class OutboxOptions
{
    /// <summary>How long the dispatcher sleeps when the queue is empty.</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>Events read per round.</summary>
    public int BatchSize { get; set; } = 100;

    /// <summary>Failed deliveries of one event before it is set aside (failed_at) so later events can flow.</summary>
    public int MaxAttempts { get; set; } = 10;

    /// <summary>The first retry delay; doubles per attempt up to <see cref="MaxRetryDelay"/>.</summary>
    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromMilliseconds(500);

    public TimeSpan MaxRetryDelay { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Set false to run a host that serves calls but leaves delivery to others.</summary>
    public bool DispatcherEnabled { get; set; } = true;
}
