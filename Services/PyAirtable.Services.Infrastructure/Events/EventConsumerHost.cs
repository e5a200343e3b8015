using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using StackExchange.Redis;

namespace PyAirtable.Services.Infrastructure.Events;

/// <summary>Runs this host's share of every registered event consumer (see <see cref="ConsumerRunner"/>).</summary>
public sealed partial class EventConsumerHost(
    IServiceProvider services,
    NpgsqlDataSource db,
    IEnumerable<EventConsumerRegistration> registrations,
    EventLog log,
    IOptions<EventStreamOptions> options,
    ILogger<EventConsumerHost> logger) : BackgroundService
{
    private readonly EventConsumerRegistration[] _registrations = registrations.ToArray();

    /// <summary>This host's name as a consumer in every group: unique per process, stable for its lifetime.</summary>
    public string Owner { get; } = $"{Environment.MachineName}/{Environment.ProcessId}/{Guid.NewGuid():N}"[..^24];

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (_registrations.Length == 0 || !options.Value.ConsumersEnabled)
        {
            return;
        }

        var stream = services.GetService<RedisEventStore>();
        IReadOnlyList<short> partitions;
        while (true)
        {
            try
            {
                partitions = await log.PartitionsAsync(stoppingToken);
                break;
            }
            catch (Exception ex) when (ex is NpgsqlException or TimeoutException && !stoppingToken.IsCancellationRequested)
            {
                LogWaiting(logger, ex.Message);
                await Task.Delay(TimeSpan.FromSeconds(1), stoppingToken);
            }
        }

        var runners = _registrations.Select(r => new ConsumerRunner(
            r, services.GetRequiredService(r.ConsumerType), log, stream, new PartitionLocks(db, r.Name), partitions, options.Value, Owner, logger)).ToList();
        if (stream is not null)
        {
            // The relay signals every batch it publishes; a missed signal only costs the poll interval.
            try
            {
                var subscriber = services.GetRequiredService<IConnectionMultiplexer>().GetSubscriber();
                await subscriber.SubscribeAsync(stream.WakeChannel, (_, _) => runners.ForEach(r => r.Wake()));
            }
            catch (RedisException ex)
            {
                LogNoWakeUps(logger, ex.Message);
            }
        }

        try
        {
            await Task.WhenAll(runners.Select(r => Task.Run(() => r.RunAsync(stoppingToken), CancellationToken.None)));
        }
        finally
        {
            runners.ForEach(r => r.Dispose());
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Event consumers poll without wake-ups (Redis unavailable at start): {Reason}")]
    private static partial void LogNoWakeUps(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Event consumers wait for PostgreSQL: {Reason}")]
    private static partial void LogWaiting(ILogger logger, string reason);
}
