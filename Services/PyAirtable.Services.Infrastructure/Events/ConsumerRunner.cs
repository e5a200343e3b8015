using Microsoft.Extensions.Logging;
using Npgsql;
using PyAirtable.Contracts.Events;
using PyAirtable.Services.Infrastructure.SharedState;
using StackExchange.Redis;

namespace PyAirtable.Services.Infrastructure.Events;

/// <summary>
/// Runs one consumer on one host. The consumer's work is split by partition: the host locks a fair share of the
/// partitions (<see cref="PartitionLocks"/>; other hosts take the rest) and handles each locked partition one event at a
/// time, so the events of an aggregate are handled in order. With Redis it reads a partition's stream through the
/// consumer group; every event handled moves the checkpoint in PostgreSQL, and whatever Redis lost (a restart,
/// trimming) is read back from PostgreSQL by position. Without Redis it reads the partitions from PostgreSQL.
/// </summary>
internal sealed partial class ConsumerRunner(
    EventConsumerRegistration registration,
    object consumer,
    EventLog log,
    RedisEventStore? stream,
    PartitionLocks locks,
    IReadOnlyList<short> partitions,
    EventStreamOptions options,
    string owner,
    ILogger logger) : IDisposable
{
    private static readonly TimeSpan IdleCheckInterval = TimeSpan.FromSeconds(2);
    private readonly Dictionary<short, PartitionState> _held = [];
    private readonly SemaphoreSlim _wake = new(0, 1);
    private static readonly TimeSpan RedisRetryInterval = TimeSpan.FromSeconds(5);
    private bool _paused;
    private DateTime _redisDownUntil = DateTime.MinValue;
    private bool _onPostgres;
    private int _session;

    private string Name => registration.Name;

    public void Dispose() => _wake.Dispose();

    /// <summary>New events are on the stream (the relay's signal): stop waiting.</summary>
    public void Wake()
    {
        if (_wake.CurrentCount == 0)
        {
            try
            {
                _wake.Release();
            }
            catch (SemaphoreFullException)
            {
                // woken twice at once: once is enough
            }
        }
    }

    public async Task RunAsync(CancellationToken stoppingToken)
    {
        var nextRebalance = DateTime.UtcNow;
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                var worked = 0;
                try
                {
                    if (DateTime.UtcNow >= nextRebalance)
                    {
                        await RebalanceAsync(stoppingToken);
                        nextRebalance = DateTime.UtcNow + options.RebalanceInterval;
                    }
                    else if (_held.Count > 0)
                    {
                        await locks.EnsureHeldAsync(stoppingToken); // a lost session must not go on handling
                    }

                    if (stream is not null && DateTime.UtcNow >= _redisDownUntil)
                    {
                        try
                        {
                            worked = await PollRedisAsync(stream, stoppingToken);
                            if (_onPostgres)
                            {
                                _onPostgres = false;
                                LogRedisBack(logger, Name);
                            }
                        }
                        catch (Exception ex) when (ex is RedisException or SharedStateUnavailableException or TimeoutException
                                                       && !stoppingToken.IsCancellationRequested)
                        {
                            // Redis is down or hung: the partitions are still this host's (PostgreSQL locks), and every
                            // sequenced event is in PostgreSQL, so go on from there and try Redis again in a while.
                            if (!_onPostgres)
                            {
                                _onPostgres = true;
                                LogRedisDown(logger, Name, ex.GetType().Name, ex.Message);
                            }

                            _redisDownUntil = DateTime.UtcNow + RedisRetryInterval;
                            foreach (var state in _held.Values)
                            {
                                state.Ready = false; // back on Redis: make sure of the group, take over what is pending
                            }

                            worked = 1;
                        }
                    }
                    else
                    {
                        foreach (var state in _held.Values.ToList())
                        {
                            worked += await PollPostgresAsync(state, stoppingToken);
                        }
                    }

                    if (_paused)
                    {
                        _paused = false;
                        LogResumed(logger, Name);
                    }
                }
                catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
                {
                    return;
                }
                catch (Exception ex) when (ex is NpgsqlException or TimeoutException or System.Net.Sockets.SocketException)
                {
                    // PostgreSQL is down: nothing is lost (the record is there); start over from it when it is back.
                    if (!_paused)
                    {
                        _paused = true;
                        LogPaused(logger, Name, ex.GetType().Name, ex.Message);
                    }

                    // Start over from the record: give up the partitions (ending the session frees their locks).
                    _held.Clear();
                    await locks.DisposeAsync();
                    nextRebalance = DateTime.UtcNow;
                    await Task.Delay(TimeSpan.FromSeconds(1), stoppingToken);
                    continue;
                }

                if (worked == 0)
                {
                    var untilRebalance = nextRebalance - DateTime.UtcNow;
                    var wait = stream is null || DateTime.UtcNow < _redisDownUntil ? TimeSpan.FromMilliseconds(100) : options.ConsumerPollInterval;
                    await _wake.WaitAsync(untilRebalance < wait && untilRebalance > TimeSpan.Zero ? untilRebalance : wait, stoppingToken);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // stopping
        }
        finally
        {
            // Hand the partitions over now: ending the session frees the locks.
            await locks.DisposeAsync();
        }
    }

    /// <summary>Keeps this host's fair share of the partitions: give back extras, take free ones.</summary>
    private async Task RebalanceAsync(CancellationToken ct)
    {
        var live = await locks.LiveMembersAsync(ct);
        if (locks.Session != _session)
        {
            _held.Clear(); // a new session holds none of the old locks
            _session = locks.Session;
        }

        var fair = (int)Math.Ceiling(partitions.Count / (double)Math.Max(1, live));
        foreach (var part in _held.Keys.OrderDescending().Take(Math.Max(0, _held.Count - fair)).ToList())
        {
            _held.Remove(part);
            await locks.ReleaseAsync(part, ct);
        }

        // Start looking at a place of this host's own, so hosts starting together do not all race for partition 0.
        var start = (int)((uint)owner.GetHashCode(StringComparison.Ordinal) % (uint)partitions.Count);
        for (var i = 0; i < partitions.Count && _held.Count < fair; i++)
        {
            var part = partitions[(start + i) % partitions.Count];
            if (!_held.ContainsKey(part) && await locks.TryAcquireAsync(part, ct))
            {
                _held[part] = new PartitionState(part);
                LogAcquired(logger, Name, part);
            }
        }
    }

    private async Task<int> PollPostgresAsync(PartitionState state, CancellationToken ct)
    {
        if (!state.Loaded)
        {
            state.Checkpoint = await log.LoadCheckpointAsync(Name, state.Part, ct);
            state.Loaded = true;
        }

        var handled = await FillFromPostgresAsync(state, maxPseq: null, maxSeq: null, ct);
        if (handled == 0 && DateTime.UtcNow >= state.NextIdleCheck)
        {
            state.NextIdleCheck = DateTime.UtcNow + IdleCheckInterval;
            await ReplayedAsync(state, ct);
        }

        return handled;
    }

    /// <summary>True (and the partition starts over) when a replay moved the checkpoint since it was loaded.</summary>
    private async Task<bool> ReplayedAsync(PartitionState state, CancellationToken ct)
    {
        if (await log.GenerationAsync(Name, state.Part, ct) == state.Checkpoint.Generation)
        {
            return false;
        }

        state.Ready = false;
        state.Loaded = false;
        return true;
    }

    /// <summary>Handles the partition's events after the checkpoint from PostgreSQL, up to the bounds given.</summary>
    private async Task<int> FillFromPostgresAsync(PartitionState state, long? maxPseq, long? maxSeq, CancellationToken ct)
    {
        var handled = 0;
        while (true)
        {
            var batch = await log.ReadPartitionAsync(state.Part, state.Checkpoint.Pseq, maxSeq, options.ConsumerBatchSize, ct);
            var progressed = false;
            foreach (var stored in batch)
            {
                if (maxPseq is { } max && stored.Pseq > max)
                {
                    break;
                }

                await HandleAsync(state, stored.ToEnvelope(), ct);
                state.Checkpoint = state.Checkpoint with { Pseq = stored.Pseq, Seq = stored.Seq };
                handled++;
                progressed = true;
            }

            if (progressed)
            {
                await SaveAsync(state, ct);
            }

            if (!progressed || batch.Count < options.ConsumerBatchSize || (maxPseq is { } m && state.Checkpoint.Pseq >= m))
            {
                return handled;
            }
        }
    }

    private async Task SaveAsync(PartitionState state, CancellationToken ct)
    {
        if (!await log.SaveCheckpointAsync(Name, state.Checkpoint, ct))
        {
            // replayed meanwhile: start over from the checkpoint the replay set
            state.Ready = false;
            state.Loaded = false;
        }
    }

    /// <summary>Delivers one event; retries a failure with backoff (later events of the partition wait) and sets it aside at last.</summary>
    private async Task HandleAsync(PartitionState state, EventEnvelope envelope, CancellationToken ct)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await registration.DispatchAsync(consumer, envelope, new EventContext(envelope, Name, attempt), ct);
                return;
            }
            catch (Exception ex) when (!ct.IsCancellationRequested)
            {
                var error = $"{ex.GetType().Name}: {ex.Message}";
                error = error.Length > 2000 ? error[..2000] : error;
                var attempts = await log.RecordFailureAsync(Name, envelope, error, ct);
                if (attempts >= options.MaxAttempts)
                {
                    await log.SetAsideAsync(Name, envelope.Sequence, ct);
                    LogSetAside(logger, ex, Name, envelope.Type, envelope.Id, envelope.Sequence, attempts);
                    return;
                }

                var delay = TimeSpan.FromTicks(Math.Min(options.MaxRetryDelay.Ticks, options.RetryDelay.Ticks * (1L << Math.Min(attempts - 1, 20))));
                LogRetrying(logger, Name, envelope.Type, envelope.Id, attempts, delay, error);
                await Task.Delay(delay, ct);
                await locks.EnsureHeldAsync(ct); // still this host's partition
            }
        }
    }

    private sealed class PartitionState(short part)
    {
        public short Part { get; } = part;

        public Checkpoint Checkpoint { get; set; } = new(part, 0, 0, 0);

        /// <summary>The checkpoint was read from PostgreSQL (and is kept current since).</summary>
        public bool Loaded { get; set; }

        /// <summary>The Redis side is prepared: the group exists and what a previous owner left pending is handled.</summary>
        public bool Ready { get; set; }

        public DateTime NextIdleCheck { get; set; }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Consumer {Consumer} paused: {Kind}: {Reason}")]
    private static partial void LogPaused(ILogger logger, string consumer, string kind, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Consumer {Consumer} reads PostgreSQL while Redis is unavailable: {Kind}: {Reason}")]
    private static partial void LogRedisDown(ILogger logger, string consumer, string kind, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Consumer {Consumer} reads Redis again")]
    private static partial void LogRedisBack(ILogger logger, string consumer);

    [LoggerMessage(Level = LogLevel.Information, Message = "Consumer {Consumer} resumed")]
    private static partial void LogResumed(ILogger logger, string consumer);

    [LoggerMessage(Level = LogLevel.Information, Message = "Consumer {Consumer} handles partition {Part} on this host")]
    private static partial void LogAcquired(ILogger logger, string consumer, short part);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Consumer {Consumer}: {EventType} {EventId} failed (attempt {Attempts}); retrying in {Delay}: {Error}")]
    private static partial void LogRetrying(ILogger logger, string consumer, string eventType, string eventId, int attempts, TimeSpan delay, string error);

    [LoggerMessage(Level = LogLevel.Error, Message = "Consumer {Consumer} set aside {EventType} {EventId} (seq {Sequence}) after {Attempts} attempts; see platform.event_failures")]
    private static partial void LogSetAside(ILogger logger, Exception exception, string consumer, string eventType, string eventId, long sequence, int attempts);

    [LoggerMessage(Level = LogLevel.Error, Message = "Consumer {Consumer}: events {From}..{To} of partition {Part} are gone from Redis and from PostgreSQL (past retention); skipped")]
    private static partial void LogLost(ILogger logger, string consumer, short part, long from, long to);
}
