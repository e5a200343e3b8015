using Grpc.Core;
using Grpc.Health.V1;
using PyAirtable.IntegrationTests.Diagnostics;
using PyAirtable.IntegrationTests.Infrastructure;

namespace PyAirtable.IntegrationTests.Health;

public sealed class ShutdownTests : DatabasePerTest
{
    [Fact]
    public async Task Stop_ReportsNotServingLetsInFlightCallsFinishAndRefusesNewCalls()
    {
        // The drain starts once NOT_SERVING is published, which runs every health check first: on a slow box that takes
        // a while, so each step below waits for its state rather than for a fixed time.
        await using var host = await TestHost.StartAsync(Database.ConnectionString, o =>
        {
            o.Settings["Shutdown:DrainDelay"] = "00:00:03";
            o.Settings["Shutdown:Timeout"] = "00:00:20";
        });
        var inFlight = host.Diagnostics.SleepAsync(new SleepRequest { Seconds = 6, InProcess = true }).AsTask();
        await Task.Delay(300);

        var stopping = host.App.StopAsync();

        // Draining: telling balancers to go elsewhere, but still answering.
        await Eventually.TrueAsync(async () =>
            (await host.Health.CheckAsync(new HealthCheckRequest { Service = "" })).Status == HealthCheckResponse.Types.ServingStatus.NotServing,
            "the host reports NOT_SERVING", TimeSpan.FromSeconds(10));
        var answered = await host.Diagnostics.EchoAsync(new EchoRequest { Text = "draining" });
        Assert.Equal("draining", answered.Text);

        // After the drain delay: new calls refused, UNAVAILABLE so that clients retry elsewhere.
        RpcException? refused = null;
        await Eventually.TrueAsync(async () =>
        {
            try
            {
                await host.Diagnostics.EchoAsync(new EchoRequest { Text = "late" });
                return false;
            }
            catch (RpcException ex)
            {
                refused = ex;
                return true;
            }
        }, "a new call is refused", TimeSpan.FromSeconds(15));
        Assert.Equal(StatusCode.Unavailable, refused!.StatusCode);

        // The call that was running when the stop began still finishes.
        var finished = await inFlight;
        Assert.True(finished.Completed);
        await stopping;
    }
}
