using System.Runtime.CompilerServices;
using Dapper;
using Npgsql;
using PyAirtable.Contracts.Events;

namespace PyAirtable.Services.Infrastructure.Events;

/// <summary>An event as PostgreSQL keeps it, with its stream position.</summary>
public sealed record StoredEvent(
    long Seq, short Part, long Pseq, Guid EventId, string EventType, string AggregateType, string AggregateId, byte[] Payload,
    string? RequestId, string Source, string WorkspaceId, string ActorId, DateTime OccurredAt)
{
    internal const string Columns =
        "seq AS Seq, part AS Part, pseq AS Pseq, event_id AS EventId, event_type AS EventType, aggregate_type AS AggregateType, " +
        "aggregate_id AS AggregateId, payload AS Payload, request_id AS RequestId, source AS Source, workspace_id AS WorkspaceId, " +
        "actor_id AS ActorId, occurred_at AS OccurredAt";

    public EventEnvelope ToEnvelope() => new()
    {
        Id = EventId.ToString(), Source = Source, SpecVersion = "1.0", DataContentType = "application/protobuf", Type = EventType, Time = DateTime.SpecifyKind(OccurredAt, DateTimeKind.Utc),
        Subject = AggregateId, Data = Payload, Sequence = Seq, AggregateType = AggregateType, WorkspaceId = WorkspaceId,
        ActorId = ActorId, RequestId = RequestId ?? "",
    };
}

/// <summary>Where a consumer stands in one partition: every event up to <see cref="Pseq"/> is handled or set aside.</summary>
public sealed record Checkpoint(short Part, long Pseq, long Seq, int Generation);

/// <summary>
/// The event stream's record in PostgreSQL (platform.outbox once sequenced): replay by position or event id, the
/// consumers' checkpoints and failures. Redis Streams carry the same events as a fast path.
/// </summary>
public sealed class EventLog(NpgsqlDataSource db)
{
    /// <summary>Events after <paramref name="afterSequence"/> in stream order (retention permitting); 0 reads from the oldest kept.</summary>
    public async IAsyncEnumerable<EventEnvelope> ReadAsync(long afterSequence, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        while (true)
        {
            await using var connection = await db.OpenConnectionAsync(cancellationToken);
            var batch = (await connection.QueryAsync<StoredEvent>(new CommandDefinition(
                $"SELECT {StoredEvent.Columns} FROM platform.outbox WHERE seq > @afterSequence ORDER BY seq LIMIT 500",
                new { afterSequence }, cancellationToken: cancellationToken))).AsList();
            await connection.CloseAsync();
            foreach (var stored in batch)
            {
                yield return stored.ToEnvelope();
            }

            if (batch.Count < 500)
            {
                yield break;
            }

            afterSequence = batch[^1].Seq;
        }
    }

    /// <summary>
    /// Makes <paramref name="consumer"/> handle again every event from <paramref name="eventId"/> on (that event included):
    /// its checkpoints move back, its record of handled events from there is forgotten, and its runners start over on
    /// every host. Returns the event's position; NotFound-style null when the event is not (or no longer) kept.
    /// </summary>
    public async Task<long?> ReplayFromAsync(string consumer, Guid eventId, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(consumer);
        await using var connection = await db.OpenConnectionAsync(cancellationToken);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken);
        var seq = await connection.ExecuteScalarAsync<long?>(new CommandDefinition(
            "SELECT seq FROM platform.outbox WHERE event_id = @eventId", new { eventId }, tx, cancellationToken: cancellationToken));
        if (seq is null)
        {
            return null;
        }

        await connection.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO platform.event_checkpoints (consumer, part, pseq, seq, generation)
            SELECT @consumer, p.part,
                   coalesce((SELECT max(o.pseq) FROM platform.outbox o WHERE o.part = p.part AND o.seq < @seq), 0),
                   coalesce((SELECT max(o.seq) FROM platform.outbox o WHERE o.part = p.part AND o.seq < @seq), 0), 1
              FROM platform.event_partitions p
            ON CONFLICT (consumer, part) DO UPDATE
               SET pseq = least(event_checkpoints.pseq, excluded.pseq), seq = least(event_checkpoints.seq, excluded.seq),
                   generation = event_checkpoints.generation + 1, updated_at = now();
            DELETE FROM platform.event_handled h USING platform.outbox o
             WHERE h.consumer = @consumer AND o.event_id = h.event_id AND o.seq >= @seq;
            DELETE FROM platform.event_failures WHERE consumer = @consumer AND seq >= @seq;
            """, new { consumer, seq }, tx, cancellationToken: cancellationToken));
        await tx.CommitAsync(cancellationToken);
        return seq;
    }

    /// <summary>Events set aside by <paramref name="consumer"/> after failing too often, with their last error.</summary>
    public async Task<IReadOnlyList<EventFailure>> SetAsideAsync(string consumer, CancellationToken cancellationToken = default)
    {
        await using var connection = await db.OpenConnectionAsync(cancellationToken);
        return (await connection.QueryAsync<EventFailure>(new CommandDefinition(
            """
            SELECT seq AS Seq, event_id AS EventId, event_type AS EventType, attempts AS Attempts, last_error AS LastError
              FROM platform.event_failures WHERE consumer = @consumer AND set_aside_at IS NOT NULL ORDER BY seq
            """, new { consumer }, cancellationToken: cancellationToken))).AsList();
    }

    internal async Task<Checkpoint> LoadCheckpointAsync(string consumer, short part, CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenConnectionAsync(cancellationToken);
        return await connection.QuerySingleAsync<Checkpoint>(new CommandDefinition(
            """
            INSERT INTO platform.event_checkpoints (consumer, part, pseq, seq) VALUES (@consumer, @part, 0, 0)
            ON CONFLICT (consumer, part) DO UPDATE SET consumer = excluded.consumer
            RETURNING part AS Part, pseq AS Pseq, seq AS Seq, generation AS Generation
            """, new { consumer, part }, cancellationToken: cancellationToken));
    }

    /// <summary>The replay generation of a consumer's partition (read only: checked while a runner idles).</summary>
    internal async Task<int> GenerationAsync(string consumer, short part, CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenConnectionAsync(cancellationToken);
        return await connection.ExecuteScalarAsync<int>(new CommandDefinition(
            "SELECT coalesce((SELECT generation FROM platform.event_checkpoints WHERE consumer = @consumer AND part = @part), 0)",
            new { consumer, part }, cancellationToken: cancellationToken));
    }

    /// <returns>False when a replay moved the checkpoint meanwhile (another generation): the runner must start over.</returns>
    internal async Task<bool> SaveCheckpointAsync(string consumer, Checkpoint checkpoint, CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenConnectionAsync(cancellationToken);
        return await connection.ExecuteAsync(new CommandDefinition(
            """
            UPDATE platform.event_checkpoints SET pseq = @Pseq, seq = @Seq, updated_at = now()
             WHERE consumer = @consumer AND part = @Part AND generation = @Generation AND pseq <= @Pseq
            """, new { consumer, checkpoint.Part, checkpoint.Pseq, checkpoint.Seq, checkpoint.Generation },
            cancellationToken: cancellationToken)) == 1;
    }

    /// <summary>Sequenced events of a partition after <paramref name="afterPseq"/>, up to <paramref name="maxSeq"/> (null: all).</summary>
    internal async Task<IReadOnlyList<StoredEvent>> ReadPartitionAsync(short part, long afterPseq, long? maxSeq, int limit, CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenConnectionAsync(cancellationToken);
        return (await connection.QueryAsync<StoredEvent>(new CommandDefinition(
            $"""
            SELECT {StoredEvent.Columns} FROM platform.outbox
             WHERE part = @part AND pseq > @afterPseq AND (@maxSeq::bigint IS NULL OR seq <= @maxSeq)
             ORDER BY pseq LIMIT @limit
            """, new { part, afterPseq, maxSeq, limit }, cancellationToken: cancellationToken))).AsList();
    }

    /// <summary>The last position the relay confirmed in Redis.</summary>
    internal async Task<long> PublishedSequenceAsync(CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenConnectionAsync(cancellationToken);
        return await connection.ExecuteScalarAsync<long>(new CommandDefinition(
            "SELECT published_seq FROM platform.event_relay WHERE id = 1", cancellationToken: cancellationToken));
    }

    internal async Task<IReadOnlyList<short>> PartitionsAsync(CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenConnectionAsync(cancellationToken);
        return (await connection.QueryAsync<short>(new CommandDefinition(
            "SELECT part FROM platform.event_partitions ORDER BY part", cancellationToken: cancellationToken))).AsList();
    }

    /// <returns>The attempts so far, this one included.</returns>
    internal async Task<int> RecordFailureAsync(string consumer, EventEnvelope envelope, string error, CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenConnectionAsync(cancellationToken);
        return await connection.ExecuteScalarAsync<int>(new CommandDefinition(
            """
            INSERT INTO platform.event_failures AS f (consumer, seq, event_id, event_type, attempts, last_error)
            VALUES (@consumer, @Sequence, @eventId, @Type, 1, @error)
            ON CONFLICT (consumer, seq) DO UPDATE SET attempts = f.attempts + 1, last_error = excluded.last_error, failed_at = now()
            RETURNING attempts
            """, new { consumer, envelope.Sequence, eventId = Guid.Parse(envelope.Id), envelope.Type, error },
            cancellationToken: cancellationToken));
    }

    internal async Task SetAsideAsync(string consumer, long seq, CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenConnectionAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition(
            "UPDATE platform.event_failures SET set_aside_at = now() WHERE consumer = @consumer AND seq = @seq",
            new { consumer, seq }, cancellationToken: cancellationToken));
    }
}

/// <summary>An event a consumer gave up on, kept with its last error.</summary>
public sealed record EventFailure(long Seq, Guid EventId, string EventType, int Attempts, string LastError);
