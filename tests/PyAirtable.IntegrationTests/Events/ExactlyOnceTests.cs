using Dapper;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using PyAirtable.Contracts.Events;
using PyAirtable.IntegrationTests.Infrastructure;
using PyAirtable.Services.Infrastructure.Events;
using StackExchange.Redis;

namespace PyAirtable.IntegrationTests.Events;

/// <summary>
/// The two guards that make at-least-once delivery look like exactly once: a consumer's handled mark (a redelivery, even one
/// racing the first delivery, changes nothing) and the relay's lock (relays on several hosts never hand out a position twice).
/// </summary>
public sealed class ExactlyOnceTests : DatabasePerTest
{
    [Fact]
    public async Task ARedelivery_ChangesNothing_EvenOneRacingTheFirstDeliveryBeforeItCommits()
    {
        await using var host = await TestHost.StartAsync(Database.ConnectionString, o => o.Settings["Events:RelayEnabled"] = "false");
        var envelope = new EventEnvelope { Id = Guid.CreateVersion7().ToString(), Type = EventTypes.NameOf<Diagnostics.ItemCreated>() };

        await using var first = new NpgsqlConnection(Database.ConnectionString);
        await first.OpenAsync();
        await using var firstTx = await first.BeginTransactionAsync();
        Assert.True(await new EventContext(envelope, "testing.once", 1).FirstDeliveryAsync(firstTx, default));

        // A second host gets the same event (a takeover) while the first delivery has not committed: it waits for it…
        await using var second = new NpgsqlConnection(Database.ConnectionString);
        await second.OpenAsync();
        await using var secondTx = await second.BeginTransactionAsync();
        var racing = new EventContext(envelope, "testing.once", 1).FirstDeliveryAsync(secondTx, default);
        await Task.Delay(300);
        Assert.False(racing.IsCompleted, "the racing delivery waits for the first one's outcome");
        await firstTx.CommitAsync();

        // …and once that committed, it is told to change nothing; so is any later redelivery.
        Assert.False(await racing);
        await secondTx.CommitAsync();
        Assert.False(await DeliverAsync(envelope, "testing.once", commit: true));

        // The mark is per consumer: another consumer of the same event handles it.
        Assert.True(await DeliverAsync(envelope, "testing.other", commit: true));
    }

    [Fact]
    public async Task ADeliveryThatRolledBack_LeavesTheEventToTheNextDelivery()
    {
        await using var host = await TestHost.StartAsync(Database.ConnectionString, o => o.Settings["Events:RelayEnabled"] = "false");
        var envelope = new EventEnvelope { Id = Guid.CreateVersion7().ToString() };

        Assert.True(await DeliverAsync(envelope, "testing.once", commit: false)); // the effect failed: nothing was handled
        Assert.True(await DeliverAsync(envelope, "testing.once", commit: true));
        Assert.False(await DeliverAsync(envelope, "testing.once", commit: true));
    }

    [Fact]
    public async Task RelaysOnSeveralHostsAtOnce_HandOutEveryPositionOnce_NoneFails()
    {
        var prefix = $"relays-{Guid.NewGuid():N}:";
        await using var host = await TestHost.StartAsync(Database.ConnectionString, o =>
        {
            o.Settings["Events:RelayEnabled"] = "false"; // only the relays below run
            o.Settings["Events:RelayBatchSize"] = "7"; // many small rounds, so the relays meet often
            o.Settings["Redis:InstanceName"] = prefix;
        });
        var relays = Enumerable.Range(0, 4).Select(_ => ActivatorUtilities.CreateInstance<EventRelay>(host.App.Services)).ToList();
        var writer = new EventWriter(Database.ConnectionString);

        // Writers and four relays at the same time; every relay round must succeed (a relay that failed would back off,
        // and a conflict between relays would only show as a failed round).
        // Bounded: relays that keep finding work once the writers are done (renumbering what has a position) fail here.
        var writing = writer.WriteAsync(count: 300, aggregates: 11, writers: 3, perTransaction: 3);
        var until = DateTime.UtcNow.AddSeconds(60);
        await Task.WhenAll(relays.Select(async relay =>
        {
            var idle = 0;
            while (idle < 20)
            {
                Assert.True(DateTime.UtcNow < until, "the relays go idle once every event has a position and is published");
                var moved = await relay.RelayOnceAsync(default);
                idle = moved == 0 && writing.IsCompleted ? idle + 1 : 0;
            }
        }));
        await writing;

        Assert.Equal(300, await writer.ScalarAsync("SELECT count(*) FROM platform.outbox WHERE seq IS NOT NULL"));
        // Positions 1..300, each once, and within each partition 1..n without a gap.
        Assert.Equal(300, await writer.ScalarAsync("SELECT max(seq) FROM platform.outbox"));
        Assert.Equal(0, await writer.ScalarAsync(
            "SELECT count(*) FROM (SELECT part FROM platform.outbox GROUP BY part HAVING max(pseq) <> count(DISTINCT pseq)) gaps"));
        Assert.Equal(300, await writer.ScalarAsync("SELECT last_seq FROM platform.event_relay"));
        Assert.Equal(300, await writer.ScalarAsync("SELECT published_seq FROM platform.event_relay"));

        // Redis holds each event once, in position order on each partition stream.
        var redis = host.App.Services.GetRequiredService<RedisEventStore>();
        var ids = new List<string>();
        foreach (var part in Enumerable.Range(0, 8))
        {
            var entries = await redis.Database.StreamRangeAsync(redis.StreamKey((short)part));
            ids.AddRange(entries.Select(e => (string)e.Id!));
        }

        Assert.Equal(300, ids.Count);
        Assert.Equal(300, ids.Distinct().Count());
    }

    private async Task<bool> DeliverAsync(EventEnvelope envelope, string consumer, bool commit)
    {
        await using var connection = new NpgsqlConnection(Database.ConnectionString);
        await connection.OpenAsync();
        await using var tx = await connection.BeginTransactionAsync();
        var first = await new EventContext(envelope, consumer, 1).FirstDeliveryAsync(tx, default);
        if (commit)
        {
            await tx.CommitAsync();
        }
        else
        {
            await tx.RollbackAsync();
        }

        return first;
    }
}
