using System.Diagnostics;
using Google.Rpc;
using Grpc.Core;
using Grpc.Health.V1;
using ProtoBuf.Grpc.Client;
using PyAirtable.Contracts.Health;
using PyAirtable.IntegrationTests.Diagnostics;
using PyAirtable.IntegrationTests.Identity;
using PyAirtable.IntegrationTests.Infrastructure;

namespace PyAirtable.IntegrationTests.Gateway;

/// <summary>
/// The circuit breaker of a remote contract: the edge relays to a backend host that is stopped, the breaker opens
/// after its threshold and fails calls at once (UNAVAILABLE + RetryInfo), health shows the edge degraded, and the
/// breaker closes once the backend is back.
/// </summary>
public sealed class CircuitBreakerTests : DatabasePerTest
{
    [Fact]
    public async Task RemoteHostStopped_BreakerOpensAfterTheThreshold_FailsFast_AndClosesAfterRecovery()
    {
        var port = TestEnvironment.FreeTcpPort();
        var backendAddress = $"http://127.0.0.1:{port}";
        var backend = await StartBackendAsync(backendAddress);
        await using var edge = await TestHost.StartAsync(Database.ConnectionString, o =>
        {
            o.Name = "edge";
            o.Settings[$"Remote:{TestHost.DiagnosticsServiceName}"] = backendAddress;
            o.Settings["RemoteCalls:MinimumThroughput"] = "5";
            // Long enough that the open breaker is still open at the next call on a slow box (two RPCs later).
            o.Settings["RemoteCalls:BreakDuration"] = "00:00:05";
        });
        var admin = await edge.RegisterAdminAsync(Database.ConnectionString);
        var relay = edge.Channel.CreateGrpcService<IRelayService>();
        var health = edge.Channel.CreateGrpcService<IHealthService>();
        async Task<CircuitBreakerInfo> BreakerAsync() =>
            Assert.Single((await health.ListCircuitBreakersAsync(new ListCircuitBreakersRequest(), admin.Bearer)).Breakers);

        await relay.EchoAsync(new EchoRequest { Text = "up" });
        var closed = await BreakerAsync();
        Assert.Equal((TestHost.DiagnosticsServiceName, CircuitBreakerState.Closed, 0), (closed.Service, closed.State, closed.FailureCount));

        await backend.DisposeAsync();
        // 1 success + 3 failures: below the minimum throughput of 5, the breaker stays closed and counts.
        for (var i = 0; i < 3; i++)
        {
            Assert.Null(CircuitCause(await FailAsync(relay)));
        }

        Assert.Equal((CircuitBreakerState.Closed, 3), ((await BreakerAsync()).State, (await BreakerAsync()).FailureCount));

        // The 5th call fails too (ratio 4/5 ≥ 0.5): the breaker opens.
        var beforeOpen = DateTime.UtcNow;
        Assert.Null(CircuitCause(await FailAsync(relay)));
        var open = await BreakerAsync();
        Assert.Equal((CircuitBreakerState.Open, 4), (open.State, open.FailureCount));
        Assert.NotNull(open.NextAttempt);
        Assert.InRange(open.NextAttempt!.Value, beforeOpen, DateTime.UtcNow.AddSeconds(5.5));

        // Open: the next call fails at once, saying when to retry.
        var stopwatch = Stopwatch.StartNew();
        var fast = await FailAsync(relay);
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(3), $"took {stopwatch.Elapsed}");
        Assert.Equal("circuit_open", CircuitCause(fast));
        Assert.InRange(fast.GetRpcStatus()!.GetDetail<RetryInfo>().RetryDelay.ToTimeSpan(), TimeSpan.FromMilliseconds(1), TimeSpan.FromSeconds(5));

        // Health: still SERVING (what needs no backend works), but degraded.
        await Eventually.TrueAsync(async () => (await health.CheckAsync(new CheckRequest())).Degraded, "health shows the edge degraded");
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, (await edge.Health.CheckAsync(new HealthCheckRequest())).Status);

        // The backend returns: after the break one trial call goes through and the breaker closes.
        await using var again = await StartBackendAsync(backendAddress);
        await Eventually.TrueAsync(async () =>
        {
            try
            {
                await relay.EchoAsync(new EchoRequest { Text = "back" });
                return true;
            }
            catch (RpcException ex) when (ex.StatusCode == StatusCode.Unavailable)
            {
                await Task.Delay(200);
                return false;
            }
        }, "the relay works again", TimeSpan.FromSeconds(30));
        var recovered = await BreakerAsync();
        Assert.Equal((CircuitBreakerState.Closed, 0, (DateTime?)null), (recovered.State, recovered.FailureCount, recovered.NextAttempt));
        await Eventually.TrueAsync(async () => !(await health.CheckAsync(new CheckRequest())).Degraded, "health no longer degraded");
    }

    [Fact]
    public async Task ListCircuitBreakers_WithoutAdminCredentials_IsRefused()
    {
        await using var host = await TestHost.StartAsync(Database.ConnectionString);
        var user = await host.RegisterAsync();
        var health = host.Channel.CreateGrpcService<IHealthService>();

        var anonymous = await Assert.ThrowsAsync<RpcException>(async () =>
            await health.ListCircuitBreakersAsync(new ListCircuitBreakersRequest()));
        var plain = await Assert.ThrowsAsync<RpcException>(async () =>
            await health.ListCircuitBreakersAsync(new ListCircuitBreakersRequest(), user.Bearer));

        Assert.Equal(StatusCode.Unauthenticated, anonymous.StatusCode);
        Assert.Equal(StatusCode.PermissionDenied, plain.StatusCode);
    }

    private Task<TestHost> StartBackendAsync(string address) => TestHost.StartAsync(Database.ConnectionString, o =>
    {
        o.Name = "backend";
        o.Settings["Kestrel:Endpoints:Grpc:Url"] = address;
    });

    private static async Task<RpcException> FailAsync(IRelayService relay)
    {
        var ex = await Assert.ThrowsAsync<RpcException>(async () => await relay.EchoAsync(new EchoRequest { Text = "down" }));
        Assert.Equal(StatusCode.Unavailable, ex.StatusCode);
        return ex;
    }

    private static string? CircuitCause(RpcException ex) =>
        ex.GetRpcStatus()?.GetDetail<ErrorInfo>()?.Metadata.TryGetValue("cause", out var cause) == true ? cause : null;
}
