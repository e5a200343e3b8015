using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using ProtoBuf.Grpc;
using PyAirtable.IntegrationTests.Diagnostics;
using PyAirtable.IntegrationTests.Infrastructure;
using PyAirtable.Services.Infrastructure.Contracts;

namespace PyAirtable.IntegrationTests.Gateway;

/// <summary>
/// Blue-green at the edge: a second version of a service gets a share of the calls that changes at run time (a watched
/// routing file), testers pin a version with a header, and a call keeps the version it started on.
/// </summary>
public sealed class BlueGreenTests : DatabasePerTest
{
    private const string Service = TestHost.DiagnosticsServiceName;
    private readonly string _routingFile = Path.Combine(Path.GetTempPath(), $"routing-{Guid.NewGuid():N}.json");

    public override async Task DisposeAsync()
    {
        File.Delete(_routingFile);
        await base.DisposeAsync();
    }

    [Fact]
    public async Task Weights_ShiftAtRunTime_AndEachStepSplitsAsConfigured()
    {
        var (blue, blueCount) = await StartBackendAsync("blue");
        var (green, greenCount) = await StartBackendAsync("green");
        await using var _b = blue;
        await using var _g = green;
        await WriteWeightAsync(green, 0);
        await using var edge = await StartEdgeAsync(blue);
        var routing = edge.App.Services.GetRequiredService<VersionRouting>();

        foreach (var weight in new[] { 0, 10, 50, 100, 50, 0 })
        {
            await WriteWeightAsync(green, weight);
            await Eventually.TrueAsync(() => Task.FromResult(routing.Weights(Service).Any(w => w.Version == "green" && w.Weight == weight)),
                $"the edge reloaded green's weight {weight}");
            var (b0, g0) = (blueCount.Value, greenCount.Value);
            for (var i = 0; i < 200; i++)
            {
                await edge.Diagnostics.EchoAsync(new EchoRequest { Text = "x" });
            }

            var toGreen = greenCount.Value - g0;
            Assert.Equal(200, toGreen + blueCount.Value - b0);
            Assert.InRange(toGreen, 2 * weight - 2, 2 * weight + 2); // 200 calls: weight % of them, give or take the window
        }
    }

    [Fact]
    public async Task Testers_PinAVersionWithAHeader_AndACallFinishesOnTheVersionItStartedOn()
    {
        var (blue, blueCount) = await StartBackendAsync("blue");
        var (green, greenCount) = await StartBackendAsync("green");
        await using var _b = blue;
        await using var _g = green;
        await WriteWeightAsync(green, 0);
        await using var edge = await StartEdgeAsync(blue);
        var routing = edge.App.Services.GetRequiredService<VersionRouting>();

        var pinned = new CallContext(new CallOptions(new Metadata { { VersionRouting.VersionHeader, "green" } }));
        for (var i = 0; i < 5; i++)
        {
            await edge.Diagnostics.EchoAsync(new EchoRequest(), pinned);
        }

        Assert.Equal(5, greenCount.Value);

        // A slow call started on green at 100 %, then green rolled back to 0 % while it runs: it completes on green.
        await WriteWeightAsync(green, 100);
        await Eventually.TrueAsync(() => Task.FromResult(routing.Weights(Service).Any(w => w.Version == "green" && w.Weight == 100)), "100 %");
        var slow = edge.Diagnostics.SleepAsync(new SleepRequest { Seconds = 1.5, InProcess = true }).AsTask();
        await Eventually.TrueAsync(() => Task.FromResult(greenCount.Value == 6), "the slow call reached green");
        await WriteWeightAsync(green, 0);
        await Eventually.TrueAsync(() => Task.FromResult(routing.Weights(Service).Any(w => w.Version == "green" && w.Weight == 0)), "rollback");
        var before = blueCount.Value;
        await edge.Diagnostics.EchoAsync(new EchoRequest());

        Assert.True((await slow).Completed);
        Assert.Equal(before + 1, blueCount.Value); // new calls go to blue again
        Assert.Equal(6, greenCount.Value);
    }

    [Fact]
    public async Task AWrongRoutingFile_KeepsTheRoutesInForce()
    {
        var (blue, _) = await StartBackendAsync("blue");
        var (green, _) = await StartBackendAsync("green");
        await using var _b = blue;
        await using var _g = green;
        await WriteWeightAsync(green, 30);
        await using var edge = await StartEdgeAsync(blue);
        var routing = edge.App.Services.GetRequiredService<VersionRouting>();
        Assert.Contains(("green", 30), routing.Weights(Service));

        await WriteWeightAsync(green, "\"thirty\"");
        await Eventually.TrueAsync(() => Task.FromResult(edge.Logs.TakeErrors(l => l.Message.Contains("Routing settings rejected", StringComparison.Ordinal)).Count > 0),
            "the edge rejected the file");

        Assert.Contains(("green", 30), routing.Weights(Service));
        await edge.Diagnostics.EchoAsync(new EchoRequest()); // still routing
    }

    private Task WriteWeightAsync(TestHost green, int weight) =>
        WriteWeightAsync(green, weight.ToString(System.Globalization.CultureInfo.InvariantCulture));

    private async Task WriteWeightAsync(TestHost green, string weight)
    {
        var json = $$"""
            { "Routing": { "{{Service}}": { "Stable": "blue", "Versions": { "green": "{{green.GrpcAddress}}" }, "Weights": { "green": {{weight}} } } } }
            """;
        var temp = _routingFile + ".tmp";
        await File.WriteAllTextAsync(temp, json);
        File.Move(temp, _routingFile, overwrite: true);
    }

    private async Task<(TestHost Host, Counter Served)> StartBackendAsync(string version)
    {
        var counter = new Counter();
        var host = await TestHost.StartAsync(Database.ConnectionString, o =>
        {
            o.Name = version;
            o.Settings["Deployment:Version"] = version;
            o.ConfigureServices = s => s.AddSingleton<IStartupFilter>(counter);
        });
        return (host, counter);
    }

    private Task<TestHost> StartEdgeAsync(TestHost blue) =>
        TestHost.StartAsync(Database.ConnectionString, o =>
        {
            o.Name = "edge";
            o.Settings[Topology.ForwardKey] = "true";
            o.Settings[$"Remote:{Service}"] = blue.GrpcAddress;
            o.Settings["Routing:File"] = _routingFile;
        });

    /// <summary>Counts the Diagnostics calls a backend served.</summary>
    private sealed class Counter : IStartupFilter
    {
        private int _value;

        public int Value => Volatile.Read(ref _value);

        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            app.Use(async (context, nextMiddleware) =>
            {
                if (context.Request.Path.Value?.Contains("DiagnosticsService/", StringComparison.Ordinal) == true)
                {
                    Interlocked.Increment(ref _value);
                }

                await nextMiddleware(context);
            });
            next(app);
        };
    }
}
