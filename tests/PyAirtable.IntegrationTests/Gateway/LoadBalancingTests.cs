using System.Collections.Concurrent;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using PyAirtable.IntegrationTests.Diagnostics;
using PyAirtable.IntegrationTests.Infrastructure;

namespace PyAirtable.IntegrationTests.Gateway;

/// <summary>
/// A remote service with several instances: the edge balances its calls round-robin over them, takes out an instance
/// that reports NOT_SERVING (draining), and retries an idempotent read that one instance failed on another.
/// </summary>
public sealed class LoadBalancingTests : DatabasePerTest
{
    private const string Remote = $"Remote:{TestHost.DiagnosticsServiceName}";

    [Fact]
    public async Task StaticList_SpreadsCallsEvenly()
    {
        var (a, countA) = await StartBackendAsync("a");
        var (b, countB) = await StartBackendAsync("b");
        await using var _a = a;
        await using var _b = b;
        await using var edge = await StartEdgeAsync($"{a.GrpcAddress},{b.GrpcAddress}");
        var diagnostics = edge.App.Services.GetRequiredService<IDiagnosticsService>();
        await WarmUpAsync(diagnostics, countA, countB);
        var (beforeA, beforeB) = (countA.Value, countB.Value);

        for (var i = 0; i < 200; i++)
        {
            await diagnostics.EchoAsync(new EchoRequest { Text = "x" });
        }

        var (servedA, servedB) = (countA.Value - beforeA, countB.Value - beforeB);
        Assert.Equal(200, servedA + servedB);
        Assert.InRange(servedA, 85, 115); // round-robin: every other call, give or take a reconnect or a new picker (random start)
    }

    [Fact]
    public async Task DrainingInstance_IsTakenOutBeforeItRefuses_AndNoCallFails()
    {
        var (a, countA) = await StartBackendAsync("a");
        var (b, countB) = await StartBackendAsync("b", drain: TimeSpan.FromSeconds(8));
        await using var _a = a;
        await using var edge = await StartEdgeAsync($"{a.GrpcAddress},{b.GrpcAddress}");
        var diagnostics = edge.App.Services.GetRequiredService<IDiagnosticsService>();
        await WarmUpAsync(diagnostics, countA, countB);

        var stopping = b.DisposeAsync().AsTask(); // SIGTERM: NOT_SERVING at once, refusing after 8 s
        // The edge hears NOT_SERVING over its health watch: wait until a run of calls no longer reaches b (b still serves).
        var unchangedRun = 0;
        var lastB = countB.Value;
        await Eventually.TrueAsync(async () =>
        {
            await diagnostics.EchoAsync(new EchoRequest());
            unchangedRun = countB.Value == lastB ? unchangedRun + 1 : 0;
            lastB = countB.Value;
            return unchangedRun >= 20;
        }, "the edge stopped picking the draining instance", TimeSpan.FromSeconds(7));
        var servedBWhileDraining = countB.Value;
        var failures = 0;
        while (!stopping.IsCompleted)
        {
            try
            {
                await diagnostics.RecordFlakyAsync(new FlakyRequest { Key = Guid.NewGuid().ToString("N") }); // a write: never retried
            }
            catch (RpcException)
            {
                failures++;
            }
        }

        await stopping;
        Assert.Equal(0, failures);
        Assert.Equal(servedBWhileDraining, countB.Value); // nothing went to the draining instance after it said so
    }

    [Fact]
    public async Task InstanceStoppedMidLoad_IdempotentReadsAreRetriedOnAnother()
    {
        var (a, countA) = await StartBackendAsync("a");
        var (b, countB) = await StartBackendAsync("b"); // no drain: refuses at once, as a crash looks to the caller
        await using var _a = a;
        await using var edge = await StartEdgeAsync($"{a.GrpcAddress},{b.GrpcAddress}");
        var diagnostics = edge.App.Services.GetRequiredService<IDiagnosticsService>();
        await WarmUpAsync(diagnostics, countA, countB);

        var failures = new ConcurrentBag<RpcException>();
        using var stop = new CancellationTokenSource();
        var load = Enumerable.Range(0, 8).Select(_ => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    await diagnostics.GetFlakyAsync(new FlakyRequest { Key = Guid.NewGuid().ToString("N") });
                }
                catch (RpcException ex)
                {
                    failures.Add(ex);
                }
            }
        })).ToList();
        await Task.Delay(300);
        await b.DisposeAsync();
        await Task.Delay(700);
        var afterStop = countA.Value;
        await Task.Delay(300);
        await stop.CancelAsync();
        await Task.WhenAll(load);

        Assert.Empty(failures);
        Assert.True(countA.Value > afterStop, "the remaining instance kept serving");
    }

    [Fact]
    public async Task InstanceRefusingCalls_IsTakenOutAtItsFirstRefusal_AndNoReadFails()
    {
        // b stays SERVING to the health watch but refuses every call UNAVAILABLE, as a host does while it shuts down.
        // Without taking it out, about half of all first attempts would go to it, and under concurrency a read's
        // retries land on it with the same odds.
        var (a, countA) = await StartBackendAsync("a");
        var (b, countB) = await StartBackendAsync("b");
        await using var _a = a;
        await using var _b = b;
        await using var edge = await StartEdgeAsync($"{a.GrpcAddress},{b.GrpcAddress}", pause: TimeSpan.FromMinutes(1));
        var diagnostics = edge.App.Services.GetRequiredService<IDiagnosticsService>();
        await WarmUpAsync(diagnostics, countA, countB);

        countB.Refusing = true;
        var before = (A: countA.Value, B: countB.Value);
        var failures = new ConcurrentBag<RpcException>();
        const int Loops = 8, CallsEach = 25;
        await Task.WhenAll(Enumerable.Range(0, Loops).Select(_ => Task.Run(async () =>
        {
            for (var i = 0; i < CallsEach; i++)
            {
                try
                {
                    await diagnostics.GetFlakyAsync(new FlakyRequest { Key = Guid.NewGuid().ToString("N") });
                }
                catch (RpcException ex)
                {
                    failures.Add(ex);
                }
            }
        })));

        Assert.Empty(failures);
        Assert.InRange(countB.Value - before.B, 1, Loops); // at most the calls already on their way when it first refused
        Assert.Equal(Loops * CallsEach, countA.Value - before.A);
    }

    [Fact]
    public async Task InstanceTakenOut_IsPickedAgainAfterThePause()
    {
        var (a, countA) = await StartBackendAsync("a");
        var (b, countB) = await StartBackendAsync("b");
        await using var _a = a;
        await using var _b = b;
        await using var edge = await StartEdgeAsync($"{a.GrpcAddress},{b.GrpcAddress}", pause: TimeSpan.FromMilliseconds(300));
        var diagnostics = edge.App.Services.GetRequiredService<IDiagnosticsService>();
        await WarmUpAsync(diagnostics, countA, countB);

        countB.Refusing = true;
        var refusedFrom = countB.Value;
        await Eventually.TrueAsync(async () =>
        {
            await diagnostics.GetFlakyAsync(new FlakyRequest { Key = Guid.NewGuid().ToString("N") });
            return countB.Value > refusedFrom;
        }, "b refused a call", TimeSpan.FromSeconds(10));
        countB.Refusing = false;
        var recoveredFrom = countB.Value;

        await Eventually.TrueAsync(async () =>
        {
            await diagnostics.EchoAsync(new EchoRequest());
            return countB.Value > recoveredFrom;
        }, "b served again after the pause", TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task DnsTarget_ResolvesTheNameAndServes()
    {
        var (a, countA) = await StartBackendAsync("a");
        await using var _a = a;
        var port = new Uri(a.GrpcAddress).Port;
        await using var edge = await StartEdgeAsync($"dns:///127.0.0.1:{port}");
        var diagnostics = edge.App.Services.GetRequiredService<IDiagnosticsService>();

        var answer = await diagnostics.EchoAsync(new EchoRequest { Text = "via dns" });

        Assert.Equal("via dns", answer.Text);
        Assert.True(countA.Value >= 1);
    }

    private static async Task WarmUpAsync(IDiagnosticsService diagnostics, Counter a, Counter b)
    {
        // The balancer connects to instances as it learns them: wait until both have answered.
        await Eventually.TrueAsync(async () =>
        {
            await diagnostics.EchoAsync(new EchoRequest());
            return a.Value > 0 && b.Value > 0;
        }, "both instances answered", TimeSpan.FromSeconds(10));
    }

    private async Task<(TestHost Host, Counter Served)> StartBackendAsync(string name, TimeSpan? drain = null)
    {
        var counter = new Counter();
        var host = await TestHost.StartAsync(Database.ConnectionString, o =>
        {
            o.Name = name;
            o.Settings["Shutdown:DrainDelay"] = (drain ?? TimeSpan.Zero).ToString();
            o.ConfigureServices = s => s.AddSingleton<IStartupFilter>(counter);
        });
        return (host, counter);
    }

    private Task<TestHost> StartEdgeAsync(string target, TimeSpan? pause = null) =>
        TestHost.StartAsync(Database.ConnectionString, o =>
        {
            o.Name = "edge";
            o.Settings[Remote] = target;
            if (pause is { } p)
            {
                o.Settings["RemoteCalls:FailedInstancePause"] = p.ToString();
            }
        });

    /// <summary>Counts the Diagnostics calls that reached a backend; while <see cref="Refusing"/>, refuses them UNAVAILABLE.</summary>
    private sealed class Counter : IStartupFilter
    {
        private int _value;
        private volatile bool _refusing;

        public int Value => Volatile.Read(ref _value);

        public bool Refusing
        {
            get => _refusing;
            set => _refusing = value;
        }

        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            app.Use(async (context, nextMiddleware) =>
            {
                if (context.Request.Path.Value?.Contains("DiagnosticsService/", StringComparison.Ordinal) == true)
                {
                    Interlocked.Increment(ref _value);
                    if (_refusing)
                    {
                        // Trailers-only UNAVAILABLE, before anything runs: what a host that is shutting down answers.
                        context.Response.ContentType = "application/grpc";
                        context.Response.Headers["grpc-status"] = "14";
                        context.Response.Headers["grpc-message"] = "refusing (test)";
                        return;
                    }
                }

                await nextMiddleware(context);
            });
            next(app);
        };
    }
}
