using Dapper;
using PyAirtable.Contracts.Webhooks;

namespace PyAirtable.Services.Webhooks.Stores;

/// <summary>
/// Deliveries (webhooks.deliveries) and their attempts (webhooks.attempts): the durable queue of the delivery workers.
/// Status values reach SQL as parameters of <see cref="DeliveryStatus"/>.
/// </summary>
internal sealed class DeliveryStore(WebhookSession session)
{
    private const string Columns =
        """
        d.id AS Id, d.webhook_id AS WebhookId, d.event_id AS EventId, d.event_type AS EventType, d.status AS Status,
        d.attempts AS Attempts, d.next_attempt_at AS NextAttemptAt, d.created_at AS CreatedAt
        """;

    /// <summary>
    /// Queues the event for every enabled, unretired webhook of its workspace that wants it — on the workspace or on one of
    /// <paramref name="bases"/>, wanting <paramref name="eventType"/> (or every type), created before the event happened —
    /// in one statement (finding them and queueing were two round trips on the event consumer's critical path). An event
    /// already queued for a webhook is not queued twice. Returns how many deliveries were queued. Delivery ids are UUIDv7
    /// (ListDeliveries pages in time order by id), made in SQL — PostgreSQL 15 has no uuidv7(): a random UUID whose first
    /// 48 bits are the Unix time in milliseconds and whose version nibble is 7.
    /// </summary>
    public async Task<int> EnqueueMatchingAsync(
        Guid workspace, Guid[] bases, string eventType, DateTime happened, Guid eventId, long sequence, string body, CancellationToken ct) =>
        (await session.Connection.QueryAsync<Guid>(new CommandDefinition(
            """
            WITH m AS (
                SELECT id FROM webhooks.endpoints
                 WHERE workspace_id = @workspace AND enabled AND retired_at IS NULL AND created_at <= @happened
                   AND (base_id IS NULL OR base_id = ANY(@bases))
                   AND (cardinality(event_types) = 0 OR @eventType = ANY(event_types)))
            INSERT INTO webhooks.deliveries (id, webhook_id, event_id, event_type, sequence, body, status)
            SELECT encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid())
                       placing substring(int8send(floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3) FROM 1 FOR 6),
                       52, 1), 53, 1), 'hex')::uuid,
                   m.id, @eventId, @eventType, @sequence, @body, @pending FROM m
            ON CONFLICT (webhook_id, event_id) DO NOTHING
            RETURNING webhook_id
            """,
            new
            {
                workspace, bases, eventType, happened, eventId, sequence, body, pending = (int)DeliveryStatus.Pending,
            },
            session.Transaction, cancellationToken: ct))).Count();

    /// <summary>
    /// Leases up to <paramref name="limit"/> due deliveries of enabled webhooks for <paramref name="lease"/>: the row locks
    /// (SKIP LOCKED) keep two hosts from claiming one row at once, the lease keeps it this host's until it expires — after a
    /// crash another host takes it then. Oldest due first, then by stream position.
    /// </summary>
    public async Task<List<ClaimedDelivery>> ClaimAsync(int limit, TimeSpan lease, Guid token, CancellationToken ct) =>
        (await session.Connection.QueryAsync<ClaimedDelivery>(new CommandDefinition(
            """
            WITH due AS (
                SELECT d.id FROM webhooks.deliveries d JOIN webhooks.endpoints e ON e.id = d.webhook_id
                 WHERE d.status = @pending AND d.next_attempt_at <= now() AND (d.lease_until IS NULL OR d.lease_until < now()) AND e.enabled
                 ORDER BY d.next_attempt_at, d.sequence
                 LIMIT @limit
                   FOR UPDATE OF d SKIP LOCKED)
            UPDATE webhooks.deliveries d SET lease_until = now() + @lease, lease_token = @token
              FROM due, webhooks.endpoints e
             WHERE d.id = due.id AND e.id = d.webhook_id
            RETURNING d.id AS Id, d.webhook_id AS WebhookId, d.body AS Body, d.attempts AS Attempts, e.url AS Url,
                      e.secret AS Secret, e.previous_secret AS PreviousSecret, e.previous_secret_expires_at AS PreviousSecretExpiresAt
            """,
            new { pending = (int)DeliveryStatus.Pending, limit, lease, token }, session.Transaction, cancellationToken: ct))).ToList();

    /// <summary>Gives a lease back unused (the host is stopping): the delivery is due again at once.</summary>
    public Task ReleaseAsync(Guid id, Guid token, CancellationToken ct) =>
        session.Connection.ExecuteAsync(new CommandDefinition(
            "UPDATE webhooks.deliveries SET lease_until = NULL, lease_token = NULL WHERE id = @id AND lease_token = @token",
            new { id, token }, session.Transaction, cancellationToken: ct));

    /// <summary>
    /// Records attempts, many in two statements: every attempt is written (ListDeliveries shows it); its outcome — succeeded,
    /// failed for good, or due again at its next time — changes the delivery only while the lease it was made under is
    /// still held (a lease that expired and was taken over meanwhile changes nothing: the new holder decides).
    /// </summary>
    public async Task RecordManyAsync(IReadOnlyList<Outcome> outcomes, CancellationToken ct)
    {
        var ids = outcomes.Select(o => o.Delivery).ToArray();
        await session.Connection.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO webhooks.attempts (delivery_id, attempted_at, status_code, latency_ms, succeeded, error)
            SELECT * FROM unnest(@ids, @at, @code, @latency, @succeeded, @error)
            """,
            new
            {
                ids, at = outcomes.Select(o => o.Attempt.AttemptedAt).ToArray(), code = outcomes.Select(o => o.Attempt.StatusCode).ToArray(),
                latency = outcomes.Select(o => o.Attempt.LatencyMs).ToArray(), succeeded = outcomes.Select(o => o.Attempt.Succeeded).ToArray(),
                error = outcomes.Select(o => o.Attempt.Error).ToArray(),
            }, session.Transaction, cancellationToken: ct));
        await session.Connection.ExecuteAsync(new CommandDefinition(
            """
            UPDATE webhooks.deliveries d
               SET attempts = d.attempts + 1, status = u.status, next_attempt_at = coalesce(u.next, d.next_attempt_at),
                   completed_at = CASE WHEN u.status = @pending THEN NULL ELSE now() END, lease_until = NULL, lease_token = NULL
              FROM unnest(@ids, @tokens, @statuses, @nexts) AS u (id, token, status, next)
             WHERE d.id = u.id AND d.lease_token = u.token
            """,
            new
            {
                ids, tokens = outcomes.Select(o => o.Token).ToArray(), statuses = outcomes.Select(o => (int)o.Status).ToArray(),
                nexts = outcomes.Select(o => o.NextAttemptAt).ToArray(), pending = (int)DeliveryStatus.Pending,
            }, session.Transaction, cancellationToken: ct));
    }

    public Task<DeliveryRow?> FindAsync(Guid id, CancellationToken ct) =>
        session.Connection.QuerySingleOrDefaultAsync<DeliveryRow?>(new CommandDefinition(
            $"SELECT {Columns} FROM webhooks.deliveries d WHERE d.id = @id", new { id }, session.Transaction, cancellationToken: ct));

    /// <summary>A page of a webhook's deliveries, newest first (ids are UUIDv7: time order), after <paramref name="before"/>.</summary>
    public async Task<List<DeliveryRow>> ListAsync(Guid webhook, Guid? before, int limit, CancellationToken ct) =>
        (await session.Connection.QueryAsync<DeliveryRow>(new CommandDefinition(
            $"""
            SELECT {Columns} FROM webhooks.deliveries d
             WHERE d.webhook_id = @webhook AND (@before::uuid IS NULL OR d.id < @before) ORDER BY d.id DESC LIMIT @limit
            """, new { webhook, before, limit }, session.Transaction, cancellationToken: ct))).ToList();

    public Task<long> CountAsync(Guid webhook, CancellationToken ct) =>
        session.Connection.ExecuteScalarAsync<long>(new CommandDefinition(
            "SELECT count(*) FROM webhooks.deliveries WHERE webhook_id = @webhook", new { webhook }, session.Transaction, cancellationToken: ct));

    /// <summary>The attempts of the deliveries, oldest first.</summary>
    public async Task<ILookup<Guid, AttemptRow>> AttemptsAsync(Guid[] deliveries, CancellationToken ct) =>
        (await session.Connection.QueryAsync<AttemptRow>(new CommandDefinition(
            """
            SELECT delivery_id AS DeliveryId, attempted_at AS AttemptedAt, status_code AS StatusCode, latency_ms AS LatencyMs,
                   succeeded AS Succeeded, error AS Error
              FROM webhooks.attempts WHERE delivery_id = ANY(@deliveries) ORDER BY id
            """, new { deliveries }, session.Transaction, cancellationToken: ct))).ToLookup(a => a.DeliveryId);

    /// <summary>Makes a delivery due now, pending whatever it was (same id and body); null when there is none.</summary>
    public Task<DeliveryRow?> RequeueAsync(Guid id, CancellationToken ct) =>
        session.Connection.QuerySingleOrDefaultAsync<DeliveryRow?>(new CommandDefinition(
            $"""
            UPDATE webhooks.deliveries d SET status = @pending, next_attempt_at = now(), completed_at = NULL, lease_until = NULL, lease_token = NULL
             WHERE d.id = @id RETURNING {Columns}
            """, new { id, pending = (int)DeliveryStatus.Pending }, session.Transaction, cancellationToken: ct));

    /// <summary>Makes due now the webhook's deliveries made since <paramref name="since"/> that failed (or, with <paramref name="all"/>, finished).</summary>
    public Task<int> RequeueSinceAsync(Guid webhook, DateTime since, bool all, CancellationToken ct) =>
        session.Connection.ExecuteAsync(new CommandDefinition(
            """
            UPDATE webhooks.deliveries SET status = @pending, next_attempt_at = now(), completed_at = NULL, lease_until = NULL, lease_token = NULL
             WHERE webhook_id = @webhook AND created_at >= @since AND (status = @failed OR (@all AND status = @succeeded))
            """,
            new
            {
                webhook, since, all, pending = (int)DeliveryStatus.Pending, failed = (int)DeliveryStatus.Failed,
                succeeded = (int)DeliveryStatus.Succeeded,
            },
            session.Transaction, cancellationToken: ct));

    /// <summary>Deletes finished deliveries (and their attempts) completed before <paramref name="before"/>.</summary>
    public Task<int> PurgeAsync(DateTime before, CancellationToken ct) =>
        session.Connection.ExecuteAsync(new CommandDefinition(
            "DELETE FROM webhooks.deliveries WHERE status <> @pending AND completed_at < @before",
            new { before, pending = (int)DeliveryStatus.Pending }, session.Transaction, cancellationToken: ct));
}

/// <summary>A delivery leased for an attempt, with what sending needs (the endpoint's current URL and encrypted secrets).</summary>
internal sealed record ClaimedDelivery
{
    public Guid Id { get; init; }
    public Guid WebhookId { get; init; }
    public string Body { get; init; } = "";
    public int Attempts { get; init; }
    public string Url { get; init; } = "";
    public byte[] Secret { get; init; } = [];
    public byte[]? PreviousSecret { get; init; }
    public DateTime? PreviousSecretExpiresAt { get; init; }

    /// <summary>The webhook-id header: the same on every attempt.</summary>
    public string MessageId => DeliveryIds.Format(Id);
}

/// <summary>An attempt made under lease <paramref name="Token"/>, and what it makes of its delivery.</summary>
internal sealed record Outcome(Guid Delivery, Guid Token, AttemptRow Attempt, DeliveryStatus Status, DateTime? NextAttemptAt);

/// <summary>A row of webhooks.deliveries, without its body.</summary>
internal sealed record DeliveryRow
{
    public Guid Id { get; init; }
    public Guid WebhookId { get; init; }
    public Guid EventId { get; init; }
    public string EventType { get; init; } = "";
    public int Status { get; init; }
    public int Attempts { get; init; }
    public DateTime NextAttemptAt { get; init; }
    public DateTime CreatedAt { get; init; }

    public Delivery ToContract(IEnumerable<AttemptRow> attempts) => new()
    {
        Id = DeliveryIds.Format(Id), WebhookId = WebhookId.ToString(), EventId = EventId.ToString(), EventType = EventType,
        Status = (DeliveryStatus)Status, NextAttemptAt = Status == (int)DeliveryStatus.Pending ? NextAttemptAt : null, CreatedAt = CreatedAt,
        Attempts = attempts.Select(a => a.ToContract()).ToList(),
    };
}

/// <summary>A row of webhooks.attempts.</summary>
internal sealed record AttemptRow
{
    public Guid DeliveryId { get; init; }
    public DateTime AttemptedAt { get; init; }
    public int StatusCode { get; init; }
    public int LatencyMs { get; init; }
    public bool Succeeded { get; init; }
    public string Error { get; init; } = "";

    public DeliveryAttempt ToContract() => new()
    {
        AttemptedAt = AttemptedAt, StatusCode = StatusCode, LatencyMs = LatencyMs, Succeeded = Succeeded, Error = Error,
    };
}

/// <summary>Delivery ids as receivers see them: <c>msg_</c> + the row's UUID in 32 hex digits.</summary>
internal static class DeliveryIds
{
    public static string Format(Guid id) => "msg_" + id.ToString("N");

    public static bool TryParse(string? text, out Guid id)
    {
        id = Guid.Empty;
        return text is { Length: 36 } && text.StartsWith("msg_", StringComparison.Ordinal) && Guid.TryParseExact(text[4..], "N", out id);
    }
}
