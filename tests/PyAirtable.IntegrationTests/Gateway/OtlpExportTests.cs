using ProtoBuf.Grpc.Client;
using PyAirtable.IntegrationTests.Diagnostics;
using PyAirtable.IntegrationTests.Infrastructure;

namespace PyAirtable.IntegrationTests.Gateway;

/// <summary>
/// The hosts' OTLP exporters (configuration only, the default gRPC protocol) push to a collector the test runs: one
/// call through two hosts arrives there as one trace down to the backend's SQL, and the platform's metrics arrive too.
/// </summary>
public sealed class OtlpExportTests : DatabasePerTest
{
    private const int Server = 2;
    private const int Client = 3;

    [Fact]
    public async Task RemoteCall_ArrivesAtTheCollector_AsOneTraceFromEdgeToTheBackendsSql()
    {
        await using var collector = await OtlpReceiver.StartAsync();
        await using var backend = await TestHost.StartAsync(Database.ConnectionString, o =>
        {
            o.Name = "backend";
            o.Settings["OpenTelemetry:OtlpEndpoint"] = collector.Address;
            o.Settings["OpenTelemetry:ServiceName"] = "pyairtable-backend";
        });
        await using var edge = await TestHost.StartAsync(Database.ConnectionString, o =>
        {
            o.Name = "edge";
            o.Settings[$"Remote:{TestHost.DiagnosticsServiceName}"] = backend.GrpcAddress;
            o.Settings["OpenTelemetry:OtlpEndpoint"] = collector.Address;
            o.Settings["OpenTelemetry:ServiceName"] = "pyairtable-edge";
            o.Settings["OpenTelemetry:MetricExportInterval"] = "00:00:00.500";
        });

        await edge.Channel.CreateGrpcService<IRelayService>().SleepAsync(new SleepRequest { Seconds = 0 });

        // Attribute names are the current semantic conventions' (rpc.system.name, db.system.name), as the exporters send them.
        // The batch exporter sends every 5 s by default; both hosts' providers see every span in this process (deduped by id).
        OtlpSpan? edgeServer = null, client = null, backendServer = null, sql = null;
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            var spans = collector.Spans.Select(s => s.Span).DistinctBy(s => s.Id).ToList();
            edgeServer = spans.LastOrDefault(s => s.Kind == Server && (s.Attribute("url.path") ?? s.Name).EndsWith("RelayService/Sleep", StringComparison.Ordinal));
            var trace = edgeServer is null ? [] : spans.Where(s => s.Trace == edgeServer.Trace).ToList();
            client = trace.FirstOrDefault(s => s.Kind == Client && s.Parent == edgeServer!.Id && s.Attribute("rpc.system.name") == "grpc");
            backendServer = client is null ? null : trace.FirstOrDefault(s => s.Kind == Server && s.Parent == client.Id);
            sql = backendServer is null ? null : trace.FirstOrDefault(s => s.Parent == backendServer.Id && s.Attribute("db.system.name") == "postgresql");
            if (sql is not null)
            {
                break;
            }

            await Task.Delay(100);
        }

        Assert.True(edgeServer is not null, "the collector received no server span of the edge's call");
        Assert.True(client is not null, "no gRPC client span under the edge's server span");
        Assert.True(backendServer is not null, "no backend server span under the client span: trace context did not cross hosts");
        Assert.EndsWith("DiagnosticsService/Sleep", backendServer.Attribute("url.path") ?? backendServer.Name, StringComparison.Ordinal);
        Assert.True(sql is not null, "no PostgreSQL span under the backend's server span");
        Assert.Contains(collector.Spans, s => s.Service is "pyairtable-edge" or "pyairtable-backend");

        // Metrics are pushed on the configured interval: the RPC histogram and the connection pools among them.
        await Eventually.TrueAsync(() => Task.FromResult(collector.MetricNames.Contains("rpc.server.call.duration")
            && collector.MetricNames.Contains("db.client.connection.count")), "the collector received the RPC and pool metrics");
    }
}
