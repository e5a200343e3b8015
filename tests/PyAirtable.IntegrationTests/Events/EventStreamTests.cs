using Dapper;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using PyAirtable.Contracts.Events;
using PyAirtable.IntegrationTests.Diagnostics;
using PyAirtable.IntegrationTests.Infrastructure;
using PyAirtable.Services.Infrastructure.Events;
using StackExchange.Redis;

namespace PyAirtable.IntegrationTests.Events;

/// <summary>
/// The event stream end to end: events written by a real RPC in the business transaction, sequenced and relayed by the
/// host to Redis Streams, handled by a consumer group; crashes, poison events, replay and single-instance mode.
/// </summary>
public sealed class EventStreamTests : DatabasePerTest
{
    private EventWriter Writer => new(Database.ConnectionString);

    [Fact]
    public async Task RpcWritesAnEvent_ConsumerGetsItTypedWithItsEnvelope_RolledBackOnesNever()
    {
        var consumer = new RecordingConsumer();
        await using var host = await TestHost.StartAsync(Database.ConnectionString, o => o.Consumer = consumer);

        var rolledBack = await host.Diagnostics.RecordEventAsync(new RecordEventRequest { Name = "never", Rollback = true });
        var written = await host.Diagnostics.RecordEventAsync(new RecordEventRequest { Name = "kept" });

        await Writer.WaitForReceivedAsync(1);
        var (envelope, data) = Assert.Single(consumer.Handled);
        Assert.Equal(written.EventId, envelope.Id);
        Assert.NotEqual(rolledBack.EventId, envelope.Id);
        Assert.Equal(EventTypes.NameOf<ItemCreated>(), envelope.Type);
        Assert.Equal("/" + TestHost.DiagnosticsServiceName, envelope.Source);
        Assert.Equal(("1.0", "application/protobuf", "item"), (envelope.SpecVersion, envelope.DataContentType, envelope.AggregateType));
        Assert.Equal(written.ItemId.ToString(System.Globalization.CultureInfo.InvariantCulture), envelope.Subject);
        Assert.Equal(1, envelope.Sequence);
        Assert.False(string.IsNullOrEmpty(envelope.RequestId));
        Assert.InRange(envelope.Time!.Value, DateTime.UtcNow.AddMinutes(-1), DateTime.UtcNow.AddSeconds(5));
        Assert.Equal(("kept", written.ItemId), (data.Name, data.ItemId));
    }

    [Fact]
    public async Task WritersOfDifferentAggregates_DoNotWaitForEachOther_WritersOfOneAggregateDo()
    {
        await using var host = await TestHost.StartAsync(Database.ConnectionString, o => o.Settings["Events:RelayEnabled"] = "false");
        var origin = new EventOrigin("/test", "", "");
        await using var first = new NpgsqlConnection(Database.ConnectionString);
        await first.OpenAsync();
        await using var open = await first.BeginTransactionAsync();
        await Outbox.EnqueueAsync(open, new ItemCreated { ItemId = 1, Aggregate = "a" }, origin, default);

        // The first transaction is still open: another aggregate goes through at once…
        await using var second = new NpgsqlConnection(Database.ConnectionString);
        await second.OpenAsync();
        await second.ExecuteAsync("SET lock_timeout = '2s'");
        await using (var tx = await second.BeginTransactionAsync())
        {
            await Outbox.EnqueueAsync(tx, new ItemCreated { ItemId = 2, Aggregate = "b" }, origin, default);
            await tx.CommitAsync();
        }

        // …while the same aggregate waits for it to commit, so its events are numbered in commit order.
        await using (var tx = await second.BeginTransactionAsync())
        {
            var wait = await Assert.ThrowsAsync<PostgresException>(() =>
                Outbox.EnqueueAsync(tx, new ItemCreated { ItemId = 3, Aggregate = "a" }, origin, default));
            Assert.Equal(PostgresErrorCodes.LockNotAvailable, wait.SqlState);
        }

        await open.CommitAsync();
    }

    [Fact]
    public async Task RelayKilledBetweenPublishAndMark_NextRoundRepublishes_NoLossNoVisibleDuplicate()
    {
        var consumer = new RecordingConsumer();
        await using var host = await TestHost.StartAsync(Database.ConnectionString, o =>
        {
            o.Consumer = consumer;
            o.Settings["Redis:InstanceName"] = $"relaycrash-{Guid.NewGuid():N}:";
        });
        var relay = host.App.Services.GetRequiredService<EventRelay>();
        var crashes = 0;
        relay.AfterPublish = _ => Interlocked.Increment(ref crashes) == 1
            ? throw new NpgsqlException("simulated: the relay died after publishing, before recording it")
            : Task.CompletedTask;

        await Writer.WriteAsync(count: 50, aggregates: 5, writers: 2);

        await Writer.WaitForReceivedAsync(50);
        // Consumers may have every event before the relay's next round records them: wait for that round.
        await Eventually.TrueAsync(async () => await Writer.ScalarAsync("SELECT published_seq FROM platform.event_relay") == 50,
            "the relay recorded what it published");
        Assert.True(crashes >= 2, "the relay crashed once and went on");
        var redis = host.App.Services.GetRequiredService<RedisEventStore>();
        long entries = 0;
        foreach (var part in Enumerable.Range(0, 8))
        {
            entries += await redis.Database.StreamLengthAsync(redis.StreamKey((short)part));
        }

        Assert.Equal(50, entries); // each event once on the stream, though published twice
        Assert.Equal(50, (await Writer.ReceivedAsync()).Select(r => r.EventId).Distinct().Count());
        Assert.Contains(host.Logs.Entries, e => e.Message.Contains("Event relay paused", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ConsumerFailsTwice_RetriedInPlace_LaterEventsOfThePartitionWait()
    {
        var consumer = new RecordingConsumer();
        consumer.FailuresBySequence[2] = 2;
        await using var host = await TestHost.StartAsync(Database.ConnectionString, o => o.Consumer = consumer);

        await Writer.WriteAsync(count: 3, aggregates: 1, writers: 1, perTransaction: 1);

        await Writer.WaitForReceivedAsync(3);
        var received = await Writer.ReceivedAsync();
        Assert.Equal([1, 2, 3], received.Select(r => r.Sequence));
        Assert.Equal(3, received.Single(r => r.Sequence == 2).Attempt);
        Assert.Equal(2, await Writer.ScalarAsync("SELECT attempts FROM platform.event_failures WHERE seq = 2 AND set_aside_at IS NULL"));
    }

    [Fact]
    public async Task PoisonEvent_SetAsideAfterMaxAttemptsWithItsError_OthersFlow()
    {
        var consumer = new RecordingConsumer();
        consumer.FailuresBySequence[2] = int.MaxValue;
        await using var host = await TestHost.StartAsync(Database.ConnectionString, o =>
        {
            o.Consumer = consumer;
            o.Settings["Events:MaxAttempts"] = "3";
        });

        await Writer.WriteAsync(count: 3, aggregates: 1, writers: 1, perTransaction: 1);

        await Writer.WaitForReceivedAsync(2);
        await Eventually.TrueAsync(async () => (await host.App.Services.GetRequiredService<EventLog>().SetAsideAsync(RecordingConsumer.Name)).Count == 1,
            "the poison event is set aside");
        var failure = Assert.Single(await host.App.Services.GetRequiredService<EventLog>().SetAsideAsync(RecordingConsumer.Name));
        Assert.Equal((2L, 3), (failure.Seq, failure.Attempts));
        Assert.Contains("simulated consumer failure for 2", failure.LastError, StringComparison.Ordinal);
        Assert.Equal([1, 3], (await Writer.ReceivedAsync()).Select(r => r.Sequence));
        Assert.Single(host.Logs.TakeErrors(e => e.Message.Contains("set aside", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task ReplayFromAnEvent_ConsumerHandlesItAndEverythingAfterAgain()
    {
        var consumer = new RecordingConsumer();
        await using var host = await TestHost.StartAsync(Database.ConnectionString, o => o.Consumer = consumer);
        await Writer.WriteAsync(count: 4, aggregates: 2, writers: 1, perTransaction: 1);
        await Writer.WaitForReceivedAsync(4);
        var third = (await Writer.ReceivedAsync()).Single(r => r.Sequence == 3).EventId;

        var from = await host.App.Services.GetRequiredService<EventLog>().ReplayFromAsync(RecordingConsumer.Name, third);

        Assert.Equal(3, from);
        await Writer.WaitForReceivedAsync(6);
        var replayed = (await Writer.ReceivedAsync()).Skip(4).Select(r => r.Sequence).Order();
        Assert.Equal([3, 4], replayed);
        Assert.Null(await host.App.Services.GetRequiredService<EventLog>().ReplayFromAsync(RecordingConsumer.Name, Guid.NewGuid()));
    }

    [Fact]
    public async Task StreamTrimmedPastANewConsumer_ItReadsTheTrimmedEventsFromPostgres_InOrder()
    {
        var prefix = $"trim-{Guid.NewGuid():N}:";
        await using (var writerHost = await TestHost.StartAsync(Database.ConnectionString, o =>
        {
            o.Settings["Redis:InstanceName"] = prefix;
            o.Settings["Events:StreamMaxLength"] = "10";
        }))
        {
            await Writer.WriteAsync(count: 1_500, aggregates: 10, writers: 4);
            await Eventually.TrueAsync(async () => await Writer.ScalarAsync("SELECT published_seq FROM platform.event_relay") == 1_500, "all relayed");
            var redis = writerHost.App.Services.GetRequiredService<RedisEventStore>();
            var kept = 0L;
            foreach (var part in Enumerable.Range(0, 8))
            {
                kept += await redis.Database.StreamLengthAsync(redis.StreamKey((short)part));
            }

            Assert.True(kept < 1_500, $"Redis trimmed the streams ({kept} entries kept)");
        }

        var consumer = new RecordingConsumer();
        await using var host = await TestHost.StartAsync(Database.ConnectionString, o =>
        {
            o.Consumer = consumer;
            o.Settings["Redis:InstanceName"] = prefix;
        });

        await Writer.WaitForReceivedAsync(1_500);
        var received = await Writer.ReceivedAsync();
        Assert.Equal(1_500, received.Select(r => r.EventId).Distinct().Count());
        AssertInOrderPerAggregate(received);
    }

    [Fact]
    public async Task ReadFromThePostgresRecord_ReturnsEveryEventInStreamOrder()
    {
        await using var host = await TestHost.StartAsync(Database.ConnectionString);
        await Writer.WriteAsync(count: 20, aggregates: 3, writers: 4, perTransaction: 2);
        await Eventually.TrueAsync(async () => await Writer.ScalarAsync("SELECT count(*) FROM platform.outbox WHERE seq IS NOT NULL") == 20, "sequenced");

        var log = host.App.Services.GetRequiredService<EventLog>();
        var all = await log.ReadAsync(0).ToListAsync();
        var tail = await log.ReadAsync(15).ToListAsync();

        Assert.Equal(Enumerable.Range(1, 20).Select(i => (long)i), all.Select(e => e.Sequence));
        Assert.Equal([16L, 17, 18, 19, 20], tail.Select(e => e.Sequence));
        Assert.Equal(20, all.Select(e => ProtoBuf.Serializer.Deserialize<ItemCreated>((ReadOnlyMemory<byte>)e.Data).ItemId).Distinct().Count());
    }

    [Fact]
    public async Task WithoutRedis_TheSameConsumerReadsFromPostgres()
    {
        var consumer = new RecordingConsumer();
        await using var host = await TestHost.StartAsync(Database.ConnectionString, o =>
        {
            o.WithRedis = false;
            o.Consumer = consumer;
        });

        await Writer.WriteAsync(count: 30, aggregates: 3, writers: 3, perTransaction: 3);

        await Writer.WaitForReceivedAsync(30);
        AssertInOrderPerAggregate(await Writer.ReceivedAsync());
        Assert.Equal(0, await Writer.ScalarAsync("SELECT published_seq FROM platform.event_relay"));
    }

    internal static void AssertInOrderPerAggregate(IEnumerable<EventWriter.Received> received)
    {
        foreach (var aggregate in received.GroupBy(r => r.Aggregate))
        {
            var sequences = aggregate.Select(r => r.Sequence).ToList();
            Assert.True(sequences.SequenceEqual(sequences.Order()), $"{aggregate.Key} was handled out of order: {string.Join(",", sequences)}");
        }
    }
}
