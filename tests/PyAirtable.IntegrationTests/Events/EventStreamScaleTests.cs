using Dapper;
using Npgsql;
using PyAirtable.IntegrationTests.Infrastructure;
using StackExchange.Redis;
using Xunit.Abstractions;

namespace PyAirtable.IntegrationTests.Events;

/// <summary>Two hosts sharing a consumer group over a Redis of the test's own, flushed in the middle of the run.</summary>
public sealed class EventStreamScaleTests(ITestOutputHelper output) : DatabasePerTest
{
    [Fact]
    public async Task TwoHostsOneGroup_10000Events_EachHandledOnceInOrderPerAggregate_RedisFlushedMidRun()
    {
        await using var redis = await PrivateRedis.StartAsync();
        var prefix = $"scale-{Guid.NewGuid():N}:";
        var consumers = new[] { new RecordingConsumer(), new RecordingConsumer() };
        await using var first = await TestHost.StartAsync(Database.ConnectionString, o => Configure(o, "first", consumers[0]));
        await using var second = await TestHost.StartAsync(Database.ConnectionString, o => Configure(o, "second", consumers[1]));
        var writer = new EventWriter(Database.ConnectionString);
        var started = System.Diagnostics.Stopwatch.StartNew();

        var writing = writer.WriteAsync(count: 10_000, aggregates: 100, writers: 8);
        await Eventually.TrueAsync(async () => await writer.ScalarAsync("SELECT count(*) FROM testing.received_events") >= 3_000,
            "a third is handled", TimeSpan.FromSeconds(60));
        await using (var admin = await ConnectionMultiplexer.ConnectAsync(redis.ConnectionString + ",allowAdmin=true"))
        {
            await admin.GetServers()[0].FlushAllDatabasesAsync(); // streams, groups and pending lists: all gone
        }

        await writing;
        await writer.WaitForReceivedAsync(10_000, seconds: 120);
        await Task.Delay(500); // anything handled twice would show up now

        var received = await writer.ReceivedAsync();
        Assert.Equal(10_000, received.Count);
        Assert.Equal(10_000, received.Select(r => r.EventId).Distinct().Count());
        EventStreamTests.AssertInOrderPerAggregate(received);
        Assert.Equal(["first", "second"], received.Select(r => r.HostName).Distinct().Order());
        output.WriteLine($"10,000 events over 2 hosts in {started.Elapsed.TotalSeconds:F1} s; " +
                         $"redeliveries absorbed: {consumers.Sum(c => c.Duplicates)}; by host: " +
                         string.Join(", ", received.GroupBy(r => r.HostName).Select(g => $"{g.Key} {g.Count()}")));

        void Configure(TestHostOptions o, string name, RecordingConsumer consumer)
        {
            o.Name = name;
            o.Consumer = consumer;
            o.Settings["ConnectionStrings:Redis"] = redis.ConnectionString;
            o.Settings["Redis:InstanceName"] = prefix;
        }
    }

    [Fact]
    public async Task HostStoppedMidRun_TheOtherTakesOverItsPartitions_NothingLostNothingTwice()
    {
        var consumers = new[] { new RecordingConsumer(), new RecordingConsumer() };
        var prefix = $"takeover-{Guid.NewGuid():N}:";
        var first = await TestHost.StartAsync(Database.ConnectionString, o => Configure(o, "first", consumers[0]));
        await using var second = await TestHost.StartAsync(Database.ConnectionString, o => Configure(o, "second", consumers[1]));
        var writer = new EventWriter(Database.ConnectionString);

        var writing = writer.WriteAsync(count: 3_000, aggregates: 30, writers: 4);
        await Eventually.TrueAsync(async () => await writer.ScalarAsync("SELECT count(*) FROM testing.received_events WHERE host_name = 'first'") >= 300,
            "the first host is handling its share", TimeSpan.FromSeconds(60));
        await first.DisposeAsync(); // in the middle of its batches: what it handled but did not check off is redelivered

        await writing;
        await writer.WaitForReceivedAsync(3_000, seconds: 60);
        var received = await writer.ReceivedAsync();
        Assert.Equal(3_000, received.Select(r => r.EventId).Distinct().Count());
        Assert.Equal(3_000, received.Count);
        EventStreamTests.AssertInOrderPerAggregate(received);
        output.WriteLine($"takeover: redeliveries absorbed by the second host: {consumers[1].Duplicates}");

        void Configure(TestHostOptions o, string name, RecordingConsumer consumer)
        {
            o.Name = name;
            o.Consumer = consumer;
            o.Settings["Redis:InstanceName"] = prefix;
        }
    }

    [Fact]
    public async Task RedisKilledThenRestartedEmpty_ConsumersGoOnFromPostgres_NothingLostNothingTwice()
    {
        await using var redis = await PrivateRedis.StartAsync();
        var consumer = new RecordingConsumer();
        await using var host = await TestHost.StartAsync(Database.ConnectionString, o =>
        {
            o.Consumer = consumer;
            o.Settings["ConnectionStrings:Redis"] = redis.ConnectionString;
        });
        var writer = new EventWriter(Database.ConnectionString);
        await writer.WriteAsync(count: 100, aggregates: 10, writers: 2);
        await writer.WaitForReceivedAsync(100);

        await redis.KillAsync();
        await writer.WriteAsync(count: 100, aggregates: 10, writers: 2);
        await writer.WaitForReceivedAsync(200, seconds: 30); // Redis is gone: handled from PostgreSQL
        Assert.Contains(host.Logs.Entries, e => e.Message.Contains("reads PostgreSQL while Redis is unavailable", StringComparison.Ordinal));

        await redis.RestartAsync();
        await writer.WriteAsync(count: 100, aggregates: 10, writers: 2);
        await writer.WaitForReceivedAsync(300, seconds: 30);
        await Eventually.TrueAsync(() => Task.FromResult(host.Logs.Entries.Any(e => e.Message.Contains("reads Redis again", StringComparison.Ordinal))),
            "the consumer is back on Redis", TimeSpan.FromSeconds(30));
        await writer.WriteAsync(count: 100, aggregates: 10, writers: 2);
        await writer.WaitForReceivedAsync(400, seconds: 30);

        var received = await writer.ReceivedAsync();
        Assert.Equal(400, received.Count);
        Assert.Equal(400, received.Select(r => r.EventId).Distinct().Count());
        EventStreamTests.AssertInOrderPerAggregate(received);
        output.WriteLine($"redis outage: redeliveries absorbed {consumer.Duplicates}");
    }
}
