using System.Diagnostics;
using Grpc.Core;
using ProtoBuf.Grpc;
using PyAirtable.Contracts.Analytics;
using PyAirtable.IntegrationTests.Diagnostics;
using PyAirtable.IntegrationTests.Identity;
using PyAirtable.IntegrationTests.Infrastructure;
using static PyAirtable.IntegrationTests.Analytics.Analytic;

namespace PyAirtable.IntegrationTests.Analytics;

/// <summary>TailMetrics: calls recorded on one host reach a tail on another; deadlines and cancellation end it.</summary>
public sealed class LiveTailTests : DatabasePerTest
{
    private const string Echo = "/" + TestHost.DiagnosticsServiceName + "/Echo";

    [Fact]
    public async Task Tail_OnHostB_ReceivesCallsServedByHostA()
    {
        // One platform: the same database and the same Redis key space.
        var instance = $"test-{Guid.NewGuid():N}:";
        void Shared(TestHostOptions o)
        {
            Configure(o);
            o.Settings["Redis:InstanceName"] = instance;
        }

        await using var a = await TestHost.StartAsync(Database.ConnectionString, o => { Shared(o); o.Name = "a"; });
        await using var b = await TestHost.StartAsync(Database.ConnectionString, o => { Shared(o); o.Name = "b"; });
        var admin = await a.RegisterAdminAsync(Database.ConnectionString);
        var received = await TailWhileAsync(b, admin.Bearer.RequestHeaders, async () =>
        {
            for (var i = 0; i < 3; i++)
            {
                await a.Diagnostics.EchoAsync(new EchoRequest { Text = "hi" });
            }
        }, 3);
        Assert.Equal(3, received.Count);
        Assert.All(received, m =>
        {
            Assert.Equal(Echo, m.Endpoint);
            Assert.Equal(ApiHttpMethod.Post, m.Method);
            Assert.Equal(CallProtocol.Grpc, m.Protocol);
            Assert.Equal(0, m.StatusCode);
            Assert.Equal(MetricSource.Gateway, m.Source);
            Assert.NotNull(m.Timestamp);
            Assert.True(m.ResponseTime > TimeSpan.Zero);
        });
    }

    [Fact]
    public async Task Tail_OnHostB_ReceivesCallsServedByHostA_WhoseRedisAnswersSlowly()
    {
        // Host a reaches Redis through a proxy that holds every answer 400 ms: healthy, but slow as on a host whose CPUs are
        // saturated. Whether anyone tails is asked of that Redis; a slow "yes" must not lose the calls.
        await using var slow = new SlowTcpProxy(TestEnvironment.Redis, TimeSpan.FromMilliseconds(400));
        var instance = $"test-{Guid.NewGuid():N}:";
        await using var a = await TestHost.StartAsync(Database.ConnectionString, o =>
        {
            Configure(o);
            o.Name = "a";
            o.Settings["Redis:InstanceName"] = instance;
            o.Settings["ConnectionStrings:Redis"] = slow.Address;
        });
        await using var b = await TestHost.StartAsync(Database.ConnectionString, o =>
        {
            Configure(o);
            o.Name = "b";
            o.Settings["Redis:InstanceName"] = instance;
        });
        var admin = await b.RegisterAdminAsync(Database.ConnectionString);
        var received = await TailWhileAsync(b, admin.Bearer.RequestHeaders, async () =>
        {
            for (var i = 0; i < 3; i++)
            {
                await a.Diagnostics.EchoAsync(new EchoRequest { Text = "slow" });
            }
        }, 3);
        Assert.Equal(3, received.Count);
        Assert.All(received, m => Assert.Equal(Echo, m.Endpoint));
    }

    /// <summary>
    /// Opens a tail of Echo calls on <paramref name="host"/>, makes <paramref name="calls"/> once it listens, and returns
    /// what it received: <paramref name="count"/> calls, or fewer when 20 s passed first.
    /// </summary>
    private static async Task<List<ApiMetrics>> TailWhileAsync(TestHost host, Metadata? headers, Func<Task> calls, int count)
    {
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var tail = host.Analytics().TailMetricsAsync(new TailMetricsRequest { Endpoint = Echo },
            new CallContext(new CallOptions(headers, cancellationToken: cancel.Token))).GetAsyncEnumerator(cancel.Token);
        // The first MoveNext sends the request; the tail starts once the host listens.
        var first = tail.MoveNextAsync().AsTask();
        await Eventually.TrueAsync(() => Task.FromResult(TailSubscribers(host) > 0), "the tail listens", TimeSpan.FromSeconds(10));
        await calls();
        var received = new List<ApiMetrics>();
        try
        {
            Assert.True(await first);
            received.AddRange(tail.Current.Metrics);
            while (received.Count < count && await tail.MoveNextAsync())
            {
                received.AddRange(tail.Current.Metrics);
            }
        }
        catch (RpcException ex) when (ex.StatusCode == StatusCode.Cancelled && cancel.IsCancellationRequested)
        {
            // 20 s without the calls: the caller's count check says so
        }

        await cancel.CancelAsync();
        await tail.DisposeAsync();
        return received;
    }

    [Fact]
    public async Task Tail_WithoutRedis_SeesItsOwnHostsCalls_AndErrorsOnlyFilters()
    {
        await using var host = await TestHost.StartAsync(Database.ConnectionString, o =>
        {
            Configure(o);
            o.WithRedis = false;
        });
        var admin = await host.RegisterAdminAsync(Database.ConnectionString);
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var tail = host.Analytics().TailMetricsAsync(new TailMetricsRequest { ErrorsOnly = true },
            new CallContext(new CallOptions(admin.Bearer.RequestHeaders, cancellationToken: cancel.Token))).GetAsyncEnumerator(cancel.Token);
        var first = tail.MoveNextAsync().AsTask();
        var until = DateTime.UtcNow.AddSeconds(10);
        while (TailSubscribers(host) == 0 && DateTime.UtcNow < until)
        {
            await Task.Delay(20);
        }

        await host.Diagnostics.EchoAsync(new EchoRequest { Text = "ok" });
        for (var i = 0; i < 2; i++)
        {
            await Assert.ThrowsAsync<RpcException>(async () => await host.Diagnostics.FailAsync(new FailRequest { Kind = FailureKind.NotFound }));
        }

        var received = new List<ApiMetrics>();
        Assert.True(await first);
        received.AddRange(tail.Current.Metrics);
        while (received.Count < 2 && await tail.MoveNextAsync())
        {
            received.AddRange(tail.Current.Metrics);
        }

        await cancel.CancelAsync();
        await tail.DisposeAsync();
        Assert.Equal(["/" + TestHost.DiagnosticsServiceName + "/Fail", "/" + TestHost.DiagnosticsServiceName + "/Fail"], received.Select(m => m.Endpoint));
        Assert.All(received, m => Assert.Equal((int)StatusCode.NotFound, m.StatusCode));
    }

    [Fact]
    public async Task Tail_EndsAtItsDeadline_AndOnCancellation_AndLetsGoOfItsSubscription()
    {
        await using var host = await TestHost.StartAsync(Database.ConnectionString, Configure);
        var admin = await host.RegisterAdminAsync(Database.ConnectionString);
        var headers = admin.Bearer.RequestHeaders;

        // Deadline: nothing arrives for this endpoint; the stream ends with DEADLINE_EXCEEDED on time.
        var watch = Stopwatch.StartNew();
        var ex = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            await foreach (var _ in host.Analytics().TailMetricsAsync(new TailMetricsRequest { Endpoint = "/nothing/here" },
                new CallContext(new CallOptions(headers, deadline: DateTime.UtcNow.AddSeconds(1)))))
            {
            }
        });
        Assert.Equal(StatusCode.DeadlineExceeded, ex.StatusCode);
        Assert.InRange(watch.Elapsed, TimeSpan.FromSeconds(0.9), TimeSpan.FromSeconds(5));

        // Cancellation by the client.
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(1));
        var cancelled = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            await foreach (var _ in host.Analytics().TailMetricsAsync(new TailMetricsRequest { Endpoint = "/nothing/here" },
                new CallContext(new CallOptions(headers, cancellationToken: cancel.Token))))
            {
            }
        });
        Assert.Equal(StatusCode.Cancelled, cancelled.StatusCode);

        // Both tails are gone on the server too.
        host.WaitForQuiet();
        Assert.Equal(0, TailSubscribers(host));
    }

    private static int TailSubscribers(TestHost host) =>
        Microsoft.Extensions.DependencyInjection.ServiceProviderServiceExtensions
            .GetRequiredService<PyAirtable.Services.Analytics.Recording.TailHub>(host.App.Services).SubscriberCount;
}
