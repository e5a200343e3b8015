using System.Collections.ObjectModel;
using System.Diagnostics;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Trace;
using ProtoBuf.Grpc;
using ProtoBuf.Grpc.Client;
using PyAirtable.IntegrationTests.Diagnostics;
using PyAirtable.IntegrationTests.Infrastructure;

namespace PyAirtable.IntegrationTests.Gateway;

/// <summary>
/// One call through two hosts is one trace (edge server span → its client span → the backend's
/// server span → the backend's SQL), and /metrics on the probe port shows the RPCs served.
/// </summary>
public sealed class TelemetryTests : DatabasePerTest
{
    [Fact]
    public async Task RemoteCall_IsOneTraceAcrossHosts_WithTheBackendsSqlUnderIt()
    {
        // Both hosts export into one list; ActivitySources are process-wide, so a span may arrive twice (deduped by id).
        var spans = new SpanList();
        void Export(IServiceCollection services) => services.ConfigureOpenTelemetryTracerProvider(t => t.AddInMemoryExporter(spans));
        // No OTLP endpoint: new traces are recorded only with a ratio set.
        await using var backend = await TestHost.StartAsync(Database.ConnectionString, o =>
        {
            o.Name = "backend";
            o.Settings["OpenTelemetry:TraceSampleRatio"] = "1";
            o.ConfigureServices = Export;
        });
        await using var edge = await TestHost.StartAsync(Database.ConnectionString, o =>
        {
            o.Name = "edge";
            o.Settings[$"Remote:{TestHost.DiagnosticsServiceName}"] = backend.GrpcAddress;
            o.Settings["OpenTelemetry:TraceSampleRatio"] = "1";
            o.ConfigureServices = Export;
        });

        // Not in process: the backend runs SELECT pg_sleep(0), so the trace reaches the database.
        await edge.Channel.CreateGrpcService<IRelayService>().SleepAsync(new SleepRequest { Seconds = 0 });

        // A server span ends once its response is written, which can be just after the client has it: wait for all four.
        Activity? edgeServer = null, client = null, backendServer = null, sql = null;
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (DateTime.UtcNow < deadline)
        {
            var all = spans.Snapshot().DistinctBy(s => s.SpanId).ToList();
            edgeServer = all.LastOrDefault(s => s.Kind == ActivityKind.Server && PathOf(s).EndsWith("RelayService/Sleep", StringComparison.Ordinal));
            if (edgeServer is not null)
            {
                var trace = all.Where(s => s.TraceId == edgeServer.TraceId).ToList();
                // The edge's rate limiter also calls Redis under its server span: the gRPC client span is the one wanted.
                client = trace.FirstOrDefault(s => s.OperationName == "Grpc.Net.Client.GrpcOut" && s.ParentSpanId == edgeServer.SpanId);
                backendServer = client is null ? null : trace.FirstOrDefault(s => s.Kind == ActivityKind.Server && s.ParentSpanId == client.SpanId);
                sql = backendServer is null ? null : trace.FirstOrDefault(s => s.Source.Name == "Npgsql" && s.ParentSpanId == backendServer.SpanId);
                if (sql is not null)
                {
                    break;
                }
            }

            await Task.Delay(50);
        }

        Assert.NotNull(edgeServer);
        Assert.True(client is not null, "no client span under the edge's server span");
        Assert.True(backendServer is not null, "no backend server span under the client span");
        Assert.EndsWith("DiagnosticsService/Sleep", PathOf(backendServer), StringComparison.Ordinal);
        Assert.True(sql is not null, "no Npgsql span under the backend's server span");
        Assert.Equal(edgeServer.TraceId, sql.TraceId);
        Assert.Equal(ActivityKind.Client, client.Kind);
        // Redis commands (here the rate limiter's) are traced too, but the Redis instrumentation hands its spans over on
        // its own flush interval (seconds later): a check for them here failed in CI, so they are not asserted.
    }

    [Fact]
    public async Task MetricsEndpoint_OnTheProbePort_ShowsRpcsByMethodAndStatus()
    {
        await using var host = await TestHost.StartAsync(Database.ConnectionString);
        for (var i = 0; i < 3; i++)
        {
            await host.Diagnostics.EchoAsync(new EchoRequest { Text = "m" });
        }

        await Assert.ThrowsAsync<RpcException>(async () =>
            await host.Diagnostics.FailAsync(new FailRequest { Kind = FailureKind.NotFound }));

        using var http = new HttpClient();
        var text = await http.GetStringAsync(new Uri(host.ProbeAddress + "/metrics"));

        var echo = text.Split('\n').Where(l => l.StartsWith("rpc_server_call_duration_seconds_count{", StringComparison.Ordinal)
            && l.Contains("rpc_method=\"Echo\"", StringComparison.Ordinal)
            && l.Contains($"rpc_service=\"{TestHost.DiagnosticsServiceName}\"", StringComparison.Ordinal)).ToList();
        Assert.Contains(echo, l => l.Contains("rpc_grpc_status_code=\"0\"", StringComparison.Ordinal));
        Assert.Contains("rpc_server_call_duration_seconds_bucket{", text, StringComparison.Ordinal);
        Assert.Contains(text.Split('\n'), l => l.StartsWith("rpc_server_call_duration_seconds_count{", StringComparison.Ordinal)
            && l.Contains("rpc_method=\"Fail\"", StringComparison.Ordinal) && l.Contains("rpc_grpc_status_code=\"5\"", StringComparison.Ordinal));
        Assert.Contains("# TYPE dotnet_gc_collections", text, StringComparison.Ordinal); // runtime metrics
        Assert.Contains(text.Split('\n'), l => l.StartsWith("db_client_connection_count{", StringComparison.Ordinal)
            && l.Contains("db_client_connection_state=\"idle\"", StringComparison.Ordinal)); // connection pools

        // Not an API: the gRPC port does not serve it.
        using var onGrpcPort = await http.GetAsync(new Uri(host.GrpcAddress + "/metrics"));
        Assert.NotEqual(System.Net.HttpStatusCode.OK, onGrpcPort.StatusCode);
    }

    [Fact]
    public async Task LogLinesOfACall_CarryItsTraceIdNextToTheRequestId()
    {
        var spans = new SpanList();
        await using var host = await TestHost.StartAsync(Database.ConnectionString, o =>
        {
            o.Settings["OpenTelemetry:TraceSampleRatio"] = "1";
            o.ConfigureServices = services => services.ConfigureOpenTelemetryTracerProvider(t => t.AddInMemoryExporter(spans));
        });
        var requestId = "traced-" + Guid.NewGuid().ToString("N");

        // A bug in the handler is logged as an error with the call's scopes.
        await Assert.ThrowsAsync<RpcException>(async () => await host.Diagnostics.FailAsync(new FailRequest { Kind = FailureKind.Bug },
            new CallContext(new CallOptions(new Metadata { { "x-request-id", requestId } }))));

        var logged = Assert.Single(host.Logs.TakeErrors(e => e.RequestId == requestId));
        var traceId = logged.Scopes.OfType<IEnumerable<KeyValuePair<string, object?>>>().SelectMany(s => s)
            .Where(kv => kv.Key == "TraceId").Select(kv => kv.Value?.ToString()).LastOrDefault();
        Assert.NotNull(traceId);
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!spans.Snapshot().Any(s => s.Kind == ActivityKind.Server && s.TraceId.ToHexString() == traceId) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }

        Assert.Contains(spans.Snapshot(), s => s.Kind == ActivityKind.Server && s.TraceId.ToHexString() == traceId
            && PathOf(s).EndsWith("DiagnosticsService/Fail", StringComparison.Ordinal));
    }

    [Fact]
    public async Task MetricsEndpoint_CountsRateLimitRefusals_AndShowsBreakerStates()
    {
        await using var backend = await TestHost.StartAsync(Database.ConnectionString, o => o.Name = "backend");
        await using var edge = await TestHost.StartAsync(Database.ConnectionString, o =>
        {
            o.Name = "edge";
            o.Settings[$"Remote:{TestHost.DiagnosticsServiceName}"] = backend.GrpcAddress;
            o.Settings["Redis:InstanceName"] = $"otel-{Guid.NewGuid():N}:";
            o.Settings["RateLimits:Classes:default:PerBase"] = "1";
        });
        var relay = edge.Channel.CreateGrpcService<IRelayService>();

        // A bucket of one per second: of five calls at once at least one is refused.
        var calls = Enumerable.Range(0, 5).Select(async _ =>
        {
            try
            {
                await relay.EchoAsync(new EchoRequest { BaseId = "appMetrics" });
            }
            catch (RpcException ex) when (ex.StatusCode == Grpc.Core.StatusCode.ResourceExhausted)
            {
            }
        });
        await Task.WhenAll(calls);

        using var http = new HttpClient();
        var text = await http.GetStringAsync(new Uri(edge.ProbeAddress + "/metrics"));

        Assert.Contains(text.Split('\n'), l => l.StartsWith("pyairtable_rate_limit_refusals_total{", StringComparison.Ordinal)
            && l.Contains("limit=\"per_base\"", StringComparison.Ordinal));
        Assert.Contains(text.Split('\n'), l => l.StartsWith("pyairtable_circuit_breaker_state{", StringComparison.Ordinal)
            && l.Contains($"service=\"{TestHost.DiagnosticsServiceName}\"", StringComparison.Ordinal) && l.EndsWith(" 0", StringComparison.Ordinal));
    }

    [Fact]
    public async Task SampleRatioZero_RecordsNoNewTrace_ButAlwaysACallerSampledTrace()
    {
        var spans = new SpanList();
        await using var host = await TestHost.StartAsync(Database.ConnectionString, o =>
        {
            o.Settings["OpenTelemetry:TraceSampleRatio"] = "0";
            o.ConfigureServices = services => services.ConfigureOpenTelemetryTracerProvider(t => t.AddInMemoryExporter(spans));
        });
        // A caller that decided not to sample, and one that did: the parent's decision wins over the ratio. The caller's
        // context is the current activity, which the gRPC client carries as traceparent.
        async Task<string> CallAsync(ActivityTraceFlags flags)
        {
            using var caller = new Activity("test caller")
                .SetParentId(ActivityTraceId.CreateRandom(), ActivitySpanId.CreateRandom(), flags).Start();
            await host.Diagnostics.EchoAsync(new EchoRequest { Text = "t" });
            return caller.TraceId.ToHexString();
        }

        var unsampled = await CallAsync(ActivityTraceFlags.None);
        var sampled = await CallAsync(ActivityTraceFlags.Recorded);

        await Eventually.TrueAsync(() => Task.FromResult(spans.Snapshot().Any(s => s.Kind == ActivityKind.Server && s.TraceId.ToHexString() == sampled)),
            "the caller-sampled call is recorded");
        // The in-memory exporter hands spans over as they end: the sampled call's span ended after the unsampled one's.
        Assert.DoesNotContain(spans.Snapshot(), s => s.TraceId.ToHexString() == unsampled && s.Kind == ActivityKind.Server);
    }

    [Fact]
    public async Task OtlpEndpointConfigured_HostServesWhileTheCollectorIsAway()
    {
        // Export failures are the exporter's to retry and drop; they must never reach a call.
        await using var host = await TestHost.StartAsync(Database.ConnectionString, o =>
            o.Settings["OpenTelemetry:OtlpEndpoint"] = $"http://127.0.0.1:{TestEnvironment.FreeTcpPort()}");

        var response = await host.Diagnostics.EchoAsync(new EchoRequest { Text = "exported" });

        Assert.Equal("exported", response.Text);
    }

    private static string PathOf(Activity span) =>
        span.GetTagItem("url.path") as string ?? span.GetTagItem("http.route") as string ?? span.DisplayName;

    /// <summary>The exporter adds from each host's threads; the test reads a copy.</summary>
    private sealed class SpanList : Collection<Activity>
    {
        protected override void InsertItem(int index, Activity item)
        {
            lock (Items)
            {
                base.InsertItem(index, item);
            }
        }

        public List<Activity> Snapshot()
        {
            lock (Items)
            {
                return [.. Items];
            }
        }
    }
}
