using Grpc.Health.V1;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ProtoBuf.Grpc.Client;
using PyAirtable.Host;
using PyAirtable.IntegrationTests.Diagnostics;
using PyAirtable.Services.Infrastructure;
using PyAirtable.Services.Infrastructure.Contracts;
using PyAirtable.Services.Infrastructure.Events;

namespace PyAirtable.IntegrationTests.Infrastructure;

public sealed class TestHostOptions
{
    /// <summary>Configuration keys, as a deployment would set them (they are passed as command-line args).</summary>
    public Dictionary<string, string?> Settings { get; } = [];

    /// <summary>Use the suite's Redis; false runs the host without Redis (single-instance mode).</summary>
    public bool WithRedis { get; set; } = true;

    public string Name { get; set; } = "host";

    /// <summary>Registers the test event consumer that records what it handles.</summary>
    public RecordingConsumer? Consumer { get; set; }

    /// <summary><c>https</c> for a host with platform mTLS (Mtls:* settings); the test channel then uses <see cref="ClientHandler"/>.</summary>
    public string Scheme { get; set; } = "http";

    /// <summary>The handler of <see cref="TestHost.Channel"/> (its TLS settings); null: the default.</summary>
    public HttpMessageHandler? ClientHandler { get; set; }

    /// <summary>Last word on the host's services (e.g. a fault-injecting decorator).</summary>
    public Action<IServiceCollection>? ConfigureServices { get; set; }
}

/// <summary>
/// The real host, composed by <see cref="PlatformHost"/> exactly as Program.cs does, plus the
/// test-only diagnostics service, listening on free loopback ports.
/// </summary>
public sealed class TestHost : IAsyncDisposable
{
    public const string DiagnosticsServiceName = "pyairtable.testing.v1.DiagnosticsService";

    private TestHost(WebApplication app, LogSink logs, string grpcAddress, string probeAddress, string httpAddress, HttpMessageHandler? handler = null)
    {
        HttpAddress = httpAddress;
        App = app;
        Logs = logs;
        GrpcAddress = grpcAddress;
        ProbeAddress = probeAddress;
        Channel = handler is null ? GrpcChannel.ForAddress(grpcAddress) : GrpcChannel.ForAddress(grpcAddress, new GrpcChannelOptions { HttpHandler = handler });
    }

    public WebApplication App { get; }

    private InFlightRequests? _inFlight;

    /// <summary>Waits (bounded) until no request is running on the server: what the last calls log has been logged.</summary>
    public void WaitForQuiet(TimeSpan? timeout = null)
    {
        var until = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(5));
        while (_inFlight is { Count: > 0 } && DateTime.UtcNow < until)
        {
            Thread.Sleep(10);
        }
    }

    public LogSink Logs { get; }

    public string GrpcAddress { get; }

    public string ProbeAddress { get; }

    /// <summary>The HTTP/1.1 endpoint: the JSON/HTTP API and gRPC-Web.</summary>
    public string HttpAddress { get; }

    public GrpcChannel Channel { get; }

    public IDiagnosticsService Diagnostics => Channel.CreateGrpcService<IDiagnosticsService>();

    public Grpc.Health.V1.Health.HealthClient Health => new(Channel);

    /// <summary>
    /// One host of a topology a test starts: named <paramref name="name"/> (its log lines say so), sharing the other hosts'
    /// Redis key prefix, with <paramref name="settings"/> set after what <paramref name="configure"/> sets.
    /// </summary>
    public static Task<TestHost> StartAsync(string postgresConnectionString, string name, string redisPrefix,
        IEnumerable<(string Key, string Value)> settings, Action<TestHostOptions>? configure = null) =>
        StartAsync(postgresConnectionString, o =>
        {
            o.Name = name;
            configure?.Invoke(o);
            o.Settings["Redis:InstanceName"] = redisPrefix;
            foreach (var (key, value) in settings)
            {
                o.Settings[key] = value;
            }
        });

    public static async Task<TestHost> StartAsync(string postgresConnectionString, Action<TestHostOptions>? configure = null)
    {
        var options = new TestHostOptions();
        configure?.Invoke(options);
        var grpcPort = TestEnvironment.FreeTcpPort();
        var probePort = TestEnvironment.FreeTcpPort();
        var httpPort = TestEnvironment.FreeTcpPort();

        var settings = new Dictionary<string, string?>
        {
            ["Kestrel:Endpoints:Grpc:Url"] = $"{options.Scheme}://127.0.0.1:{grpcPort}",
            ["Kestrel:Endpoints:Grpc:Protocols"] = "Http2",
            ["Kestrel:Endpoints:Probes:Url"] = $"http://127.0.0.1:{probePort}",
            ["Kestrel:Endpoints:Probes:Protocols"] = "Http1",
            ["Kestrel:Endpoints:Http:Url"] = $"http://127.0.0.1:{httpPort}",
            ["Kestrel:Endpoints:Http:Protocols"] = "Http1",
            ["ConnectionStrings:Postgres"] = postgresConnectionString,
            ["ConnectionStrings:Redis"] = options.WithRedis ? TestEnvironment.Redis : "",
            ["Redis:InstanceName"] = $"test-{Guid.NewGuid():N}:",
            ["Health:PublishPeriod"] = "00:00:01",
            ["Events:RetryDelay"] = "00:00:00.050",
            ["Events:RebalanceInterval"] = "00:00:00.500",
            // Tests call far faster than any client may: the limits stay on (the path is exercised) but out of reach,
            // unless a test sets its own (RateLimitTests).
            ["RateLimits:Classes:default:PerCredential"] = "1000000",
            ["RateLimits:Classes:default:PerBase"] = "1000000",
            ["RateLimits:Classes:default:PerClientIp"] = "1000000",
            // Spans recorded, as with an exporter. Tests share one process, where a host that only propagates (the default
            // without OTLP) could leave unrecorded the spans another host's test reads through the instruments they share.
            ["OpenTelemetry:TraceSampleRatio"] = "1",
        };
        foreach (var (key, value) in options.Settings)
        {
            settings[key] = value;
        }

        var args = settings.Select(kv => $"--{kv.Key}={kv.Value}").ToArray();
        var builder = PlatformHost.CreateBuilder(args);
        var logs = new LogSink();
        builder.Logging.ClearProviders();
        builder.Logging.AddProvider(logs);
        builder.Logging.SetMinimumLevel(LogLevel.Information);

        // Test-only contracts, bound like any service: in process, or remote when Remote:<name> is set.
        builder.Services.AddContract<IDiagnosticsService, DiagnosticsService>(builder.Configuration);
        builder.Services.AddContract<IRelayService, RelayService>(builder.Configuration);
        builder.Services.AddContract<IPermissionRelayService, PermissionRelayService>(builder.Configuration);
        builder.Services.AddServiceMigrations("testing", typeof(DiagnosticsService).Assembly);
        if (options.Consumer is { } consumer)
        {
            consumer.HostName = options.Name;
            consumer.ConnectionString = postgresConnectionString;
            builder.Services.AddSingleton(consumer);
            builder.Services.AddEventConsumer<RecordingConsumer>(RecordingConsumer.Name);
        }

        // Counts requests in flight, so a test can wait for the server side of its calls to end (a call the client
        // cancelled may still be running, and logging, on the server) before it judges the host's logs.
        var inFlight = new InFlightRequests();
        builder.Services.AddSingleton<Microsoft.AspNetCore.Hosting.IStartupFilter>(inFlight);
        options.ConfigureServices?.Invoke(builder.Services);
        var app = PlatformHost.Build(builder);
        await PlatformHost.StartAsync(app);
        return new TestHost(app, logs, $"{options.Scheme}://127.0.0.1:{grpcPort}", $"http://127.0.0.1:{probePort}", $"http://127.0.0.1:{httpPort}",
            options.ClientHandler)
        {
            _inFlight = inFlight,
        };
    }

    public async ValueTask DisposeAsync()
    {
        Channel.Dispose();
        await App.StopAsync();
        await App.DisposeAsync();
        // Errors logged while this host ran that no test took fail the test that owned it.
        var unexpected = Logs.UnexpectedErrors;
        Assert.True(unexpected.Count == 0, "Unexpected error logs:\n" + string.Join("\n", unexpected));
    }
}

/// <summary>
/// A middleware first in the pipeline that counts the requests being served, and numbers each request (process-wide, in the
/// order they start) so that what a request logs can be told apart from what later requests log.
/// </summary>
internal sealed class InFlightRequests : Microsoft.AspNetCore.Hosting.IStartupFilter
{
    private static readonly AsyncLocal<long> CurrentRequest = new();
    private static long _started;
    private int _count;

    public int Count => Volatile.Read(ref _count);

    /// <summary>How many requests have started in this process: a request numbered above it starts later.</summary>
    public static long Started => Interlocked.Read(ref _started);

    /// <summary>The number of the request whose code is running (0 outside any request: background work, the transport).</summary>
    public static long Current => CurrentRequest.Value;

    public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
    {
        app.Use(async (context, nextMiddleware) =>
        {
            Interlocked.Increment(ref _count);
            CurrentRequest.Value = Interlocked.Increment(ref _started);
            try
            {
                await nextMiddleware(context);
            }
            finally
            {
                Interlocked.Decrement(ref _count);
            }
        });
        next(app);
    };
}
