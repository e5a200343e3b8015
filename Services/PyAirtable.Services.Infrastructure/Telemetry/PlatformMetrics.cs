using System.Diagnostics;
using System.Diagnostics.Metrics;
using PyAirtable.Contracts.Health;
using PyAirtable.Services.Infrastructure.Contracts;
using PyAirtable.Services.Infrastructure.Events;

namespace PyAirtable.Services.Infrastructure.Telemetry;

/// <summary>
/// The platform's own instruments (meter <see cref="MeterName"/>). Created once per host through
/// <see cref="IMeterFactory"/>, so hosts in one process (tests) keep separate instruments.
/// </summary>
public sealed class PlatformMetrics
{
    /// <summary>The meter the host's telemetry exports.</summary>
    public const string MeterName = "PyAirtable";

    // Seconds, as OpenTelemetry's rpc semantic conventions ask; buckets from 1 ms to 10 s, where RPCs live.
    private static readonly double[] DurationBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    // gRPC's status codes, 0 (OK) to 16 (UNAUTHENTICATED).
    private static readonly object[] BoxedStatusCodes = [.. Enumerable.Range(0, 17).Select(c => (object)c)];

    private readonly Histogram<double> _rpcDuration;
    private readonly Counter<long> _rateLimitRefusals;

    public PlatformMetrics(IMeterFactory meters, IServiceProvider services)
    {
        ArgumentNullException.ThrowIfNull(meters);
        var meter = meters.Create(MeterName);
        _rpcDuration = meter.CreateHistogram("rpc.server.call.duration", "s",
            "Duration of RPCs served, by service, method and gRPC status code (its count is the call rate).",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = DurationBuckets });
        _rateLimitRefusals = meter.CreateCounter<long>("pyairtable.rate_limit.refusals", "{call}",
            "Calls the gateway refused as over a rate limit, by limit and RPC class.");
        // Observed at collection only: the breakers exist only when a contract is remote, so look them up then.
        meter.CreateObservableGauge("pyairtable.circuit_breaker.state", () => ObserveBreakers(services), "{state}",
            "State of each remote service's circuit breaker: 0 closed, 1 half-open, 2 open, 3 isolated.");

        // The event stream's lag, as last sampled from PostgreSQL (EventStreamLag); nothing is reported before a sample.
        meter.CreateObservableGauge("pyairtable.events.outbox.unsequenced", () => Lag<long>(services, l => [new Measurement<long>(l.Unsequenced)]),
            "{event}", "Committed events the relay has not yet given a stream position.");
        meter.CreateObservableGauge("pyairtable.events.outbox.oldest_unsequenced", () => Lag<double>(services,
            l => [new Measurement<double>(l.OldestUnsequencedSeconds)]), "s", "Age of the oldest event still waiting for the relay.");
        meter.CreateObservableGauge("pyairtable.events.stream.unpublished", () => Lag<long>(services,
            l => l.Unpublished is { } n ? [new Measurement<long>(n)] : []), "{event}", "Events with a position not yet published to Redis.");
        meter.CreateObservableGauge("pyairtable.events.consumer.lag", () => Lag<long>(services,
            l => l.Consumers.Select(c => new Measurement<long>(c.Events, new KeyValuePair<string, object?>("consumer", c.Consumer)))),
            "{event}", "Events in the stream after a consumer's checkpoints.");
        meter.CreateObservableGauge("pyairtable.events.consumer.oldest_unhandled", () => Lag<double>(services,
            l => l.Consumers.Select(c => new Measurement<double>(c.OldestSeconds, new KeyValuePair<string, object?>("consumer", c.Consumer)))),
            "s", "Age of the oldest event a consumer has not handled (0 when caught up).");

        // Past ChangeFeed:Bound the in-process mirrors stop answering and every check goes to Redis or PostgreSQL again.
        meter.CreateObservableGauge("pyairtable.change_feed.age", () =>
            services.GetService(typeof(SharedState.ChangeFeed)) is SharedState.ChangeFeed { Age: { } age }
                ? [new Measurement<double>(age.TotalSeconds)]
                : Array.Empty<Measurement<double>>(),
            "s", "Time since this host was last proven current with the change feed that keeps its in-process mirrors.");
    }

    /// <summary>Records one served RPC.</summary>
    /// <param name="protocol">How the call arrived: <c>grpc</c>, <c>grpc_web</c> or <c>rest</c> (JSON/HTTP), so owners see each
    /// method's share by protocol before switching JSON/HTTP routes off.</param>
    public void RecordRpc(string service, string method, int grpcStatus, double seconds, string protocol = "grpc")
    {
        if (!_rpcDuration.Enabled)
        {
            return;
        }

        // A TagList holds up to eight tags inline and the status codes are boxed once: recording allocates nothing.
        var tags = new TagList
        {
            { "rpc.system", "grpc" },
            { "rpc.service", service },
            { "rpc.method", method },
            { "pyairtable.protocol", protocol },
            { "rpc.grpc.status_code", (uint)grpcStatus < (uint)BoxedStatusCodes.Length ? BoxedStatusCodes[grpcStatus] : grpcStatus },
        };
        _rpcDuration.Record(seconds, in tags);
    }

    /// <summary>Counts one rate-limit refusal.</summary>
    public void RecordRateLimitRefusal(string limit, string rpcClass) =>
        _rateLimitRefusals.Add(1, new KeyValuePair<string, object?>("limit", limit),
            new KeyValuePair<string, object?>("rpc_class", rpcClass));

    private static IEnumerable<Measurement<T>> Lag<T>(IServiceProvider services, Func<EventLagSample, IEnumerable<Measurement<T>>> read)
        where T : struct =>
        services.GetService(typeof(EventStreamLag)) is EventStreamLag { Current: { } sample } ? read(sample) : [];

    private static IEnumerable<Measurement<int>> ObserveBreakers(IServiceProvider services)
    {
        if (services.GetService(typeof(RemoteCircuitBreakers)) is not RemoteCircuitBreakers breakers)
        {
            return [];
        }

        return breakers.Snapshot().Select(b => new Measurement<int>(b.State switch
        {
            CircuitBreakerState.Closed => 0,
            CircuitBreakerState.HalfOpen => 1,
            CircuitBreakerState.Open => 2,
            _ => 3,
        }, new KeyValuePair<string, object?>("service", b.Service)));
    }
}
