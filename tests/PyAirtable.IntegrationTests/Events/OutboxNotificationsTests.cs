using Dapper;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using PyAirtable.IntegrationTests.Infrastructure;
using PyAirtable.Services.Infrastructure.Events;

namespace PyAirtable.IntegrationTests.Events;

/// <summary>
/// An idle relay waits for outbox writes to commit (PostgreSQL notifications) instead of polling: an event is relayed when
/// it commits, and a relay whose listening connection dies listens again and relays what committed meanwhile.
/// </summary>
public sealed class OutboxNotificationsTests : DatabasePerTest
{
    // Were the relay polling, it would look again only after 30 s: every event below is relayed long before.
    private static readonly TimeSpan Soon = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task AnIdleRelay_RelaysAnEventWhenItCommits_NotAtItsNextLook()
    {
        await using var host = await StartQuietRelayAsync();

        await WriteEventAsync();

        await Eventually.TrueAsync(async () => await RelayedAsync() == 1, "the committed event has a position", Soon);
    }

    [Fact]
    public async Task ARelayWhoseListeningConnectionIsKilled_ListensAgain_AndRelaysWhatCommittedMeanwhile()
    {
        await using var host = await StartQuietRelayAsync();
        var notifications = host.App.Services.GetRequiredService<OutboxNotifications>();

        await using (var admin = new NpgsqlConnection(Database.ConnectionString))
        {
            var killed = await admin.ExecuteScalarAsync<int>(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = current_database() AND query = @listen",
                new { listen = $"LISTEN {OutboxNotifications.Channel}" });
            Assert.Equal(1, killed);
        }

        await WriteEventAsync(); // committed while nobody may be listening

        await Eventually.TrueAsync(async () => await RelayedAsync() == 1, "the event committed meanwhile has a position", Soon);
        await Eventually.TrueAsync(() => Task.FromResult(notifications.Listening), "the relay listens again", Soon);
        await WriteEventAsync();
        await Eventually.TrueAsync(async () => await RelayedAsync() == 2, "the next event is relayed when it commits", Soon);
    }

    private async Task<TestHost> StartQuietRelayAsync()
    {
        var host = await TestHost.StartAsync(Database.ConnectionString, o =>
        {
            o.Settings["Events:RelayInterval"] = "00:00:30";
            o.Settings["Events:RelayIdleInterval"] = "00:00:30";
        });
        var notifications = host.App.Services.GetRequiredService<OutboxNotifications>();
        await Eventually.TrueAsync(() => Task.FromResult(notifications.Listening), "the relay listens", Soon);
        await Task.Delay(TimeSpan.FromMilliseconds(300)); // its first round found nothing: it is waiting now
        return host;
    }

    private Task WriteEventAsync() => new EventWriter(Database.ConnectionString).WriteAsync(count: 1, aggregates: 1, writers: 1, perTransaction: 1);

    private async Task<long> RelayedAsync()
    {
        await using var connection = new NpgsqlConnection(Database.ConnectionString);
        return await connection.ExecuteScalarAsync<long>("SELECT count(*) FROM platform.outbox WHERE seq IS NOT NULL");
    }
}
