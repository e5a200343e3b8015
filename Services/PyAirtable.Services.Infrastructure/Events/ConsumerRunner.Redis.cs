using PyAirtable.Contracts.Events;
using StackExchange.Redis;

namespace PyAirtable.Services.Infrastructure.Events;

/// <summary>The consumer's Redis path: the partitions' streams read through the consumer group.</summary>
internal sealed partial class ConsumerRunner
{
    /// <summary>
    /// One read of every held partition's stream (a single XREADGROUP), then the partitions' events handled side by side —
    /// each partition still one event at a time, in order.
    /// </summary>
    private async Task<int> PollRedisAsync(RedisEventStore redis, CancellationToken ct)
    {
        var states = _held.Values.ToList();
        foreach (var state in states.Where(s => !s.Ready))
        {
            await PrepareAsync(redis, state, ct);
        }

        if (states.Count == 0)
        {
            return 0;
        }

        RedisStream[] read;
        try
        {
            var positions = states.Select(s => new StreamPosition(redis.StreamKey(s.Part), StreamPosition.NewMessages)).ToArray();
            read = await redis.Database.StreamReadGroupAsync(positions, Name, owner, options.ConsumerBatchSize);
        }
        catch (RedisServerException ex) when (ex.Message.StartsWith("NOGROUP", StringComparison.Ordinal))
        {
            // Redis lost a group (restarted empty, flushed): rebuild them from the checkpoints.
            states.ForEach(s => s.Ready = false);
            return 1;
        }

        var entries = read.ToDictionary(r => r.Key.ToString(), r => r.Entries, StringComparer.Ordinal);
        // Idle partitions of this round share one read of the relay's published position.
        var published = new Lazy<Task<long>>(() => log.PublishedSequenceAsync(ct));
        var handled = await Task.WhenAll(states.Select(async state =>
        {
            var key = redis.StreamKey(state.Part);
            if (entries.GetValueOrDefault(key.ToString()) is { Length: > 0 } batch)
            {
                await HandleEntriesAsync(redis, key, state, batch, ct);
                return batch.Length;
            }

            return await IdleCheckAsync(state, published, ct);
        }));
        return handled.Sum();
    }

    /// <summary>
    /// Nothing new in Redis for the partition: now and then, look for a replay, and for events published past the
    /// checkpoint that Redis no longer has (they come from PostgreSQL).
    /// </summary>
    private async Task<int> IdleCheckAsync(PartitionState state, Lazy<Task<long>> published, CancellationToken ct)
    {
        if (DateTime.UtcNow < state.NextIdleCheck)
        {
            return 0;
        }

        state.NextIdleCheck = DateTime.UtcNow + IdleCheckInterval;
        if (await ReplayedAsync(state, ct))
        {
            return 1;
        }

        return await FillFromPostgresAsync(state, maxPseq: null, maxSeq: await published.Value, ct);
    }

    /// <summary>Loads the checkpoint, makes sure the group exists, and first finishes what a previous holder left pending.</summary>
    private async Task PrepareAsync(RedisEventStore redis, PartitionState state, CancellationToken ct)
    {
        var key = redis.StreamKey(state.Part);
        if (!state.Loaded)
        {
            state.Checkpoint = await log.LoadCheckpointAsync(Name, state.Part, ct);
            state.Loaded = true;
        }

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
}
