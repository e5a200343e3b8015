using Grpc.Core;
using PyAirtable.Contracts.Analytics;
using PyAirtable.Contracts.Workspaces;
using PyAirtable.IntegrationTests.Access;
using PyAirtable.IntegrationTests.Identity;
using PyAirtable.IntegrationTests.Infrastructure;
using static PyAirtable.IntegrationTests.Analytics.Analytic;

namespace PyAirtable.IntegrationTests.Analytics;

/// <summary>Calls served by the gateway are recorded and answer QueryMetrics: counts, errors by status, percentiles, buckets.</summary>
public sealed class RecordedCallsTests(AnalyticsFixture fixture) : IClassFixture<AnalyticsFixture>, IDisposable
{
    private TestHost Host => fixture.Host;

    public void Dispose() => fixture.AssertNoUnexpectedErrors();

    [Fact]
    public async Task ServedCalls_AreRecordedWithCallerAndWorkspace_AndQueryable()
    {
        var owner = await Host.RegisterAsync();
        var workspace = await Host.CreateWorkspaceAsync(owner.Bearer);
        var ws = Host.Workspaces();
        for (var i = 0; i < 6; i++)
        {
            await ws.GetWorkspaceAsync(new GetWorkspaceRequest { WorkspaceId = workspace }, owner.Bearer);
        }

        for (var i = 0; i < 2; i++)
        {
            // An empty name is INVALID_ARGUMENT (3): recorded as an error of the workspace.
            await Assert.ThrowsAsync<RpcException>(async () =>
                await ws.UpdateWorkspaceAsync(new UpdateWorkspaceRequest { WorkspaceId = workspace, Name = " " }, owner.Bearer));
        }

        const string get = "/pyairtable.workspaces.v1.WorkspaceService/GetWorkspace";
        const string update = "/pyairtable.workspaces.v1.WorkspaceService/UpdateWorkspace";
        var request = Recent(workspace) with { ByEndpoint = true, BucketWidth = TimeSpan.FromMinutes(1) };
        var result = await Host.QueryUntilAsync(request, owner.Bearer, r =>
            r.Endpoints.FirstOrDefault(e => e.Endpoint == get)?.Summary!.Count == 6 && r.Endpoints.FirstOrDefault(e => e.Endpoint == update)?.Summary!.Count == 2);

        Assert.Equal(MetricsResolution.Raw, result.Resolution);
        var gets = result.Endpoints.Single(e => e.Endpoint == get).Summary!;
        Assert.Equal(6, gets.Count);
        Assert.Equal(0, gets.ErrorCount);
        Assert.Equal(0, gets.ErrorRate);
        Assert.Equal([new StatusCount { Protocol = CallProtocol.Grpc, StatusCode = 0, Count = 6 }], gets.Statuses);
        Assert.True(gets.P50 > TimeSpan.Zero && gets.P50 <= gets.P95 && gets.P95 <= gets.P99);

        var updates = result.Endpoints.Single(e => e.Endpoint == update).Summary!;
        Assert.Equal(2, updates.ErrorCount);
        Assert.Equal(1.0, updates.ErrorRate);
        Assert.Equal(3, Assert.Single(updates.Statuses).StatusCode);

        // The buckets cover the range a minute at a time and add up to the total.
        Assert.InRange(result.Buckets.Count, 11, 12); // 10 min back, 1 min ahead, and the moments the query waited
        Assert.Equal(result.Total!.Count, result.Buckets.Sum(b => b.Summary!.Count));
        Assert.True(result.Total.Count >= 8);

        // Filtered to one endpoint, by the same rules.
        var only = await Host.Analytics().QueryMetricsAsync(Recent(workspace, update), owner.Bearer);
        Assert.Equal(2, only.Total!.Count);
        Assert.Equal(1.0, only.Total.ErrorRate);

        // The rows carry the caller.
        Assert.Equal(8, await CountCallsAsync(fixture.Database.ConnectionString,
            "workspace_id = @w AND user_id = @u AND endpoint IN (@get, @update) AND source = 1",
            new { w = Guid.Parse(workspace), u = Guid.Parse(owner.UserId), get, update }));
    }

    [Fact]
    public async Task IngestedLatencies_GivePercentilesWithinTenPercent()
    {
        var owner = await Host.RegisterAsync();
        var workspace = await Host.CreateWorkspaceAsync(owner.Bearer);
        var endpoint = "/ext/" + Guid.NewGuid().ToString("N");
        // 1 … 200 ms, 10 % of them HTTP 503.
        var metrics = Enumerable.Range(1, 200).Select(i => Metric(endpoint, milliseconds: i, workspaceId: workspace) with
        {
            Protocol = CallProtocol.Http,
            Method = ApiHttpMethod.Get,
            StatusCode = i % 10 == 0 ? 503 : 200,
        }).ToList();

        var ingest = await Host.Analytics().IngestMetricsAsync(
            Stream(new IngestMetricsRequest { Metrics = metrics[..120] }, new IngestMetricsRequest { Metrics = metrics[120..] }), owner.Bearer);
        Assert.Equal(200, ingest.Accepted);
        Assert.Equal(0, ingest.Rejected);

        var total = (await Host.Analytics().QueryMetricsAsync(Recent(workspace, endpoint), owner.Bearer)).Total!;
        Assert.Equal(200, total.Count);
        Assert.Equal(20, total.ErrorCount);
        Assert.Equal(0.1, total.ErrorRate, 6);
        Assert.InRange(total.P50!.Value.TotalMilliseconds, 100 * 0.9, 100 * 1.1);
        Assert.InRange(total.P95!.Value.TotalMilliseconds, 190 * 0.9, 190 * 1.1);
        Assert.InRange(total.P99!.Value.TotalMilliseconds, 198 * 0.9, 198 * 1.1);
        Assert.Equal([(200, 180L), (503, 20L)], total.Statuses.Select(s => (s.StatusCode, s.Count)));
    }

    [Fact]
    public async Task QueryMetrics_InvalidRequest_IsInvalidArgumentWithEveryField()
    {
        var admin = await Host.RegisterAdminAsync(fixture.Database.ConnectionString);

        var ex = await Assert.ThrowsAsync<RpcException>(async () => await Host.Analytics().QueryMetricsAsync(
            new QueryMetricsRequest { WorkspaceId = "nope", Endpoint = "has space", BucketWidth = TimeSpan.FromSeconds(30) }, admin.Bearer));

        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        var fields = ex.GetRpcStatus()!.GetDetail<Google.Rpc.BadRequest>().FieldViolations.Select(v => v.Field).Order(StringComparer.Ordinal);
        Assert.Equal(["end_time", "endpoint", "start_time", "workspace_id"], fields);

        var width = await Assert.ThrowsAsync<RpcException>(async () => await Host.Analytics().QueryMetricsAsync(
            Recent() with { BucketWidth = TimeSpan.FromSeconds(90) }, admin.Bearer));
        Assert.Equal("bucket_width", Assert.Single(width.GetRpcStatus()!.GetDetail<Google.Rpc.BadRequest>().FieldViolations).Field);

        var backwards = await Assert.ThrowsAsync<RpcException>(async () => await Host.Analytics().QueryMetricsAsync(
            Recent() with { EndTime = DateTime.UtcNow.AddDays(-1) }, admin.Bearer));
        Assert.Equal(StatusCode.InvalidArgument, backwards.StatusCode);
    }
}
