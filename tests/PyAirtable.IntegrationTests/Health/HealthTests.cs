using System.Net;
using Grpc.Core;
using Grpc.Health.V1;
using PyAirtable.IntegrationTests.Infrastructure;
using static Grpc.Health.V1.HealthCheckResponse.Types;

namespace PyAirtable.IntegrationTests.Health;

/// <summary>A host on a PostgreSQL cluster of its own, which the tests stop and start.</summary>
public sealed class PrivatePostgresHostFixture : IAsyncLifetime
{
    public PrivatePostgres Postgres { get; private set; } = null!;

    public TestHost Host { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Postgres = await PrivatePostgres.StartAsync();
        Host = await TestHost.StartAsync(Postgres.ConnectionString);
    }

    public async Task DisposeAsync()
    {
        await Host.DisposeAsync();
        await Postgres.DisposeAsync();
    }
}

/// <summary>Tests in a class run one at a time; each leaves PostgreSQL running.</summary>
public sealed class HealthTests(PrivatePostgresHostFixture fixture) : IClassFixture<PrivatePostgresHostFixture>
{
#pragma warning disable IDE1006 // read like the fields they replace
    private PrivatePostgres _postgres => fixture.Postgres;

    private TestHost _host => fixture.Host;
#pragma warning restore IDE1006

    [Theory]
    [InlineData("")]
    [InlineData(TestHost.DiagnosticsServiceName)]
    public async Task Check_AllDependenciesUp_IsServing(string service)
    {
        var response = await _host.Health.CheckAsync(new HealthCheckRequest { Service = service });

        Assert.Equal(ServingStatus.Serving, response.Status);
    }

    [Fact]
    public async Task Check_UnknownService_IsNotFound()
    {
        var ex = await Assert.ThrowsAsync<RpcException>(async () =>
            await _host.Health.CheckAsync(new HealthCheckRequest { Service = "pyairtable.nope.v1.NopeService" }));

        Assert.Equal(StatusCode.NotFound, ex.StatusCode);
    }

    [Fact]
    public async Task PostgresStops_CheckWatchAndReadyzTurnNotServing_ThenServingWhenItReturns()
    {
        using var http = new HttpClient();
        using var watchCts = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        using var watch = _host.Health.Watch(new HealthCheckRequest { Service = TestHost.DiagnosticsServiceName }, cancellationToken: watchCts.Token);
        Assert.True(await watch.ResponseStream.MoveNext(watchCts.Token));
        Assert.Equal(ServingStatus.Serving, watch.ResponseStream.Current.Status);

        await _postgres.StopAsync();

        Assert.Equal(ServingStatus.NotServing, await EventuallyAsync(ServingStatus.NotServing));
        using (var ready = await http.GetAsync(new Uri(_host.ProbeAddress + "/readyz")))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        }

        using (var live = await http.GetAsync(new Uri(_host.ProbeAddress + "/healthz")))
        {
            Assert.Equal(HttpStatusCode.OK, live.StatusCode); // the process itself is fine
        }

        Assert.True(await watch.ResponseStream.MoveNext(watchCts.Token));
        Assert.Equal(ServingStatus.NotServing, watch.ResponseStream.Current.Status);

        // The detailed health says which dependency failed, without host names or server messages.
        var detailed = await ProtoBuf.Grpc.Client.GrpcClientFactory.CreateGrpcService<PyAirtable.Contracts.Health.IHealthService>(_host.Channel)
            .CheckAsync(new PyAirtable.Contracts.Health.CheckRequest());
        var postgres = Assert.Single(detailed.Dependencies, d => d.Name == "postgres");
        Assert.Equal(PyAirtable.Contracts.Common.HealthStatus.NotServing, postgres.Status);
        Assert.Equal("PostgreSQL is unreachable.", postgres.Description);

        await _postgres.RestartAsync();

        Assert.Equal(ServingStatus.Serving, await EventuallyAsync(ServingStatus.Serving));
        Assert.True(await watch.ResponseStream.MoveNext(watchCts.Token));
        Assert.Equal(ServingStatus.Serving, watch.ResponseStream.Current.Status);
        using (var ready = await http.GetAsync(new Uri(_host.ProbeAddress + "/readyz")))
        {
            Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        }

        // And calls that need the database work again.
        var echo = await _host.Diagnostics.SleepAsync(new Diagnostics.SleepRequest { Seconds = 0 });
        Assert.True(echo.Completed);
    }

    [Fact]
    public async Task PostgresDown_CallNeedingIt_IsUnavailableNotInternal()
    {
        await _postgres.StopAsync();
        try
        {
            var ex = await Assert.ThrowsAsync<RpcException>(async () =>
                await _host.Diagnostics.SleepAsync(new Diagnostics.SleepRequest { Seconds = 0 }));

            Assert.Equal(StatusCode.Unavailable, ex.StatusCode);
        }
        finally
        {
            await _postgres.RestartAsync();
            await EventuallyAsync(ServingStatus.Serving);
        }
    }

    /// <summary>Polls Check for up to 10 s ("within seconds") and returns the last status seen.</summary>
    private async Task<ServingStatus> EventuallyAsync(ServingStatus wanted)
    {
        var last = ServingStatus.Unknown;
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (DateTime.UtcNow < deadline)
        {
            last = (await _host.Health.CheckAsync(new HealthCheckRequest { Service = "" })).Status;
            if (last == wanted)
            {
                break;
            }

            await Task.Delay(200);
        }

        return last;
    }
}
