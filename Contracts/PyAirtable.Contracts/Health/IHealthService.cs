using ProtoBuf;
using ProtoBuf.Grpc;
using ProtoBuf.Grpc.Configuration;
using PyAirtable.Contracts.Common;

namespace PyAirtable.Contracts.Health;

/// <summary>
/// The platform's health in detail: the status of the host or of one hosted service, with the
/// state of every dependency behind it. Load balancers and Kubernetes should use the standard
/// <c>grpc.health.v1.Health</c> service (same statuses); this one is for operators and dashboards.
/// </summary>
[Service("pyairtable.health.v1.HealthService")]
public interface IHealthService
{
    /// <summary>The current status of the host or of one service, with its dependencies.</summary>
    [HttpRoute("GET", "/v1/health")]
    ValueTask<CheckResponse> CheckAsync(CheckRequest request, CallContext context = default);

    /// <summary>The current status at once, then a new message every time it changes, until the call ends or the host stops.</summary>
    [HttpRoute("GET", "/v1/health:watch")]
    IAsyncEnumerable<WatchResponse> WatchAsync(WatchRequest request, CallContext context = default);

    /// <summary>
    /// The circuit breaker of every contract this host calls on another host (<c>Remote:</c> bindings), in service name
    /// order; empty when every contract runs in this host. Needs an admin's or a platform service's credentials.
    /// </summary>
    [HttpRoute("GET", "/v1/health/circuitBreakers")]
    ValueTask<ListCircuitBreakersResponse> ListCircuitBreakersAsync(ListCircuitBreakersRequest request, CallContext context = default);
}

/// <summary>Asks for every circuit breaker of this host.</summary>
[ProtoContract]
public sealed record ListCircuitBreakersRequest;

/// <summary>The circuit breakers of this host's remote contracts.</summary>
[ProtoContract]
public sealed record ListCircuitBreakersResponse
{
    /// <summary>One per remote service, in service name order.</summary>
    [ProtoMember(1)] public List<CircuitBreakerInfo> Breakers { get; init; } = [];
}

/// <summary>The state of a circuit breaker of calls to a service on another host.</summary>
[ProtoContract]
public enum CircuitBreakerState
{
    /// <summary>Not set.</summary>
    [ProtoEnum(Name = "CIRCUIT_BREAKER_STATE_UNSPECIFIED")] Unspecified = 0,

    /// <summary>Calls go through; failures are counted.</summary>
    [ProtoEnum(Name = "CIRCUIT_BREAKER_STATE_CLOSED")] Closed = 1,

    /// <summary>Too many calls failed: calls fail at once with UNAVAILABLE and RetryInfo until <c>next_attempt</c>.</summary>
    [ProtoEnum(Name = "CIRCUIT_BREAKER_STATE_OPEN")] Open = 2,

    /// <summary>The break is over: one trial call decides whether the breaker closes or opens again.</summary>
    [ProtoEnum(Name = "CIRCUIT_BREAKER_STATE_HALF_OPEN")] HalfOpen = 3,

    /// <summary>Held open by an operator until released.</summary>
    [ProtoEnum(Name = "CIRCUIT_BREAKER_STATE_ISOLATED")] Isolated = 4,
}

/// <summary>One remote service's circuit breaker (the seed's <c>CircuitBreakerInfo</c>, same field numbers).</summary>
[ProtoContract]
public sealed record CircuitBreakerInfo
{
    /// <summary>The full gRPC service name, e.g. <c>pyairtable.users.v1.UserService</c>.</summary>
    [ProtoMember(1)] public string Service { get; init; } = "";

    /// <summary>The breaker's state now.</summary>
    [ProtoMember(2)] public CircuitBreakerState State { get; init; }

    /// <summary>Calls that failed (UNAVAILABLE, DEADLINE_EXCEEDED, INTERNAL, UNKNOWN) since the breaker last closed.</summary>
    [ProtoMember(3)] public int FailureCount { get; init; }

    /// <summary>While open: when a trial call will be let through (UTC). Unset otherwise.</summary>
    [ProtoMember(6)] public DateTime? NextAttempt { get; init; }
}

/// <summary>Which status to report.</summary>
[ProtoContract]
public sealed record CheckRequest
{
    /// <summary>A fully qualified service name (e.g. <c>pyairtable.health.v1.HealthService</c>); empty for the whole host. At most 200 characters.</summary>
    [ProtoMember(1)] public string Service { get; init; } = "";
}

/// <summary>The status of the host or of one service.</summary>
[ProtoContract]
public sealed record CheckResponse
{
    /// <summary>The service the status is for; empty for the whole host.</summary>
    [ProtoMember(1)] public string Service { get; init; } = "";

    /// <summary>SERVING when every dependency of the service is healthy and the host is not shutting down.</summary>
    [ProtoMember(2)] public HealthStatus Status { get; init; }

    /// <summary>The dependencies the status is computed from, in name order.</summary>
    [ProtoMember(3)] public List<DependencyHealth> Dependencies { get; init; } = [];

    /// <summary>When the dependencies were last checked (UTC).</summary>
    [ProtoMember(4)] public DateTime? CheckedAt { get; init; }

    /// <summary>
    /// True while a dependency works only in part (e.g. a remote service's circuit breaker is open): the host still
    /// serves (status SERVING) but calls that need that dependency fail fast.
    /// </summary>
    [ProtoMember(5)] public bool Degraded { get; init; }
}

/// <summary>Which status to follow.</summary>
[ProtoContract]
public sealed record WatchRequest
{
    /// <summary>A fully qualified service name; empty for the whole host. At most 200 characters.</summary>
    [ProtoMember(1)] public string Service { get; init; } = "";
}

/// <summary>One status change.</summary>
[ProtoContract]
public sealed record WatchResponse
{
    /// <summary>The status after the change.</summary>
    [ProtoMember(1)] public CheckResponse? Health { get; init; }
}

/// <summary>The state of one dependency (a database, a cache, the host's own lifecycle).</summary>
[ProtoContract]
public sealed record DependencyHealth
{
    /// <summary>The dependency's name, e.g. <c>postgres</c>, <c>redis</c>, <c>shutdown</c>.</summary>
    [ProtoMember(1)] public string Name { get; init; } = "";

    /// <summary>SERVING when the dependency answered; NOT_SERVING otherwise.</summary>
    [ProtoMember(2)] public HealthStatus Status { get; init; }

    /// <summary>Why it is not serving; empty when it is.</summary>
    [ProtoMember(3)] public string Description { get; init; } = "";

    /// <summary>How long the check took.</summary>
    [ProtoMember(4)] public TimeSpan? Duration { get; init; }

    /// <summary>True when the dependency works only in part; <c>description</c> says what is missing.</summary>
    [ProtoMember(5)] public bool Degraded { get; init; }
}
