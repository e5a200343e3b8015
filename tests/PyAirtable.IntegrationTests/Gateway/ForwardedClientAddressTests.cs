using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using ProtoBuf.Grpc;
using ProtoBuf.Grpc.Client;
using PyAirtable.IntegrationTests.Adversarial;
using PyAirtable.IntegrationTests.Diagnostics;
using PyAirtable.IntegrationTests.Infrastructure;
using PyAirtable.Services.Infrastructure.Contracts;

namespace PyAirtable.IntegrationTests.Gateway;

/// <summary>
/// Who the client is behind a reverse proxy or an edge host: the address request metadata, rate limits and Login's
/// throttles count. Clients bind to 127.0.0.x addresses of their own, so the host sees real, distinct peers.
/// </summary>
public sealed class ForwardedClientAddressTests : DatabasePerTest
{
    private readonly string _redisPrefix = $"xff-{Guid.NewGuid():N}:";

    [Fact]
    public async Task AConfiguredProxy_IsBelievedAboutTheClient_AndNobodyElseIs()
    {
        await using var host = await StartAsync("host", ("ForwardedHeaders:KnownProxies", "127.0.0.2"));
        using var proxy = Adversary.ChannelFrom(host, "127.0.0.2");
        using var stranger = Adversary.ChannelFrom(host, "127.0.0.3");

        Assert.Equal("203.0.113.9", await ClientIpAsync(proxy, "198.51.100.7, 203.0.113.9")); // the proxy's own hop, not the client's words
        Assert.Equal("127.0.0.2", await ClientIpAsync(proxy, "unknown"));
        Assert.Equal("127.0.0.2", await ClientIpAsync(proxy, null));
        Assert.Equal("127.0.0.3", await ClientIpAsync(stranger, "203.0.113.9"));
    }

    [Fact]
    public async Task WithoutConfiguredProxies_TheHeaderIsIgnored()
    {
        await using var host = await StartAsync("host");
        using var client = Adversary.ChannelFrom(host, "127.0.0.2");

        Assert.Equal("127.0.0.2", await ClientIpAsync(client, "203.0.113.9"));
    }

    [Fact]
    public async Task ThroughAnEdge_TheServingHostSeesTheClientTheEdgeSaw_NotTheEdge_NorWhatTheClientClaimed()
    {
        // The backend trusts the edge (its calls come from 127.0.0.1); the edge trusts nobody, so a client's own header dies there.
        await using var backend = await StartAsync("backend", ("ForwardedHeaders:KnownProxies", "127.0.0.1"));
        var remotes = backend.App.Services.GetServices<ContractBinding>()
            .Where(b => b.IsLocal && b.ServiceName != "pyairtable.health.v1.HealthService")
            .Select(b => ($"Remote:{b.ServiceName}", backend.GrpcAddress));
        await using var edge = await StartAsync("edge", [(Topology.ServeKey, "none"), (Topology.ForwardKey, "true"), .. remotes]);
        using var first = Adversary.ChannelFrom(edge, "127.0.0.2");
        using var second = Adversary.ChannelFrom(edge, "127.0.0.3");

        Assert.Equal("127.0.0.2", await ClientIpAsync(first, null));
        Assert.Equal("127.0.0.3", await ClientIpAsync(second, "203.0.113.9"));
    }

    private Task<TestHost> StartAsync(string name, params (string Key, string Value)[] settings) =>
        TestHost.StartAsync(Database.ConnectionString, name, _redisPrefix, settings);

    private static async Task<string> ClientIpAsync(Grpc.Net.Client.GrpcChannel channel, string? forwardedFor)
    {
        var headers = new Metadata();
        if (forwardedFor is not null)
        {
            headers.Add("x-forwarded-for", forwardedFor);
        }

        var diagnostics = channel.CreateGrpcService<IDiagnosticsService>();
        var reply = await diagnostics.EchoAsync(new EchoRequest(), new CallContext(new CallOptions(headers)));
        return reply.Metadata!.ClientIp;
    }
}
