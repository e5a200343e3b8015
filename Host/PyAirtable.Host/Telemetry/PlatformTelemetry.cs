using Npgsql;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using PyAirtable.Services.Infrastructure.Telemetry;

namespace PyAirtable.Host.Telemetry;

/// <summary>
/// Traces and metrics (section <c>OpenTelemetry</c>). Both are on unless switched off (<c>Traces</c>,
/// <c>Metrics</c>: the switches exist to measure what they cost): with traces on, trace context crosses hosts
/// and every log line carries a trace id. Spans and metrics leave the process only when
/// <c>OpenTelemetry:OtlpEndpoint</c> is set; metrics are also scraped from <c>/metrics</c> on the probe endpoint.
/// </summary>
internal static class PlatformTelemetry
{
    public const string Section = "OpenTelemetry";

    public static void AddPlatformTelemetry(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        var configuration = builder.Configuration;
        var serviceName = configuration[$"{Section}:ServiceName"] ?? "pyairtable";
        var otlp = configuration[$"{Section}:OtlpEndpoint"];
        var otlpEndpoint = string.IsNullOrWhiteSpace(otlp) ? null : new Uri(otlp);
        // gRPC (port 4317) unless told otherwise; with http/protobuf (4318) the signal's path is appended here, as the exporter
        // does only for an endpoint from its environment variables.
        var otlpProtocol = string.Equals(configuration[$"{Section}:OtlpProtocol"], "http/protobuf", StringComparison.OrdinalIgnoreCase)
            ? OtlpExportProtocol.HttpProtobuf
            : OtlpExportProtocol.Grpc;

        // Next to the request id scope: one trace id joins the log lines of every host a call went through.
        builder.Logging.Configure(o => o.ActivityTrackingOptions = ActivityTrackingOptions.TraceId | ActivityTrackingOptions.SpanId);
        services.AddSingleton<PlatformMetrics>();

        var tracesOn = configuration.GetValue($"{Section}:Traces", true);
        var metricsOn = configuration.GetValue($"{Section}:Metrics", true);
        // OpenTelemetry's default is a push a minute; a collector behind it usually wants more often.
        var exportInterval = configuration.GetValue($"{Section}:MetricExportInterval", TimeSpan.FromSeconds(60));
        services.AddSingleton(new TelemetrySwitches(tracesOn, metricsOn));

        var telemetry = services.AddOpenTelemetry().ConfigureResource(r => r.AddService(serviceName));
        if (tracesOn)
        {
            // Head sampling of new traces; a call that arrives with a sampled parent is always recorded, so one trace is
            // whole on every host it crosses. Trace ids reach logs and downstream metadata whether sampled or not. Without
            // an exporter nobody would read a recorded span: new traces are then only propagated unless a ratio is set
            // (recording every span cost about a tenth of a cached read's throughput, bench-gateway).
            var ratio = Math.Clamp(configuration.GetValue($"{Section}:TraceSampleRatio", otlpEndpoint is null ? 0.0 : 1.0), 0, 1);
            AddTracing(telemetry, otlpEndpoint, otlpProtocol, ratio);
        }

        if (metricsOn)
        {
            AddMetrics(telemetry, otlpEndpoint, otlpProtocol, exportInterval);
        }
    }

    private static void AddTracing(OpenTelemetry.OpenTelemetryBuilder telemetry, Uri? otlpEndpoint, OtlpExportProtocol otlpProtocol, double ratio) =>
        telemetry.WithTracing(t =>
        {
            t.SetSampler(new ParentBasedSampler(new TraceIdRatioBasedSampler(ratio)));
            t.AddAspNetCoreInstrumentation(o =>
            {
                // Probes and scrapes come every few seconds and say nothing about the platform's work.
                // JSON/HTTP calls are traced too: their paths are versioned (/v1/…), and they become gRPC calls later.
                o.Filter = http => http.Request.ContentType?.StartsWith("application/grpc", StringComparison.Ordinal) == true
                    || Gateway.Rest.RestRouteTable.IsVersionedPath(http.Request.Path);
            });
            // Remote contracts: one client span per call; the HTTP span below it would repeat it.
            t.AddGrpcClientInstrumentation(o => o.SuppressDownstreamInstrumentation = true);
            t.AddNpgsql();
            t.AddRedisInstrumentation();
            if (otlpEndpoint is not null)
            {
                t.AddOtlpExporter(o => Configure(o, otlpEndpoint, otlpProtocol, "v1/traces"));
            }
        });

    private static void AddMetrics(OpenTelemetry.OpenTelemetryBuilder telemetry, Uri? otlpEndpoint, OtlpExportProtocol otlpProtocol,
        TimeSpan exportInterval) =>
        telemetry.WithMetrics(m =>
        {
            m.AddMeter(PlatformMetrics.MeterName);
            m.AddRuntimeInstrumentation();
            // Connection pools: db.client.connection.count by state, .max, pending requests and timeouts per pool.
            m.AddNpgsqlInstrumentation();
            m.AddPrometheusExporter();
            if (otlpEndpoint is not null)
            {
                m.AddOtlpExporter((o, reader) =>
                {
                    Configure(o, otlpEndpoint, otlpProtocol, "v1/metrics");
                    reader.PeriodicExportingMetricReaderOptions.ExportIntervalMilliseconds = (int)Math.Max(100, exportInterval.TotalMilliseconds);
                });
            }
        });

    /// <summary>The Prometheus scrape endpoint, answered only on the probe endpoint's port so callers of the API never see it.</summary>
    public static void UsePlatformTelemetry(this WebApplication app)
    {
        var probePort = ProbePortOf(app.Configuration);
        var metrics = app.Services.GetRequiredService<TelemetrySwitches>().Metrics;
        if (metrics)
        {
            app.UseOpenTelemetryPrometheusScrapingEndpoint(
                http => http.Connection.LocalPort == probePort && http.Request.Path == "/metrics");
        }

        // The same timing feeds the RPC metrics and the Analytics service's records: either one needs it.
        if (metrics || app.Services.GetService<ICallRecorder>() is { Enabled: true })
        {
            app.UseMiddleware<RpcMetricsMiddleware>();
        }
    }

    /// <summary>The port of the probe endpoint (<c>Kestrel:Endpoints:Probes:Url</c>), or -1 when there is none.</summary>
    internal static int ProbePortOf(IConfiguration configuration)
    {
        // Kestrel also takes "*" and "+" for any address, which Uri does not parse: only the port matters here.
        var probes = configuration["Kestrel:Endpoints:Probes:Url"]?.Replace("://*", "://any", StringComparison.Ordinal)
            .Replace("://+", "://any", StringComparison.Ordinal);
        return Uri.TryCreate(probes, UriKind.Absolute, out var uri) ? uri.Port : -1;
    }

    private static void Configure(OtlpExporterOptions options, Uri endpoint, OtlpExportProtocol protocol, string signalPath)
    {
        options.Protocol = protocol;
        options.Endpoint = protocol == OtlpExportProtocol.HttpProtobuf
            ? new Uri(endpoint.AbsoluteUri.TrimEnd('/') + "/" + signalPath)
            : endpoint;
    }
}

/// <summary>Which signals this host produces (<c>OpenTelemetry:Traces</c>, <c>OpenTelemetry:Metrics</c>).</summary>
internal sealed record TelemetrySwitches(bool Traces, bool Metrics);
