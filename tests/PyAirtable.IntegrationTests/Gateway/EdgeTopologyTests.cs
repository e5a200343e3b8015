using Grpc.Core;
using Grpc.Health.V1;
using Microsoft.Extensions.DependencyInjection;
using ProtoBuf.Grpc.Client;
using PyAirtable.Contracts.Users;
using PyAirtable.Contracts.Workspaces;
using PyAirtable.IntegrationTests.Access;
using PyAirtable.IntegrationTests.Diagnostics;
using PyAirtable.IntegrationTests.Identity;
using PyAirtable.IntegrationTests.Infrastructure;
using PyAirtable.Services.Infrastructure.Contracts;

namespace PyAirtable.IntegrationTests.Gateway;

/// <summary>
/// The gateway-only edge: a host that serves none of the services itself (<c>Topology:Serve=none</c>) and forwards every
/// contract to the hosts that do (<c>Topology:Forward=true</c>); clients see one endpoint with the whole API.
/// </summary>
public sealed class EdgeTopologyTests : DatabasePerTest
{
    private readonly string _redisPrefix = $"edge-{Guid.NewGuid():N}:";

    [Fact]
    public async Task Edge_ServesNothingItself_AndForwardsEveryContract()
    {
        await using var backend = await TestHost.StartAsync(Database.ConnectionString, "backend", _redisPrefix, []);
        var names = backend.App.Services.GetServices<ContractBinding>().Where(b => b.IsLocal).Select(b => b.ServiceName).ToList();
        await using var edge = await TestHost.StartAsync(Database.ConnectionString, "edge", _redisPrefix,
        [
            (Topology.ServeKey, "none"), (Topology.ForwardKey, "true"),
            .. names.Where(n => n != "pyairtable.health.v1.HealthService").Select(n => ($"Remote:{n}", backend.GrpcAddress)),
        ]);

        // Nothing but health runs on the edge…
        Assert.All(edge.App.Services.GetServices<ContractBinding>().Where(b => b.IsLocal),
            b => Assert.Equal("pyairtable.health.v1.HealthService", b.ServiceName));

        // …yet a public RPC (Register, Login) and authenticated ones work through it, served by the backend.
        var user = await edge.RegisterAsync("Edge Person");
        var profile = await edge.Users().GetUserAsync(new GetUserRequest { UserId = user.UserId }, user.Bearer);
        Assert.Equal("Edge Person", profile.User!.DisplayName);
        var workspace = await edge.Workspaces().CreateWorkspaceAsync(new CreateWorkspaceRequest { Name = "Through the edge" }, user.Bearer);
        Assert.Equal("Through the edge", workspace.Workspace!.Name);

        // Streams are forwarded too, and refusals keep their status.
        var items = new List<string>();
        await foreach (var item in edge.Diagnostics.StreamAsync(new StreamRequest { Count = 3 }))
        {
            items.Add(item.Text);
        }

        Assert.Equal(["1", "2", "3"], items);
        var unauthenticated = await Assert.ThrowsAsync<RpcException>(async () =>
            await edge.Users().GetUserAsync(new GetUserRequest { UserId = user.UserId }));
        Assert.Equal(StatusCode.Unauthenticated, unauthenticated.StatusCode);

        // The edge's own health is SERVING; the services' entries are the backend's to report.
        var health = await edge.Health.CheckAsync(new HealthCheckRequest());
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, health.Status);
    }
}
