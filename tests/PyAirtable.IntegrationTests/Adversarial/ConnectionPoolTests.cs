using Dapper;
using Grpc.Core;
using Npgsql;
using PyAirtable.Contracts.Workspaces;
using PyAirtable.IntegrationTests.Access;
using PyAirtable.IntegrationTests.Identity;
using PyAirtable.IntegrationTests.Infrastructure;
using Xunit.Abstractions;

namespace PyAirtable.IntegrationTests.Adversarial;

/// <summary>A burst far larger than the pools: calls queue for connections; the host stays within its documented total.</summary>
public sealed class ConnectionPoolTests(ITestOutputHelper output) : DatabasePerTest
{
    [Fact]
    public async Task FourHundredConcurrentCalls_AllAnswered_WithinTheHostsConnectionBudget()
    {
        await using var host = await TestHost.StartAsync(Database.ConnectionString); // pools as shipped: 40 + 20
        var owner = await host.RegisterAsync();
        var workspace = (await host.Workspaces().CreateWorkspaceAsync(new CreateWorkspaceRequest { Name = "Busy" }, owner.Bearer)).Workspace!;

        using var sampling = new CancellationTokenSource();
        var peak = 0;
        var sampler = Task.Run(async () =>
        {
            await using var admin = new NpgsqlConnection(TestEnvironment.PostgresAdmin);
            await admin.OpenAsync();
            while (!sampling.IsCancellationRequested)
            {
                // Client connections only: an autovacuum worker in the database is not the host's (seen once at 61 under load).
                var count = await admin.ExecuteScalarAsync<int>(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = @name AND backend_type = 'client backend'", new { name = Database.Name });
                peak = Math.Max(peak, count);
                await Task.Delay(10);
            }
        });

        // Several HTTP/2 connections, so all 400 calls are in flight at once (one connection carries 100 streams).
        using var channel = Grpc.Net.Client.GrpcChannel.ForAddress(host.GrpcAddress, new Grpc.Net.Client.GrpcChannelOptions
        {
            HttpHandler = new SocketsHttpHandler { EnableMultipleHttp2Connections = true },
        });
        var workspaces = ProtoBuf.Grpc.Client.GrpcClientFactory.CreateGrpcService<IWorkspaceService>(channel);
        var outcomes = await Task.WhenAll(Enumerable.Range(0, 400).Select(async _ =>
        {
            try
            {
                await workspaces.GetWorkspaceAsync(new GetWorkspaceRequest { WorkspaceId = workspace.Id },
                    new ProtoBuf.Grpc.CallContext(owner.Bearer.CallOptions.WithDeadline(DateTime.UtcNow.AddSeconds(30))));
                return StatusCode.OK;
            }
            catch (RpcException ex)
            {
                return ex.StatusCode;
            }
        }));
        await sampling.CancelAsync();
        await sampler;

        output.WriteLine($"400 concurrent GetWorkspace: {string.Join(", ", outcomes.GroupBy(o => o).Select(g => $"{g.Key} {g.Count()}"))}; peak connections {peak}");
        Assert.All(outcomes, o => Assert.Equal(StatusCode.OK, o));
        Assert.InRange(peak, 1, 60);
    }
}
