using Google.Rpc;
using Grpc.Core;
using ProtoBuf.Grpc.Client;
using PyAirtable.Contracts.Common;
using PyAirtable.Contracts.Health;
using PyAirtable.IntegrationTests.Infrastructure;

namespace PyAirtable.IntegrationTests.Health;

public sealed class HealthServiceTests(HostFixture hostFixture) : HostTests(hostFixture)
{
    private IHealthService Service => Fixture.Host.Channel.CreateGrpcService<IHealthService>();

    [Fact]
    public async Task Check_Host_IsServingWithEachDependency()
    {
        var response = await Service.CheckAsync(new CheckRequest());

        Assert.Equal(HealthStatus.Serving, response.Status);
        Assert.Equal(["postgres", "redis", "redis-eviction", "shutdown"], response.Dependencies.Select(d => d.Name));
        Assert.All(response.Dependencies, d => Assert.Equal(HealthStatus.Serving, d.Status));
        Assert.NotNull(response.CheckedAt);
    }

    [Fact]
    public async Task Check_OwnServiceName_IsServing()
    {
        var response = await Service.CheckAsync(new CheckRequest { Service = "pyairtable.health.v1.HealthService" });

        Assert.Equal(HealthStatus.Serving, response.Status);
        Assert.Equal("pyairtable.health.v1.HealthService", response.Service);
    }

    [Fact]
    public async Task Check_UnknownService_IsNotFound()
    {
        var ex = await Assert.ThrowsAsync<RpcException>(async () => await Service.CheckAsync(new CheckRequest { Service = "pyairtable.nope.v1.NopeService" }));

        Assert.Equal(StatusCode.NotFound, ex.StatusCode);
        Assert.Equal("ERROR_CODE_NOT_FOUND", ex.GetRpcStatus()!.GetDetail<ErrorInfo>().Reason);
    }

    [Theory]
    [InlineData("not a service name")]
    [InlineData("'; DROP TABLE users; --")]
    public async Task Check_MalformedServiceName_IsInvalidArgumentOnService(string name)
    {
        var ex = await Assert.ThrowsAsync<RpcException>(async () => await Service.CheckAsync(new CheckRequest { Service = name }));

        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        Assert.Equal("service", Assert.Single(ex.GetRpcStatus()!.GetDetail<BadRequest>().FieldViolations).Field);
    }

    [Fact]
    public async Task Check_OversizedServiceName_IsInvalidArgument()
    {
        var ex = await Assert.ThrowsAsync<RpcException>(async () => await Service.CheckAsync(new CheckRequest { Service = new string('a', 201) }));

        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
    }

    [Fact]
    public async Task Watch_SendsCurrentStatusFirst()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));

        await foreach (var update in Service.WatchAsync(new WatchRequest(), new ProtoBuf.Grpc.CallContext(new CallOptions(cancellationToken: cts.Token))))
        {
            Assert.Equal(HealthStatus.Serving, update.Health!.Status);
            break;
        }
    }
}
