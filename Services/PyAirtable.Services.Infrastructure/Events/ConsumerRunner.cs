using Microsoft.Extensions.Logging;
using Npgsql;
using PyAirtable.Contracts.Events;
using PyAirtable.Services.Infrastructure.SharedState;
using StackExchange.Redis;

namespace PyAirtable.Services.Infrastructure.Events;

/// <summary>
/// Runs one consumer on one host. With Redis, the consumer's work is split by partition: the host leases a fair share
/// of the partitions (others run on other hosts) and reads each leased partition's stream through the consumer group,
/// one event at a time, so the events of an aggregate are handled in order. Every event handled moves the checkpoint in
/// PostgreSQL; whatever Redis lost (a restart, trimming) is read back from PostgreSQL by position. Without Redis the
/// host reads every partition from PostgreSQL.
/// </summary>
internal sealed partial class ConsumerRunner(
    EventConsumerRegistration registration,
    object consumer,
    EventLog log,
    RedisEventStore? stream,
    IReadOnlyList<short> partitions,
    EventStreamOptions options,
    string owner,
    ILogger logger) : IDisposable
{
    private static readonly TimeSpan IdleCheckInterval = TimeSpan.FromSeconds(2);
    private readonly Dictionary<short, PartitionState> _held = [];
    private readonly SemaphoreSlim _wake = new(0, 1);
    private bool _paused;

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
                    if (stream is null && _held.Count == 0)
                    {
                        foreach (var part in partitions)
                        {
                            _held[part] = new PartitionState(part);
                        }
                    }
                    else if (stream is not null && DateTime.UtcNow >= nextRebalance)
                    {
                        await RebalanceAsync(stream);
                        nextRebalance = DateTime.UtcNow + options.LeaseDuration / 3;
                    }

                    foreach (var state in _held.Values.ToList())
                    {
                        worked += stream is null ? await PollPostgresAsync(state, stoppingToken) : await PollRedisAsync(stream, state, stoppingToken);
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
                catch (LeaseLostException lost)
                {
                    _held.Remove(lost.Part);
                    LogLeaseLost(logger, Name, lost.Part);
                    continue;
                }
                catch (Exception ex) when (ex is NpgsqlException or TimeoutException or System.Net.Sockets.SocketException
                                               or RedisException or SharedStateUnavailableException)
                {
                    // PostgreSQL or Redis is down: nothing is lost (the record is in PostgreSQL); start over from it when back.
                    if (!_paused)
                    {
                        _paused = true;
                        LogPaused(logger, Name, ex.GetType().Name, ex.Message);
                    }

                    foreach (var state in _held.Values)
                    {
                        state.Ready = false;
                    }

                    nextRebalance = DateTime.UtcNow;
                    await Task.Delay(TimeSpan.FromSeconds(1), stoppingToken);
                    continue;
                }

                if (worked == 0)
                {
                    var untilRebalance = nextRebalance - DateTime.UtcNow;
                    var wait = stream is null ? TimeSpan.FromMilliseconds(100) : options.ConsumerPollInterval;
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
            await LeaveAsync();
        }
    }

    /// <summary>Keeps this host's share of the partitions: renew what it holds, give back extras, take free ones.</summary>
    private async Task RebalanceAsync(RedisEventStore redis)
    {
        var live = await redis.HeartbeatAsync(Name, owner, options.LeaseDuration * 3);
        var fair = (int)Math.Ceiling(partitions.Count / (double)live);
        foreach (var part in _held.Keys.ToList())
        {
            if (!await redis.RenewAsync(Name, part, owner, options.LeaseDuration))
            {
                _held.Remove(part);
                LogLeaseLost(logger, Name, part);
            }
        }

        foreach (var part in _held.Keys.OrderDescending().Take(Math.Max(0, _held.Count - fair)).ToList())
        {
            _held.Remove(part);
            await redis.ReleaseAsync(Name, part, owner);
        }

        // Start looking at a place of this host's own, so hosts starting together do not all race for partition 0.
        var start = (int)((uint)owner.GetHashCode(StringComparison.Ordinal) % (uint)partitions.Count);
        for (var i = 0; i < partitions.Count && _held.Count < fair; i++)
        {
            var part = partitions[(start + i) % partitions.Count];
            if (!_held.ContainsKey(part) && await redis.TryAcquireAsync(Name, part, owner, options.LeaseDuration))
            {
                _held[part] = new PartitionState(part);
            }
        }
    }

    private async Task<int> PollRedisAsync(RedisEventStore redis, PartitionState state, CancellationToken ct)
    {
        var key = redis.StreamKey(state.Part);
        if (!state.Ready)
        {
            await PrepareAsync(redis, state, ct);
        }

        StreamEntry[] entries;
        try
        {
            entries = await redis.Database.StreamReadGroupAsync(key, Name, owner, StreamPosition.NewMessages, options.ConsumerBatchSize);
        }
        catch (RedisServerException ex) when (ex.Message.StartsWith("NOGROUP", StringComparison.Ordinal))
        {
            state.Ready = false; // Redis lost the group (restarted empty, flushed): rebuild it from the checkpoint
            return 1;
        }

        if (entries.Length == 0)
        {
            if (DateTime.UtcNow < state.NextIdleCheck)
            {
                return 0;
            }

            // Nothing new in Redis: anything published past the checkpoint that Redis no longer has comes from PostgreSQL.
            state.NextIdleCheck = DateTime.UtcNow + IdleCheckInterval;
            if (await ReplayedAsync(state, ct))
            {
                return 1;
            }

            return await FillFromPostgresAsync(state, maxPseq: null, maxSeq: await log.PublishedSequenceAsync(ct), ct);
        }

        await HandleEntriesAsync(redis, key, state, entries, ct);
        return entries.Length;
    }

    /// <summary>Loads the checkpoint, makes sure the group exists, and first finishes what a previous holder left pending.</summary>
    private async Task PrepareAsync(RedisEventStore redis, PartitionState state, CancellationToken ct)
    {
        var key = redis.StreamKey(state.Part);
        state.Checkpoint = await log.LoadCheckpointAsync(Name, state.Part, ct);
        try
        {
            await redis.Database.StreamCreateConsumerGroupAsync(key, Name, $"{state.Checkpoint.Seq}-0", createStream: true);
        }
        catch (RedisServerException ex) when (ex.Message.StartsWith("BUSYGROUP", StringComparison.Ordinal))
        {
            // exists: it remembers what was delivered and what is pending
        }

        var next = (RedisValue)"0-0";
        do
        {
            var claimed = await redis.Database.StreamAutoClaimAsync(key, Name, owner, 0, next, options.ConsumerBatchSize);
            await HandleEntriesAsync(redis, key, state, claimed.ClaimedEntries, ct);
            next = claimed.NextStartId;
        }
        while (next != "0-0");

        state.Ready = true;
        state.NextIdleCheck = DateTime.MinValue;
    }

    private async Task HandleEntriesAsync(RedisEventStore redis, RedisKey key, PartitionState state, StreamEntry[] entries, CancellationToken ct)
    {
        if (entries.Length == 0)
        {
            return;
        }

        foreach (var entry in entries)
        {
            var pseq = (long)entry[RedisEventStore.PositionField];
            if (pseq <= state.Checkpoint.Pseq)
            {
                continue; // handled already (read from PostgreSQL, or before a takeover)
            }

            if (pseq > state.Checkpoint.Pseq + 1)
            {
                // Redis does not have what came before (trimmed, or lost in a restart): PostgreSQL does.
                await FillFromPostgresAsync(state, maxPseq: pseq - 1, maxSeq: null, ct);
                if (state.Checkpoint.Pseq < pseq - 1)
                {
                    LogLost(logger, Name, state.Part, state.Checkpoint.Pseq + 1, pseq - 1);
                }
            }

            var envelope = ProtoBuf.Serializer.Deserialize<EventEnvelope>((ReadOnlyMemory<byte>)(byte[])entry[RedisEventStore.EnvelopeField]!);
            await HandleAsync(state, envelope, ct);
            state.Checkpoint = state.Checkpoint with { Pseq = pseq, Seq = envelope.Sequence };
        }

        await SaveAsync(state, ct);
        await redis.Database.StreamAcknowledgeAsync(key, Name, [.. entries.Select(e => e.Id)]);
    }

    private async Task<int> PollPostgresAsync(PartitionState state, CancellationToken ct)
    {
        if (!state.Ready)
        {
            state.Checkpoint = await log.LoadCheckpointAsync(Name, state.Part, ct);
            state.Ready = true;
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
        var stored = await log.LoadCheckpointAsync(Name, state.Part, ct);
        if (stored.Generation == state.Checkpoint.Generation)
        {
            return false;
        }

        state.Ready = false;
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
            state.Ready = false; // replayed meanwhile: start over from the checkpoint the replay set
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
            catch (Exception ex) when (!ct.IsCancellationRequested && ex is not LeaseLostException)
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
                await WaitHoldingLeaseAsync(state, delay, ct);
            }
        }
    }

    /// <summary>Waits out a retry delay while keeping the partition's lease, so no other host takes the event meanwhile.</summary>
    private async Task WaitHoldingLeaseAsync(PartitionState state, TimeSpan delay, CancellationToken ct)
    {
        var until = DateTime.UtcNow + delay;
        while (true)
        {
            if (stream is not null && !await stream.RenewAsync(Name, state.Part, owner, options.LeaseDuration))
            {
                throw new LeaseLostException(state.Part);
            }

            var left = until - DateTime.UtcNow;
            if (left <= TimeSpan.Zero)
            {
                return;
            }

            await Task.Delay(left < options.LeaseDuration / 3 ? left : options.LeaseDuration / 3, ct);
        }
    }

    private async Task LeaveAsync()
    {
        if (stream is null)
        {
            return;
        }

        try
        {
            // Hand the partitions over now rather than when the leases run out.
            foreach (var part in _held.Keys)
            {
                await stream.ReleaseAsync(Name, part, owner);
            }

            await stream.LeaveAsync(Name, owner);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException or SharedStateUnavailableException)
        {
            // Redis is gone: the leases expire on their own.
        }
    }

    private sealed class PartitionState(short part)
    {
        public short Part { get; } = part;

        public Checkpoint Checkpoint { get; set; } = new(part, 0, 0, 0);

        public bool Ready { get; set; }

        public DateTime NextIdleCheck { get; set; }
    }

    private sealed class LeaseLostException(short part) : Exception($"The lease on partition {part} was lost.")
    {
        public short Part { get; } = part;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Consumer {Consumer} paused: {Kind}: {Reason}")]
    private static partial void LogPaused(ILogger logger, string consumer, string kind, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Consumer {Consumer} resumed")]
    private static partial void LogResumed(ILogger logger, string consumer);

    [LoggerMessage(Level = LogLevel.Information, Message = "Consumer {Consumer} lost partition {Part} to another host")]
    private static partial void LogLeaseLost(ILogger logger, string consumer, short part);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Consumer {Consumer}: {EventType} {EventId} failed (attempt {Attempts}); retrying in {Delay}: {Error}")]
    private static partial void LogRetrying(ILogger logger, string consumer, string eventType, string eventId, int attempts, TimeSpan delay, string error);

    [LoggerMessage(Level = LogLevel.Error, Message = "Consumer {Consumer} set aside {EventType} {EventId} (seq {Sequence}) after {Attempts} attempts; see platform.event_failures")]
    private static partial void LogSetAside(ILogger logger, Exception exception, string consumer, string eventType, string eventId, long sequence, int attempts);

    [LoggerMessage(Level = LogLevel.Error, Message = "Consumer {Consumer}: events {From}..{To} of partition {Part} are gone from Redis and from PostgreSQL (past retention); skipped")]
    private static partial void LogLost(ILogger logger, string consumer, short part, long from, long to);
}
