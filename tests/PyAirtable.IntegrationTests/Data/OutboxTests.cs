using Dapper;
using Npgsql;
using PyAirtable.IntegrationTests.Diagnostics;
using PyAirtable.IntegrationTests.Infrastructure;

namespace PyAirtable.IntegrationTests.Data;

/// <summary>
/// The transactional outbox, end to end: events written by a real RPC in the same transaction as
/// its state change, delivered by the host's dispatcher to a subscriber that records them.
/// </summary>
public sealed class OutboxTests : DatabasePerTest
{

    [Fact]
    public async Task Dispatcher_DiesBetweenDeliveryAndCommit_EveryEventArrivesExactlyOnceInOrder()
    {
        var handler = new RecordingOutboxHandler { StallOnSequence = 3 };
        await using var host = await TestHost.StartAsync(Database.ConnectionString, o => o.OutboxHandler = handler);
        var recorded = await RecordAsync(host, 5);

        // Event 3 is delivered (its effect written) but not committed when the dispatcher's
        // connection dies: from PostgreSQL's side, exactly what a killed process looks like.
        var dispatcherPid = await handler.Stalled.Task.WaitAsync(TimeSpan.FromSeconds(15));
        await using (var admin = new NpgsqlConnection(Database.ConnectionString))
        {
            Assert.True(await admin.ExecuteScalarAsync<bool>("SELECT pg_terminate_backend(@pid)", new { pid = dispatcherPid }));
        }

        handler.Release.SetResult();

        var received = await WaitForDeliveriesAsync(5);
        Assert.Equal(recorded, received.Select(r => r.EventId).ToArray());
        Assert.Equal(new long[] { 1, 2, 3, 4, 5 }, received.Select(r => r.Sequence).ToArray());
    }

    [Fact]
    public async Task HostStopsAfterCommitBeforeDispatch_NextHostDeliversCommittedEventsOnly()
    {
        Guid[] recorded;
        await using (var first = await TestHost.StartAsync(Database.ConnectionString, o => o.Settings["Outbox:DispatcherEnabled"] = "false"))
        {
            recorded = await RecordAsync(first, 3);
            await first.Diagnostics.RecordEventAsync(new RecordEventRequest { Name = "rolled back", Rollback = true });
        }

        Assert.Equal(3, await ScalarAsync<long>("SELECT count(*) FROM platform.outbox WHERE dispatched_at IS NULL"));

        await using var second = await TestHost.StartAsync(Database.ConnectionString, o => o.OutboxHandler = new RecordingOutboxHandler());

        var received = await WaitForDeliveriesAsync(3);
        Assert.Equal(recorded, received.Select(r => r.EventId).ToArray());
        await Task.Delay(300);
        Assert.Equal(3, await ScalarAsync<long>("SELECT count(*) FROM testing.received_events"));
    }

    [Fact]
    public async Task Handler_FailsTwice_RetriedAndLaterEventsWaitForIt()
    {
        var handler = new RecordingOutboxHandler();
        handler.FailuresBySequence[2] = 2;
        await using var host = await TestHost.StartAsync(Database.ConnectionString, o => o.OutboxHandler = handler);

        var recorded = await RecordAsync(host, 3);

        var received = await WaitForDeliveriesAsync(3);
        Assert.Equal(recorded, received.Select(r => r.EventId).ToArray());
        Assert.Equal(3, await ScalarAsync<int>("SELECT attempts FROM platform.outbox WHERE id = 2"));
        Assert.Contains(host.Logs.Entries, e => e.Message.Contains("simulated handler failure", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Handler_BreaksTheDeliveryConnection_HostKeepsServingAndEveryEventArrives()
    {
        var handler = new RecordingOutboxHandler { BreakConnectionOnSequence = 2 };
        await using var host = await TestHost.StartAsync(Database.ConnectionString, o => o.OutboxHandler = handler);

        var recorded = await RecordAsync(host, 3);

        var received = await WaitForDeliveriesAsync(3);
        Assert.Equal(recorded, received.Select(r => r.EventId).ToArray());
        var echo = await host.Diagnostics.EchoAsync(new EchoRequest { Text = "still here" });
        Assert.Equal("still here", echo.Text);
    }

    [Fact]
    public async Task Handler_AlwaysFails_EventSetAsideAfterMaxAttemptsAndOthersFlow()
    {
        var handler = new RecordingOutboxHandler();
        handler.FailuresBySequence[1] = int.MaxValue;
        await using var host = await TestHost.StartAsync(Database.ConnectionString, o =>
        {
            o.OutboxHandler = handler;
            o.Settings["Outbox:MaxAttempts"] = "3";
        });

        await RecordAsync(host, 2);

        var received = await WaitForDeliveriesAsync(1);
        Assert.Equal(2, Assert.Single(received).Sequence);
        Assert.Equal(3, await ScalarAsync<int>("SELECT attempts FROM platform.outbox WHERE id = 1 AND failed_at IS NOT NULL"));
        Assert.Single(host.Logs.TakeErrors(e => e.Message.Contains("Gave up delivering", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task TwoHostsDispatching_EachEventDeliveredOnceInCommitOrder()
    {
        await using var first = await TestHost.StartAsync(Database.ConnectionString, o => { o.Name = "first"; o.OutboxHandler = new RecordingOutboxHandler(); });
        await using var second = await TestHost.StartAsync(Database.ConnectionString, o => { o.Name = "second"; o.OutboxHandler = new RecordingOutboxHandler(); });

        var writes = Enumerable.Range(0, 40).Select(i =>
            (i % 2 == 0 ? first : second).Diagnostics.RecordEventAsync(new RecordEventRequest { Name = "item-" + i }).AsTask());
        await Task.WhenAll(writes);

        var received = await WaitForDeliveriesAsync(40);
        Assert.Equal(40, received.Select(r => r.EventId).Distinct().Count());
        Assert.Equal(received.Select(r => r.Sequence).Order().ToArray(), received.Select(r => r.Sequence).ToArray());
    }

    [Fact]
    public async Task EventDispatchedElsewhereDuringADelivery_ThatDeliveryRollsBack_NoDoubleEffect()
    {
        // A second dispatcher that got past the lock (a transaction-pooling proxy in front of PostgreSQL, say)
        // marks event 1 done while this host's delivery of it is in flight, its effect written but not committed.
        var handler = new RecordingOutboxHandler { StallOnSequence = 1 };
        await using var host = await TestHost.StartAsync(Database.ConnectionString, o => o.OutboxHandler = handler);
        await RecordAsync(host, 1);
        var dispatcherPid = await handler.Stalled.Task.WaitAsync(TimeSpan.FromSeconds(15));
        await using (var other = new NpgsqlConnection(Database.ConnectionString))
        {
            Assert.Equal(1, await other.ExecuteAsync("UPDATE platform.outbox SET dispatched_at = now() WHERE id = 1"));
        }

        handler.Release.SetResult();

        // The in-flight delivery finds the event done and rolls back: its effect is not committed a second time.
        await Eventually.TrueAsync(async () =>
        {
            await using var admin = new NpgsqlConnection(Database.ConnectionString);
            var state = await admin.ExecuteScalarAsync<string?>("SELECT state FROM pg_stat_activity WHERE pid = @dispatcherPid", new { dispatcherPid });
            return state is null or "idle";
        }, "the stalled delivery's transaction has ended");
        Assert.Equal(0, await ScalarAsync<long>("SELECT count(*) FROM testing.received_events"));
        Assert.Equal(0, await ScalarAsync<int>("SELECT attempts FROM platform.outbox WHERE id = 1"));
    }

    private static async Task<Guid[]> RecordAsync(TestHost host, int count)
    {
        var ids = new List<Guid>();
        for (var i = 0; i < count; i++)
        {
            var response = await host.Diagnostics.RecordEventAsync(new RecordEventRequest { Name = $"item-{i}" });
            ids.Add(Guid.Parse(response.EventId));
        }

        return [.. ids];
    }

    private async Task<List<Received>> WaitForDeliveriesAsync(int count)
    {
        await Eventually.TrueAsync(
            async () => await ScalarAsync<long>("SELECT count(*) FROM testing.received_events") >= count,
            $"{count} events are delivered");
        await using var connection = new NpgsqlConnection(Database.ConnectionString);
        return (await connection.QueryAsync<Received>(
            "SELECT event_id AS EventId, sequence AS Sequence FROM testing.received_events ORDER BY received_order")).ToList();
    }

    private async Task<T> ScalarAsync<T>(string sql)
    {
        await using var connection = new NpgsqlConnection(Database.ConnectionString);
        return await connection.ExecuteScalarAsync<T>(sql) ?? throw new InvalidOperationException("no value");
    }

    private sealed record Received(Guid EventId, long Sequence);
}
