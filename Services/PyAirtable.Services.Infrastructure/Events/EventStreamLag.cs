using Dapper;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;

namespace PyAirtable.Services.Infrastructure.Events;

/// <summary>
/// How far the event stream is behind, read from PostgreSQL (the record, whatever Redis holds) every
/// <see cref="EventStreamOptions.LagSampleInterval"/> and exported as gauges by the platform's metrics. Every host
/// samples the same database, so every host reports the same figures: aggregate them with <c>max</c>, not <c>sum</c>.
/// </summary>
public sealed partial class EventStreamLag(
    NpgsqlDataSource db,
    IEnumerable<EventConsumerRegistration> registrations,
    IOptions<EventStreamOptions> options,
    PlatformInfrastructureInfo info,
    ILogger<EventStreamLag> logger) : BackgroundService
{
    private readonly string[] _consumers = registrations.Select(r => r.Name).Distinct(StringComparer.Ordinal).ToArray();

    /// <summary>The latest sample; null until the first one succeeded (no gauges are reported before).</summary>
    public EventLagSample? Current { get; private set; }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var interval = options.Value.LagSampleInterval;
        if (interval <= TimeSpan.Zero)
        {
            return;
        }

        using var timer = new PeriodicTimer(interval);
        do
        {
            try
            {
                Current = await SampleAsync(stoppingToken);
            }
            catch (Exception ex) when (ex is NpgsqlException or TimeoutException && !stoppingToken.IsCancellationRequested)
            {
                // Health reports a dead database; a stale figure would look like a healthy one, so report none.
                Current = null;
                LogSampleFailed(logger, ex.Message);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    /// <summary>Reads the lag now (tests call it instead of waiting for the sampler).</summary>
    public async Task<EventLagSample> SampleAsync(CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenConnectionAsync(cancellationToken);
        // Unsequenced rows use the partial index on seq IS NULL; each consumer's next event is found through (part, pseq).
        // A consumer registered here but not yet started has no checkpoint rows: it is behind by everything kept.
        using var grid = await connection.QueryMultipleAsync(new CommandDefinition(
            """
            SELECT count(*) AS Unsequenced,
                   coalesce(extract(epoch FROM now() - min(occurred_at)), 0)::float8 AS OldestUnsequencedSeconds
              FROM platform.outbox WHERE seq IS NULL;
            SELECT last_seq - published_seq AS Unpublished FROM platform.event_relay WHERE id = 1;
            SELECT n.consumer AS Consumer,
                   sum(p.last_pseq - coalesce(c.pseq, 0))::bigint AS Events,
                   coalesce(max(extract(epoch FROM now() - o.occurred_at)), 0)::float8 AS OldestSeconds
              FROM unnest(@consumers::text[]) AS n(consumer)
              CROSS JOIN platform.event_partitions p
              LEFT JOIN platform.event_checkpoints c ON c.consumer = n.consumer AND c.part = p.part
              LEFT JOIN platform.outbox o ON o.part = p.part AND o.pseq = coalesce(c.pseq, 0) + 1 AND p.last_pseq > coalesce(c.pseq, 0)
             GROUP BY n.consumer;
            """, new { consumers = _consumers }, cancellationToken: cancellationToken));
        var outbox = await grid.ReadSingleAsync<(long Unsequenced, double OldestUnsequencedSeconds)>();
        var unpublished = await grid.ReadSingleAsync<long>();
        // Without Redis nothing publishes (consumers read PostgreSQL): the figure would only grow and mean nothing.
        var consumers = (await grid.ReadAsync<ConsumerLag>()).ToList();
        return new EventLagSample(outbox.Unsequenced, outbox.OldestUnsequencedSeconds, info.RedisConfigured ? unpublished : null, consumers);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not read the event stream's lag: {Reason}")]
    private static partial void LogSampleFailed(ILogger logger, string reason);
}

/// <param name="Unsequenced">Committed outbox rows the relay has not numbered yet.</param>
/// <param name="OldestUnsequencedSeconds">Age of the oldest of them (0 when none).</param>
/// <param name="Unpublished">Numbered events not yet known to be in Redis; null in single-instance mode (nothing publishes).</param>
/// <param name="Consumers">Per consumer registered on this host.</param>
public sealed record EventLagSample(long Unsequenced, double OldestUnsequencedSeconds, long? Unpublished, IReadOnlyList<ConsumerLag> Consumers);

/// <param name="Consumer">The consumer's name.</param>
/// <param name="Events">Events in the stream after its checkpoints, over all partitions.</param>
/// <param name="OldestSeconds">Age of the oldest event it has not handled (0 when caught up).</param>
public sealed record ConsumerLag(string Consumer, long Events, double OldestSeconds);
