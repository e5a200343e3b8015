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
        await using var host = await TestHost.StartAsync(Database.ConnectionString, o =>
        {
            o.Settings["Shutdown:DrainDelay"] = "00:00:01.500";
            o.Settings["Shutdown:Timeout"] = "00:00:10";
        });
        var inFlight = host.Diagnostics.SleepAsync(new SleepRequest { Seconds = 3, InProcess = true }).AsTask();
        await Task.Delay(300);

        var stopping = host.App.StopAsync();
        await Task.Delay(300);

        // Draining: still answering, but telling balancers to go elsewhere.
        var status = await host.Health.CheckAsync(new HealthCheckRequest { Service = "" });
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.NotServing, status.Status);

        await Task.Delay(1500);
        var refused = await Assert.ThrowsAsync<RpcException>(async () => await host.Diagnostics.EchoAsync(new EchoRequest { Text = "late" }));
        Assert.Equal(StatusCode.Unavailable, refused.StatusCode);

        var finished = await inFlight;
        Assert.True(finished.Completed);
        await stopping;
    }
}
