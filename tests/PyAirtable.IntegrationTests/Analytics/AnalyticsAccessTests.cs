using Grpc.Core;
using ProtoBuf.Grpc;
using PyAirtable.Contracts.Analytics;
using PyAirtable.Contracts.Auth;
using PyAirtable.Contracts.Permissions;
using PyAirtable.Contracts.Workspaces;
using PyAirtable.IntegrationTests.Access;
using PyAirtable.IntegrationTests.Identity;
using PyAirtable.IntegrationTests.Infrastructure;
using static PyAirtable.IntegrationTests.Analytics.Analytic;

namespace PyAirtable.IntegrationTests.Analytics;

/// <summary>Who sees which metrics, and what IngestMetrics refuses.</summary>
public sealed class AnalyticsAccessTests(AnalyticsFixture fixture) : IClassFixture<AnalyticsFixture>, IDisposable
{
    private TestHost Host => fixture.Host;

    public void Dispose() => fixture.AssertNoUnexpectedErrors();

    [Fact]
    public async Task QueryMetrics_OwnerSeesOwnWorkspaceOnly_OthersDenied_AdminSeesAll()
    {
        var owner = await Host.RegisterAsync();
        var other = await Host.RegisterAsync();
        var reader = await Host.RegisterAsync();
        var admin = await Host.RegisterAdminAsync(fixture.Database.ConnectionString);
        var mine = await Host.CreateWorkspaceAsync(owner.Bearer);
        var theirs = await Host.CreateWorkspaceAsync(other.Bearer);
        reader = await Host.JoinAsync(owner, reader, mine, PermissionLevel.Read);
        var endpoint = "/ext/" + Guid.NewGuid().ToString("N");
        await Host.Analytics().IngestMetricsAsync(Stream(new IngestMetricsRequest { Metrics = [Metric(endpoint, workspaceId: mine), Metric(endpoint, workspaceId: mine)] }), owner.Bearer);
        await Host.Analytics().IngestMetricsAsync(Stream(new IngestMetricsRequest { Metrics = [Metric(endpoint, workspaceId: theirs)] }), other.Bearer);
        var analytics = Host.Analytics();

        // The owner: their workspace, not another's, not everyone's.
        Assert.Equal(2, (await analytics.QueryMetricsAsync(Recent(mine, endpoint), owner.Bearer)).Total!.Count);
        AssertDenied(await Assert.ThrowsAsync<RpcException>(async () => await analytics.QueryMetricsAsync(Recent(theirs, endpoint), owner.Bearer)));
        AssertDenied(await Assert.ThrowsAsync<RpcException>(async () => await analytics.QueryMetricsAsync(Recent("", endpoint), owner.Bearer)));
        // A member who does not own it, and a workspace that does not exist: denied alike.
        AssertDenied(await Assert.ThrowsAsync<RpcException>(async () => await analytics.QueryMetricsAsync(Recent(mine, endpoint), reader.Bearer)));
        AssertDenied(await Assert.ThrowsAsync<RpcException>(async () => await analytics.QueryMetricsAsync(Recent(Guid.NewGuid().ToString(), endpoint), owner.Bearer)));
        // Without credentials: UNAUTHENTICATED.
        Assert.Equal(StatusCode.Unauthenticated, (await Assert.ThrowsAsync<RpcException>(async () =>
            await analytics.QueryMetricsAsync(Recent(mine, endpoint)))).StatusCode);

        // An admin: any workspace, and all of them.
        Assert.Equal(1, (await analytics.QueryMetricsAsync(Recent(theirs, endpoint), admin.Bearer)).Total!.Count);
        Assert.Equal(3, (await analytics.QueryMetricsAsync(Recent("", endpoint), admin.Bearer)).Total!.Count);

        // The tail follows the same rules.
        AssertDenied(await Assert.ThrowsAsync<RpcException>(async () =>
        {
            await foreach (var _ in analytics.TailMetricsAsync(new TailMetricsRequest { WorkspaceId = theirs }, owner.Bearer))
            {
            }
        }));
    }

    [Fact]
    public async Task QueryMetrics_ApiKeyWithoutAnalyticsScope_IsDenied()
    {
        var owner = await Host.RegisterAsync();
        var workspace = await Host.CreateWorkspaceAsync(owner.Bearer);
        var key = (await Host.Auth().CreateApiKeyAsync(new CreateApiKeyRequest { Name = "ws", Scopes = [Scopes.WorkspacesRead] }, owner.Bearer)).Secret;
        var scoped = (await Host.Auth().CreateApiKeyAsync(new CreateApiKeyRequest { Name = "an", Scopes = [Scopes.AnalyticsRead] }, owner.Bearer)).Secret;

        var ex = await Assert.ThrowsAsync<RpcException>(async () => await Host.Analytics().QueryMetricsAsync(Recent(workspace), Identities.WithApiKey(key)));
        Assert.Equal(Scopes.AnalyticsRead, AuthenticationTests.AssertStatus(ex, StatusCode.PermissionDenied).Metadata["required_scope"]);
        Assert.Equal(MetricsResolution.Raw, (await Host.Analytics().QueryMetricsAsync(Recent(workspace), Identities.WithApiKey(scoped))).Resolution);
    }

    [Fact]
    public async Task IngestMetrics_StoresValidItems_AndListsWhyEachBadOneWasRejected()
    {
        var caller = await Host.RegisterAsync();
        var stranger = await Host.RegisterAsync();
        var mine = await Host.CreateWorkspaceAsync(caller.Bearer);
        var theirs = await Host.CreateWorkspaceAsync(stranger.Bearer);
        var endpoint = "/ext/" + Guid.NewGuid().ToString("N");
        var good = Metric(endpoint, workspaceId: mine);
        ApiMetrics[] items =
        [
            good,                                                               // 0 ok
            good with { Endpoint = "" },                                         // 1
            good with { Method = ApiHttpMethod.Unspecified },                    // 2
            good with { Protocol = CallProtocol.Unspecified },                   // 3
            good with { Protocol = CallProtocol.Http, StatusCode = 700 },        // 4
            good with { StatusCode = 17 },                                       // 5
            good with { ResponseTime = TimeSpan.FromHours(2) },                  // 6
            good with { Timestamp = DateTime.UtcNow.AddHours(-2) },              // 7
            good with { Timestamp = null },                                      // 8
            good with { UserId = stranger.UserId },                              // 9
            good with { WorkspaceId = theirs },                                  // 10: no edit on it
            good with { WorkspaceId = "not-a-uuid" },                            // 11
            good with { UserId = caller.UserId, ResponseTime = null, ResponseTimeMs = 12 }, // 12 ok
        ];

        var response = await Host.Analytics().IngestMetricsAsync(
            Stream(new IngestMetricsRequest { Metrics = [.. items[..5]] }, new IngestMetricsRequest { Metrics = [.. items[5..]] }), caller.Bearer);

        Assert.Equal(2, response.Accepted);
        Assert.Equal(11, response.Rejected);
        Assert.Equal(
            [(1, "endpoint"), (2, "method"), (3, "protocol"), (4, "status_code"), (5, "status_code"), (6, "response_time"),
             (7, "timestamp"), (8, "timestamp"), (9, "user_id"), (10, "workspace_id"), (11, "workspace_id")],
            response.Rejections.Select(r => (r.Index, r.Field)));
        var stored = (await Host.Analytics().QueryMetricsAsync(Recent(mine, endpoint), caller.Bearer)).Total!;
        Assert.Equal(2, stored.Count);
        // Stored as the caller's, whatever the item said (empty or their own id).
        Assert.Equal(2, await CountCallsAsync(fixture.Database.ConnectionString, "endpoint = @endpoint AND user_id = @u AND source = 2",
            new { endpoint, u = Guid.Parse(caller.UserId) }));
    }

    [Fact]
    public async Task IngestMetrics_OversizedMessage_IsInvalidArgument()
    {
        var caller = await Host.RegisterAsync();
        var metrics = Enumerable.Range(0, 1_001).Select(_ => Metric("/ext/big")).ToList();

        var ex = await Assert.ThrowsAsync<RpcException>(async () =>
            await Host.Analytics().IngestMetricsAsync(Stream(new IngestMetricsRequest { Metrics = metrics }), caller.Bearer));

        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        Assert.Equal("metrics", Assert.Single(ex.GetRpcStatus()!.GetDetail<Google.Rpc.BadRequest>().FieldViolations).Field);
    }
}
