using System.Collections.Concurrent;
using System.Net;
using System.Runtime.Serialization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ProtoBuf;
using ProtoBuf.Grpc.Configuration;
using ProtoBuf.Grpc.Server;

namespace PyAirtable.IntegrationTests.Infrastructure;

/// <summary>
/// An OTLP/gRPC collector on a loopback port, as a test's own process-local server: it accepts the trace and metrics
/// services of opentelemetry-proto (collector/trace/v1, collector/metrics/v1) and keeps what arrives. The messages
/// below declare only the fields the tests read, with their numbers from opentelemetry-proto; the rest is skipped.
/// </summary>
public sealed class OtlpReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly Sink _sink;

    private OtlpReceiver(WebApplication app, Sink sink, string address)
    {
        _app = app;
        _sink = sink;
        Address = address;
    }

    /// <summary>The endpoint to give an exporter (<c>http://127.0.0.1:port</c>).</summary>
    public string Address { get; }

    /// <summary>Every span received so far, with the <c>service.name</c> of the resource that sent it.</summary>
    public IReadOnlyList<(string Service, OtlpSpan Span)> Spans => [.. _sink.Spans];

    /// <summary>Names of every metric received so far.</summary>
    public IReadOnlyCollection<string> MetricNames => [.. _sink.MetricNames.Keys];

    public static async Task<OtlpReceiver> StartAsync()
    {
        var port = TestEnvironment.FreeTcpPort();
        var builder = WebApplication.CreateSlimBuilder();
        // The test folder holds the host's appsettings.json, whose Kestrel endpoints (50051/50052) this server would bind
        // as well: it listens on its own port only.
        builder.Configuration.Sources.Clear();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, port, l => l.Protocols = HttpProtocols.Http2));
        var sink = new Sink();
        builder.Services.AddSingleton(sink);
        builder.Services.AddCodeFirstGrpc();
        var app = builder.Build();
        app.MapGrpcService<TraceCollector>();
        app.MapGrpcService<MetricsCollector>();
        await app.StartAsync();
        return new OtlpReceiver(app, sink, $"http://127.0.0.1:{port}");
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    internal sealed class Sink
    {
        public ConcurrentQueue<(string, OtlpSpan)> Spans { get; } = new();

        public ConcurrentDictionary<string, bool> MetricNames { get; } = new(StringComparer.Ordinal);
    }

    [Service("opentelemetry.proto.collector.trace.v1.TraceService")]
    public interface ITraceCollector
    {
        ValueTask<ExportTraceServiceResponse> ExportAsync(ExportTraceServiceRequest request);
    }

    [Service("opentelemetry.proto.collector.metrics.v1.MetricsService")]
    public interface IMetricsCollector
    {
        ValueTask<ExportMetricsServiceResponse> ExportAsync(ExportMetricsServiceRequest request);
    }

    private sealed class TraceCollector(Sink sink) : ITraceCollector
    {
        public ValueTask<ExportTraceServiceResponse> ExportAsync(ExportTraceServiceRequest request)
        {
            foreach (var resource in request.ResourceSpans)
            {
                var service = resource.Resource?.Attributes.FirstOrDefault(a => a.Key == "service.name")?.Value?.StringValue ?? "";
                foreach (var span in resource.ScopeSpans.SelectMany(s => s.Spans))
                {
                    sink.Spans.Enqueue((service, span));
                }
            }

            return ValueTask.FromResult(new ExportTraceServiceResponse());
        }
    }

    private sealed class MetricsCollector(Sink sink) : IMetricsCollector
    {
        public ValueTask<ExportMetricsServiceResponse> ExportAsync(ExportMetricsServiceRequest request)
        {
            foreach (var metric in request.ResourceMetrics.SelectMany(r => r.ScopeMetrics).SelectMany(s => s.Metrics))
            {
                sink.MetricNames[metric.Name] = true;
            }

            return ValueTask.FromResult(new ExportMetricsServiceResponse());
        }
    }
}

#pragma warning disable CA1819, CA1002, CA2227 // wire shapes: repeated fields as lists, byte ids as arrays

[ProtoContract]
public sealed class ExportTraceServiceRequest
{
    [ProtoMember(1)] public List<ResourceSpans> ResourceSpans { get; set; } = [];
}

[ProtoContract]
public sealed class ExportTraceServiceResponse;

[ProtoContract]
public sealed class ResourceSpans
{
    [ProtoMember(1)] public OtlpResource? Resource { get; set; }

    [ProtoMember(2)] public List<ScopeSpans> ScopeSpans { get; set; } = [];
}

[ProtoContract]
public sealed class OtlpResource
{
    [ProtoMember(1)] public List<OtlpKeyValue> Attributes { get; set; } = [];
}

[ProtoContract]
public sealed class ScopeSpans
{
    [ProtoMember(2)] public List<OtlpSpan> Spans { get; set; } = [];
}

/// <summary>opentelemetry.proto.trace.v1.Span; <see cref="Kind"/> 2 is SERVER, 3 CLIENT.</summary>
[ProtoContract]
public sealed class OtlpSpan
{
    [ProtoMember(1)] public byte[] TraceId { get; set; } = [];

    [ProtoMember(2)] public byte[] SpanId { get; set; } = [];

    [ProtoMember(4)] public byte[] ParentSpanId { get; set; } = [];

    [ProtoMember(5)] public string Name { get; set; } = "";

    [ProtoMember(6)] public int Kind { get; set; }

    [ProtoMember(9)] public List<OtlpKeyValue> Attributes { get; set; } = [];

    [IgnoreDataMember] public string Trace => Convert.ToHexStringLower(TraceId);

    [IgnoreDataMember] public string Id => Convert.ToHexStringLower(SpanId);

    [IgnoreDataMember] public string Parent => Convert.ToHexStringLower(ParentSpanId);

    public string? Attribute(string key) => Attributes.FirstOrDefault(a => a.Key == key)?.Value?.StringValue;
}

[ProtoContract]
public sealed class OtlpKeyValue
{
    [ProtoMember(1)] public string Key { get; set; } = "";

    [ProtoMember(2)] public OtlpAnyValue? Value { get; set; }
}

[ProtoContract]
public sealed class OtlpAnyValue
{
    [ProtoMember(1)] public string? StringValue { get; set; }
}

[ProtoContract]
public sealed class ExportMetricsServiceRequest
{
    [ProtoMember(1)] public List<ResourceMetrics> ResourceMetrics { get; set; } = [];
}

[ProtoContract]
public sealed class ExportMetricsServiceResponse;

[ProtoContract]
public sealed class ResourceMetrics
{
    [ProtoMember(2)] public List<ScopeMetrics> ScopeMetrics { get; set; } = [];
}

[ProtoContract]
public sealed class ScopeMetrics
{
    [ProtoMember(2)] public List<OtlpMetric> Metrics { get; set; } = [];
}

[ProtoContract]
public sealed class OtlpMetric
{
    [ProtoMember(1)] public string Name { get; set; } = "";
}
