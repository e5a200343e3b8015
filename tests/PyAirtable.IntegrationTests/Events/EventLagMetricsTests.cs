using Microsoft.Extensions.DependencyInjection;
using PyAirtable.IntegrationTests.Diagnostics;
using PyAirtable.IntegrationTests.Infrastructure;
using PyAirtable.Services.Infrastructure.Events;

namespace PyAirtable.IntegrationTests.Events;

/// <summary>
/// The stream's lag as an operator sees it on <c>/metrics</c>: events waiting for the relay, and per consumer the
/// events after its checkpoints and the age of the oldest; both fall back to zero once another host catches up.
/// </summary>
public sealed class EventLagMetricsTests : DatabasePerTest
{
    [Fact]
    public async Task EventsNobodyRelaysOrHandles_ShowAsLag_UntilAHostThatDoesCatchesUp()
    {
        // One stream for the three hosts, as in a deployment. Meters are process-wide, so a host's /metrics may also show the
        // gauges of hosts of tests running beside this one: the figures are read from the idle host's sampler, the names
        // from its /metrics.
        var redisPrefix = $"lag-{Guid.NewGuid():N}:";
        // This host writes and samples but neither relays nor consumes: everything it writes stays behind.
        await using var idle = await TestHost.StartAsync(Database.ConnectionString, o =>
        {
            o.Name = "idle";
            o.Settings["Redis:InstanceName"] = redisPrefix;
            o.Settings["Events:LagSampleInterval"] = "00:00:00.100";
            o.Consumer = new RecordingConsumer();
            o.Settings["Events:RelayEnabled"] = "false";
            o.Settings["Events:ConsumersEnabled"] = "false";
        });
        for (var i = 0; i < 3; i++)
        {
            await idle.Diagnostics.RecordEventAsync(new RecordEventRequest { Name = "lag-" + i });
        }

        await Eventually.TrueAsync(() => Task.FromResult(Lag(idle).Unsequenced >= 3),
            "three events wait for the relay");
        Assert.True(Lag(idle).OldestUnsequencedSeconds > 0);
        using var http = new HttpClient();
        var exposed = await http.GetStringAsync(new Uri(idle.ProbeAddress + "/metrics"));
        foreach (var gauge in new[]
        {
            "pyairtable_events_outbox_unsequenced", "pyairtable_events_outbox_oldest_unsequenced_seconds", "pyairtable_events_stream_unpublished",
            "pyairtable_events_consumer_lag{", "pyairtable_events_consumer_oldest_unhandled_seconds{",
        })
        {
            Assert.Contains(exposed.Split('\n'), l => l.StartsWith(gauge, StringComparison.Ordinal));
        }

        // A host that relays (but does not consume either): the events get positions and the consumer's lag shows them.
        await using (await TestHost.StartAsync(Database.ConnectionString, o =>
        {
            o.Name = "relay";
            o.Settings["Redis:InstanceName"] = redisPrefix;
            o.Settings["Events:LagSampleInterval"] = "00:00:00.100";
            o.Settings["Events:ConsumersEnabled"] = "false";
        }))
        {
            await Eventually.TrueAsync(() => Task.FromResult(Lag(idle).Unsequenced == 0
                && Lag(idle, RecordingConsumer.Name).Events >= 3), "the relay numbers the events");
            Assert.True(Lag(idle, RecordingConsumer.Name).OldestSeconds > 0);
        }

        // A host that runs the consumer handles them: no lag left.
        var consumer = new RecordingConsumer();
        await using var worker = await TestHost.StartAsync(Database.ConnectionString, o =>
        {
            o.Name = "worker";
            o.Settings["Redis:InstanceName"] = redisPrefix;
            o.Settings["Events:LagSampleInterval"] = "00:00:00.100";
            o.Consumer = consumer;
        });
        await Eventually.TrueAsync(() => Task.FromResult(Lag(idle, RecordingConsumer.Name).Events == 0
            && Lag(idle, RecordingConsumer.Name).OldestSeconds == 0), "the consumer catches up");
        Assert.Equal(0, Lag(idle).Unpublished);
    }

    private static EventLagSample Lag(TestHost host) =>
        host.App.Services.GetRequiredService<EventStreamLag>().Current ?? new EventLagSample(-1, -1, -1, []);

    private static ConsumerLag Lag(TestHost host, string consumer) =>
        Lag(host).Consumers.FirstOrDefault(c => c.Consumer == consumer) ?? new ConsumerLag(consumer, -1, -1);
}
