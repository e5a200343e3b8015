using System.Diagnostics;
using Google.Rpc;
using Grpc.Core;
using Grpc.Health.V1;
using ProtoBuf.Grpc;
using ProtoBuf.Grpc.Client;
using PyAirtable.IntegrationTests.Diagnostics;
using PyAirtable.IntegrationTests.Infrastructure;

namespace PyAirtable.IntegrationTests.Gateway;

/// <summary>
/// The same service code runs in one process or split across hosts: the edge host binds
/// IDiagnosticsService to the backend host by configuration alone.
/// </summary>
public sealed class RemoteContractTests : DatabasePerTest
{
    [Fact]
    public async Task RemoteContract_CallFromAnotherHost_CarriesRequestIdAndReturnsTheBackendsAnswer()
    {
        await using var backend = await TestHost.StartAsync(Database.ConnectionString, o => o.Name = "backend");
        await using var edge = await StartEdgeAsync(backend);
        var requestId = "relay-" + Guid.NewGuid().ToString("N");

        var response = await edge.Channel.CreateGrpcService<IRelayService>().EchoAsync(new EchoRequest { Text = "through" },
            new CallContext(new CallOptions(new Metadata { { "x-request-id", requestId } })));

        Assert.Equal("through", response.Text);
        Assert.Equal(requestId, response.Metadata!.RequestId); // seen by the backend's gateway
    }

    [Fact]
    public async Task RemoteContract_BackendError_ReachesTheClientWithItsDetails()
    {
        await using var backend = await TestHost.StartAsync(Database.ConnectionString, o => o.Name = "backend");
        await using var edge = await StartEdgeAsync(backend);

        var ex = await Assert.ThrowsAsync<RpcException>(async () =>
            await edge.Channel.CreateGrpcService<IRelayService>().FailAsync(new FailRequest { Kind = FailureKind.NotFound }));

        Assert.Equal(StatusCode.NotFound, ex.StatusCode);
        Assert.Equal("ERROR_CODE_NOT_FOUND", ex.GetRpcStatus()!.GetDetail<ErrorInfo>().Reason);
    }

    [Fact]
    public async Task RemoteContract_CallersDeadline_ReachesTheBackend()
    {
        await using var backend = await TestHost.StartAsync(Database.ConnectionString, o => o.Name = "backend");
        await using var edge = await StartEdgeAsync(backend);
        var stopwatch = Stopwatch.StartNew();

        var ex = await Assert.ThrowsAsync<RpcException>(async () =>
            await edge.Channel.CreateGrpcService<IRelayService>().SleepAsync(new SleepRequest { Seconds = 20, InProcess = true },
                new CallContext(new CallOptions(deadline: DateTime.UtcNow.AddMilliseconds(500)))));

        Assert.Equal(StatusCode.DeadlineExceeded, ex.StatusCode);
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(10), $"took {stopwatch.Elapsed}");
    }

    [Fact]
    public async Task RemoteContract_IsNotServedOrListedByTheEdge()
    {
        await using var backend = await TestHost.StartAsync(Database.ConnectionString, o => o.Name = "backend");
        await using var edge = await StartEdgeAsync(backend);

        var ex = await Assert.ThrowsAsync<RpcException>(async () => await edge.Diagnostics.EchoAsync(new EchoRequest()));
        var health = await Assert.ThrowsAsync<RpcException>(async () =>
            await edge.Health.CheckAsync(new HealthCheckRequest { Service = TestHost.DiagnosticsServiceName }));

        Assert.Equal(StatusCode.Unimplemented, ex.StatusCode);
        Assert.Equal(StatusCode.NotFound, health.StatusCode);
    }

    [Fact]
    public async Task RemoteContract_BackendUnreachable_IsUnavailableWithoutTopologyDetails()
    {
        var closedPort = TestEnvironment.FreeTcpPort();
        await using var edge = await TestHost.StartAsync(Database.ConnectionString, o =>
            o.Settings[$"Remote:{TestHost.DiagnosticsServiceName}"] = $"http://127.0.0.1:{closedPort}");

        var ex = await Assert.ThrowsAsync<RpcException>(async () =>
            await edge.Channel.CreateGrpcService<IRelayService>().EchoAsync(new EchoRequest()));

        Assert.Equal(StatusCode.Unavailable, ex.StatusCode);
        Assert.DoesNotContain(closedPort.ToString(System.Globalization.CultureInfo.InvariantCulture), ex.Status.Detail, StringComparison.Ordinal);
        Assert.DoesNotContain("refused", ex.Status.Detail, StringComparison.OrdinalIgnoreCase);
        Assert.Equal("ERROR_CODE_UNAVAILABLE", ex.GetRpcStatus()!.GetDetail<ErrorInfo>().Reason);
    }

    private Task<TestHost> StartEdgeAsync(TestHost backend) =>
        TestHost.StartAsync(Database.ConnectionString, o =>
        {
            o.Name = "edge";
            o.Settings[$"Remote:{TestHost.DiagnosticsServiceName}"] = backend.GrpcAddress;
        });
}
