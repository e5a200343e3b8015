using Dapper;
using Grpc.Core;
using Npgsql;
using ProtoBuf.Grpc;
using ProtoBuf.Grpc.Client;
using PyAirtable.Contracts.Analytics;
using PyAirtable.Contracts.Workspaces;
using PyAirtable.IntegrationTests.Access;
using PyAirtable.IntegrationTests.Infrastructure;

namespace PyAirtable.IntegrationTests.Analytics;

/// <summary>A host that writes recorded calls every 50 ms and leaves roll-ups to the tests that run them.</summary>
public sealed class AnalyticsFixture : HostFixture
{
    protected override void Configure(TestHostOptions options) => Analytic.Configure(options);
}

public static class Analytic
{
    public static void Configure(TestHostOptions options)
    {
        options.Settings["Analytics:FlushInterval"] = "00:00:00.050";
        options.Settings["Analytics:RollupInterval"] = "00:00:00"; // off: roll-up tests run it themselves
    }

    public static IAnalyticsService Analytics(this TestHost host) => host.Channel.CreateGrpcService<IAnalyticsService>();

    public static async Task<string> CreateWorkspaceAsync(this TestHost host, CallContext owner) =>
        (await host.Workspaces().CreateWorkspaceAsync(new CreateWorkspaceRequest { Name = "Metrics " + Guid.NewGuid().ToString("N")[..6] }, owner)).Workspace!.Id;

    /// <summary>The last <paramref name="window"/> up to a minute ahead (calls are stamped when they end).</summary>
    public static QueryMetricsRequest Recent(string workspaceId = "", string endpoint = "", TimeSpan? window = null) => new()
    {
        WorkspaceId = workspaceId,
        Endpoint = endpoint,
        StartTime = DateTime.UtcNow - (window ?? TimeSpan.FromMinutes(10)),
        EndTime = DateTime.UtcNow + TimeSpan.FromMinutes(1),
    };

    /// <summary>Queries until <paramref name="done"/> holds (calls are written in batches, a moment after they end).</summary>
    public static async Task<QueryMetricsResponse> QueryUntilAsync(
        this TestHost host, QueryMetricsRequest request, CallContext caller, Func<QueryMetricsResponse, bool> done)
    {
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (true)
        {
            var response = await host.Analytics().QueryMetricsAsync(request with { EndTime = DateTime.UtcNow + TimeSpan.FromMinutes(1) }, caller);
            if (done(response) || DateTime.UtcNow > deadline)
            {
                return response;
            }

            await Task.Delay(50);
        }
    }

    public static async IAsyncEnumerable<IngestMetricsRequest> Stream(params IngestMetricsRequest[] messages)
    {
        foreach (var message in messages)
        {
            await Task.Yield();
            yield return message;
        }
    }

    public static ApiMetrics Metric(string endpoint, int status = 0, double milliseconds = 5, string workspaceId = "") => new()
    {
        Endpoint = endpoint,
        Method = ApiHttpMethod.Post,
        Protocol = CallProtocol.Grpc,
        StatusCode = status,
        ResponseTime = TimeSpan.FromMilliseconds(milliseconds),
        Timestamp = DateTime.UtcNow,
        WorkspaceId = workspaceId,
    };

    public static async Task<long> CountCallsAsync(string connectionString, string sqlWhere = "true", object? args = null)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        return await connection.ExecuteScalarAsync<long>("SELECT count(*) FROM analytics.calls WHERE " + sqlWhere, args);
    }

    public static void AssertDenied(RpcException ex) => Assert.Equal(StatusCode.PermissionDenied, ex.StatusCode);
}
