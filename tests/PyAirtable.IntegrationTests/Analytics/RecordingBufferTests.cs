using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using PyAirtable.IntegrationTests.Diagnostics;
using PyAirtable.IntegrationTests.Infrastructure;
using PyAirtable.Services.Analytics.Recording;
using PyAirtable.Services.Infrastructure.Telemetry;
using static PyAirtable.IntegrationTests.Analytics.Analytic;

namespace PyAirtable.IntegrationTests.Analytics;

/// <summary>The recording buffer: bounded, never blocking a call, drops counted, flushed on shutdown; and the switch.</summary>
public sealed class RecordingBufferTests : DatabasePerTest
{
    private const string Echo = "/" + TestHost.DiagnosticsServiceName + "/Echo";

    [Fact]
    public async Task FullBuffer_DropsAndCountsCalls_WithoutSlowingThem_AndShutdownWritesWhatItHeld()
    {
        // Room for 4 calls, and a writer that waits for 1,000 or 10 minutes: the buffer fills and stays full.
        var host = await TestHost.StartAsync(Database.ConnectionString, o =>
        {
            o.Settings["Analytics:BufferCapacity"] = "4";
            o.Settings["Analytics:BatchSize"] = "1000";
            o.Settings["Analytics:FlushInterval"] = "00:10:00";
        });
        var buffer = host.App.Services.GetRequiredService<CallBuffer>();
        try
        {
            var watch = Stopwatch.StartNew();
            for (var i = 0; i < 20; i++)
            {
                await host.Diagnostics.EchoAsync(new EchoRequest { Text = "x" });
            }

            // 20 calls through a full buffer take no longer than calls do (well under the writer's 10 minutes).
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(10), $"20 calls took {watch.Elapsed}");
            host.WaitForQuiet();
            Assert.Equal(16, buffer.Dropped);
            Assert.Equal(0, await CountCallsAsync(Database.ConnectionString));

            using var http = new HttpClient();
            var metrics = await http.GetStringAsync(new Uri(host.ProbeAddress + "/metrics"));
            Assert.Contains("pyairtable_analytics_dropped_total{", metrics, StringComparison.Ordinal);
            Assert.Contains("reason=\"buffer_full\"", metrics, StringComparison.Ordinal);
        }
        finally
        {
            await host.DisposeAsync();
        }

        // Graceful shutdown wrote the 4 it held.
        Assert.Equal(4, await CountCallsAsync(Database.ConnectionString, "endpoint = @Echo", new { Echo }));
    }

    [Fact]
    public async Task Shutdown_WritesCallsThatWereStillRunningWhenItBegan()
    {
        var host = await TestHost.StartAsync(Database.ConnectionString, o => o.Settings["Analytics:FlushInterval"] = "00:10:00");
        // pg_sleep, so the test can see the call is running (in its own database) before shutdown begins.
        var running = host.Diagnostics.SleepAsync(new SleepRequest { Seconds = 1.5 }).AsTask();
        await using (var connection = new Npgsql.NpgsqlConnection(Database.ConnectionString))
        {
            var until = DateTime.UtcNow.AddSeconds(10);
            while (await Dapper.SqlMapper.ExecuteScalarAsync<long>(connection,
                       "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE '%pg_sleep%' AND query NOT LIKE '%pg_stat_activity%' AND datname = current_database()") == 0
                   && DateTime.UtcNow < until)
            {
                await Task.Delay(20);
            }
        }

        // The server drains the call before the writer's last flush: the call is answered and recorded.
        var stopping = host.App.StopAsync();
        Assert.True((await running).Completed);
        await stopping;
        await host.DisposeAsync();

        Assert.Equal(1, await CountCallsAsync(Database.ConnectionString, "endpoint = @sleep", new { sleep = "/" + TestHost.DiagnosticsServiceName + "/Sleep" }));
    }

    [Fact]
    public async Task RecordCallsOff_RecordsNothing()
    {
        await using (var host = await TestHost.StartAsync(Database.ConnectionString, o =>
        {
            Configure(o);
            o.Settings["Analytics:RecordCalls"] = "false";
        }))
        {
            Assert.False(host.App.Services.GetRequiredService<ICallRecorder>().Enabled);
            for (var i = 0; i < 5; i++)
            {
                await host.Diagnostics.EchoAsync(new EchoRequest { Text = "x" });
            }
        }

        Assert.Equal(0, await CountCallsAsync(Database.ConnectionString));
    }

    [Fact]
    public async Task MetricsOff_CallsAreStillRecorded_AndNoScrapeEndpointIsServed()
    {
        // One middleware times calls for both the metrics and the analytics records: switching metrics off must not
        // switch recording off with it.
        await using (var host = await TestHost.StartAsync(Database.ConnectionString, o =>
        {
            Configure(o);
            o.Settings["OpenTelemetry:Metrics"] = "false";
        }))
        {
            for (var i = 0; i < 3; i++)
            {
                await host.Diagnostics.EchoAsync(new EchoRequest { Text = "x" });
            }

            using var http = new HttpClient();
            using var scrape = await http.GetAsync(new Uri(host.ProbeAddress + "/metrics"));
            Assert.NotEqual(System.Net.HttpStatusCode.OK, scrape.StatusCode);
            // Written while the host runs (every FlushInterval), not only by the flush at shutdown (tested above).
            await Eventually.TrueAsync(async () => await CountCallsAsync(Database.ConnectionString, "endpoint = @echo", new { echo = Echo }) == 3,
                "the three calls are recorded");
        }
    }
}
