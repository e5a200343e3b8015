using System.Diagnostics;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using PyAirtable.IntegrationTests.Diagnostics;
using PyAirtable.IntegrationTests.Infrastructure;

namespace PyAirtable.IntegrationTests.Gateway;

/// <summary>
/// What a remote binding adds to a call: retries of idempotent reads (by name: Get…, List…) on UNAVAILABLE and
/// none of anything else, and a deadline for calls that set none. The test calls the edge's binding directly, as
/// a service or a background job of the edge would.
/// </summary>
public sealed class RemoteResilienceTests : DatabasePerTest
{
    [Fact]
    public async Task IdempotentRead_FailingUnavailable_IsRetriedUpToMaxAttempts()
    {
        await using var backend = await TestHost.StartAsync(Database.ConnectionString, o => o.Name = "backend");
        await using var edge = await StartEdgeAsync(backend.GrpcAddress);
        var remote = edge.App.Services.GetRequiredService<IDiagnosticsService>();

        var twice = await remote.GetFlakyAsync(new FlakyRequest { Key = Guid.NewGuid().ToString("N"), Failures = 2 });
        var always = await Assert.ThrowsAsync<RpcException>(async () =>
            await remote.GetFlakyAsync(new FlakyRequest { Key = Guid.NewGuid().ToString("N"), Failures = 3 }));

        Assert.Equal(3, twice.Attempts); // two failures hidden by two retries
        Assert.Equal(StatusCode.Unavailable, always.StatusCode); // MaxAttempts (3) spent
    }

    [Fact]
    public async Task Write_FailingUnavailable_IsNotRetried()
    {
        await using var backend = await TestHost.StartAsync(Database.ConnectionString, o => o.Name = "backend");
        await using var edge = await StartEdgeAsync(backend.GrpcAddress);
        var remote = edge.App.Services.GetRequiredService<IDiagnosticsService>();
        var key = Guid.NewGuid().ToString("N");

        var ex = await Assert.ThrowsAsync<RpcException>(async () =>
            await remote.RecordFlakyAsync(new FlakyRequest { Key = key, Failures = 1 }));
        var next = await remote.RecordFlakyAsync(new FlakyRequest { Key = key, Failures = 1 });

        Assert.Equal(StatusCode.Unavailable, ex.StatusCode);
        Assert.Equal(2, next.Attempts); // the failed call ran once
    }

    [Fact]
    public async Task CallWithoutDeadline_GetsTheDefaultDeadline()
    {
        await using var backend = await TestHost.StartAsync(Database.ConnectionString, o => o.Name = "backend");
        await using var edge = await StartEdgeAsync(backend.GrpcAddress, ("RemoteCalls:DefaultDeadline", "00:00:00.500"));
        var remote = edge.App.Services.GetRequiredService<IDiagnosticsService>();
        var stopwatch = Stopwatch.StartNew();

        var ex = await Assert.ThrowsAsync<RpcException>(async () =>
            await remote.SleepAsync(new SleepRequest { Seconds = 20, InProcess = true }));

        Assert.Equal(StatusCode.DeadlineExceeded, ex.StatusCode);
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(5), $"took {stopwatch.Elapsed}");
        backend.WaitForQuiet();
    }

    private Task<TestHost> StartEdgeAsync(string backend, params (string Key, string Value)[] settings) =>
        TestHost.StartAsync(Database.ConnectionString, o =>
        {
            o.Name = "edge";
            o.Settings[$"Remote:{TestHost.DiagnosticsServiceName}"] = backend;
            foreach (var (key, value) in settings)
            {
                o.Settings[key] = value;
            }
        });
}
