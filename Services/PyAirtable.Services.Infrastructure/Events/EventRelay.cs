using Dapper;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using PyAirtable.Services.Infrastructure.SharedState;

namespace PyAirtable.Services.Infrastructure.Events;

/// <summary>
/// Moves committed outbox rows onto the event stream. Each round, under the relay row's lock (one relay at a time across
/// hosts; the others skip the round): committed rows without a position get one — <c>seq</c>, their partition and
/// <c>pseq</c> — in the order of their outbox ids, and that commits; then every row after the last position known to be
/// in Redis is published, and that position is recorded. Positions are durable before anything is published, so a relay
/// killed between publishing and recording publishes the same entries under the same ids again, which Redis refuses as
/// already there: no loss, no visible duplicate.
/// </summary>
/// <remarks>
/// Ordering: writers of one aggregate are serialized from their insert to their commit (Outbox.EnqueueAsync), so a later
/// event of an aggregate is inserted, and becomes visible, only after the earlier one committed; both therefore get
/// increasing positions. Events of different aggregates are ordered by when the relay first saw them committed.
/// </remarks>
public sealed partial class EventRelay(
    NpgsqlDataSource db,
    OutboxNotifications notifications,
    IServiceProvider services,
    IOptions<EventStreamOptions> options,
    TimeProvider time,
    ILogger<EventRelay> logger) : BackgroundService
{
    private static readonly TimeSpan SweepInterval = TimeSpan.FromMinutes(1);
    private static readonly TimeSpan FailureBackoff = TimeSpan.FromMilliseconds(500);
    private readonly RedisEventStore? _stream = services.GetService<RedisEventStore>();
    private int _partitions;
    private bool _paused;

    /// <summary>Test hook: runs after a batch is published and before its position is recorded (a crash there).</summary>
    internal Func<long, Task>? AfterPublish { get; set; }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var settings = options.Value;
        if (!settings.RelayEnabled)
        {
            LogDisabled(logger);
            return;
        }

        var nextSweep = time.GetUtcNow();
        var listening = notifications.RunAsync(stoppingToken);
        try
        {
            await RelayUntilStoppedAsync(settings, nextSweep, stoppingToken);
        }
        finally
        {
            await listening;
        }
    }

    private async Task RelayUntilStoppedAsync(EventStreamOptions settings, DateTimeOffset nextSweep, CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            var relayed = 0;
            try
            {
                notifications.Reset(); // this round reads what they announced; a write committed during it wakes the next
                relayed = await RelayOnceAsync(stoppingToken);
                if (_paused)
                {
                    _paused = false;
                    LogResumed(logger);
                }

                if (time.GetUtcNow() >= nextSweep)
                {
                    await SweepAsync(stoppingToken);
                    nextSweep = time.GetUtcNow() + SweepInterval;
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is NpgsqlException or TimeoutException or System.Net.Sockets.SocketException
                                           or StackExchange.Redis.RedisException or SharedStateUnavailableException)
            {
                // PostgreSQL or Redis is down: every event stays in the outbox, and the next round starts where this one stopped.
                // (Sequencing goes on while only Redis is down, so consumers can read the positions from PostgreSQL.)
                if (!_paused)
                {
                    _paused = true;
                    LogPaused(logger, ex.GetType().Name, ex.Message);
                }

                relayed = -1;
            }

            try
            {
                if (relayed < 0)
                {
                    await Task.Delay(FailureBackoff, time, stoppingToken);
                }
                else if (relayed == 0)
                {
                    // An outbox commit wakes it, and so does the listener coming (back) up; until then it polls.
                    await notifications.WaitAsync(notifications.Listening ? settings.RelayIdleInterval : settings.RelayInterval, stoppingToken);
                }
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>One round: sequence what committed, publish what Redis lacks. Returns how many events were sequenced or published.</summary>
    public async Task<int> RelayOnceAsync(CancellationToken cancellationToken)
    {
        var settings = options.Value;
        await using var connection = await db.OpenConnectionAsync(cancellationToken);
        if (_partitions == 0)
        {
            _partitions = await connection.ExecuteScalarAsync<int>(new CommandDefinition(
                "SELECT count(*) FROM platform.event_partitions", cancellationToken: cancellationToken));
        }

        // One statement, so one round trip: lock the relay row (another host holding it means that host relays: skip),
        // number the next committed rows, and move the counters. The partition counters are read with a lock too: a plain
        // read sees the statement's snapshot, which predates a relay that committed while this one waited for the relay
        // row, and would hand out its positions again; a locked read (READ COMMITTED) returns the newest committed row.
        var sequenced = await connection.ExecuteAsync(new CommandDefinition(
            """
            WITH relay AS (
                SELECT last_seq FROM platform.event_relay WHERE id = 1 FOR UPDATE SKIP LOCKED
            ), batch AS (
                SELECT o.id, ((hashtext(o.aggregate_type || '/' || o.aggregate_id) & 2147483647) % @partitions)::smallint AS part
                  FROM platform.outbox o
                 WHERE o.seq IS NULL AND EXISTS (SELECT 1 FROM relay)
                 ORDER BY o.id LIMIT @limit FOR UPDATE
            ), counters AS (
                SELECT part, last_pseq FROM platform.event_partitions WHERE EXISTS (SELECT 1 FROM relay) FOR UPDATE
            ), numbered AS (
                SELECT b.id, b.part, r.last_seq + row_number() OVER (ORDER BY b.id) AS seq,
                       p.last_pseq + row_number() OVER (PARTITION BY b.part ORDER BY b.id) AS pseq
                  FROM batch b JOIN counters p ON p.part = b.part CROSS JOIN relay r
            ), parts AS (
                UPDATE platform.event_partitions p SET last_pseq = m.pseq
                  FROM (SELECT part, max(pseq) AS pseq FROM numbered GROUP BY part) m WHERE p.part = m.part
            ), bump AS (
                UPDATE platform.event_relay e SET last_seq = e.last_seq + (SELECT count(*) FROM numbered)
                 WHERE e.id = 1 AND EXISTS (SELECT 1 FROM numbered)
            )
            UPDATE platform.outbox o SET seq = n.seq, part = n.part, pseq = n.pseq FROM numbered n WHERE o.id = n.id
            """, new { partitions = _partitions, limit = settings.RelayBatchSize }, cancellationToken: cancellationToken));

        if (_stream is null)
        {
            return sequenced; // single-instance mode: consumers read the positions from PostgreSQL
        }

        await using (var tx = await connection.BeginTransactionAsync(cancellationToken))
        {
            // The relay row's lock (skipped when another host holds it) and what Redis lacks, in one round trip. A scalar
            // subquery, so PostgreSQL plans it as a constant and walks the seq index (a join would scan the whole outbox).
            var batch = (await connection.QueryAsync<StoredEvent>(new CommandDefinition(
                $"""
                WITH relay AS (SELECT published_seq FROM platform.event_relay WHERE id = 1 FOR UPDATE SKIP LOCKED)
                SELECT {StoredEvent.Columns} FROM platform.outbox
                 WHERE seq > (SELECT published_seq FROM relay) ORDER BY seq LIMIT @limit
                """, new { limit = settings.RelayBatchSize }, tx, cancellationToken: cancellationToken))).AsList();
            if (batch.Count == 0)
            {
                return sequenced;
            }

            // Holding the relay row's lock while Redis runs the script keeps publishers one at a time, so every partition
            // stream receives its entries in order.
            await _stream.PublishAsync(batch, _partitions, settings.StreamMaxLength);
            if (AfterPublish is { } hook)
            {
                await hook(batch[^1].Seq);
            }

            await connection.ExecuteAsync(new CommandDefinition(
                "UPDATE platform.event_relay SET published_seq = greatest(published_seq, @seq) WHERE id = 1",
                new { seq = batch[^1].Seq }, tx, cancellationToken: cancellationToken));
            await tx.CommitAsync(cancellationToken);
            return Math.Max(sequenced, batch.Count);
        }
    }

    /// <summary>Deletes events older than the retention that Redis already has, and consumers' records of handling them.</summary>
    private async Task SweepAsync(CancellationToken cancellationToken)
    {
        var retention = options.Value.Retention;
        await using var connection = await db.OpenConnectionAsync(cancellationToken);
        var deleted = await connection.ExecuteAsync(new CommandDefinition(
            """
            DELETE FROM platform.outbox
             WHERE occurred_at < now() - @retention AND seq IS NOT NULL
               AND (seq <= (SELECT published_seq FROM platform.event_relay WHERE id = 1) OR @singleInstance);
            DELETE FROM platform.event_handled WHERE handled_at < now() - @retention;
            """, new { retention, singleInstance = _stream is null }, cancellationToken: cancellationToken));
        if (deleted > 0)
        {
            LogSwept(logger, deleted, retention);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Event relay disabled on this host (Events:RelayEnabled=false)")]
    private static partial void LogDisabled(ILogger logger);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Event relay paused: {Kind}: {Reason}")]
    private static partial void LogPaused(ILogger logger, string kind, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Event relay resumed")]
    private static partial void LogResumed(ILogger logger);

    [LoggerMessage(Level = LogLevel.Information, Message = "Deleted {Count} rows of events older than the retention ({Retention})")]
    private static partial void LogSwept(ILogger logger, int count, TimeSpan retention);
}
