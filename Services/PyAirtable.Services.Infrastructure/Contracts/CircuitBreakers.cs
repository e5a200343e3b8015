using System.Collections.Concurrent;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Polly;
using Polly.CircuitBreaker;
using PyAirtable.Contracts.Common;
using PyAirtable.Contracts.Health;
using PyAirtable.Services.Infrastructure.Errors;

namespace PyAirtable.Services.Infrastructure.Contracts;

/// <summary>The circuit breaker of every remote service this host calls, one per service, created on first use.</summary>
public sealed class RemoteCircuitBreakers(IOptions<RemoteCallOptions> options, TimeProvider time, ILoggerFactory loggers)
{
    private readonly ConcurrentDictionary<string, ServiceCircuitBreaker> _breakers = new(StringComparer.Ordinal);

    public ServiceCircuitBreaker For(string service) =>
        _breakers.GetOrAdd(service, s => new ServiceCircuitBreaker(s, options.Value, time, loggers.CreateLogger<ServiceCircuitBreaker>()));

    /// <summary>Every breaker's state now, in service name order.</summary>
    public IReadOnlyList<CircuitBreakerInfo> Snapshot() =>
        [.. _breakers.Values.Select(b => b.Info()).OrderBy(i => i.Service, StringComparer.Ordinal)];
}

/// <summary>
/// A Polly v8 circuit breaker around the calls to one remote service. Polly keeps the state; the failure count
/// and the next attempt are kept here because Polly does not expose them.
/// </summary>
public sealed partial class ServiceCircuitBreaker
{
    private readonly ResiliencePipeline _pipeline;
    private readonly CircuitBreakerStateProvider _state = new();
    private readonly TimeProvider _time;
    private int _failures;
    private long _nextAttemptTicks; // UTC ticks while open; 0 otherwise

    internal ServiceCircuitBreaker(string service, RemoteCallOptions options, TimeProvider time, ILogger<ServiceCircuitBreaker> logger)
    {
        Service = service;
        _time = time;
        _pipeline = new ResiliencePipelineBuilder { TimeProvider = time }
            .AddCircuitBreaker(new CircuitBreakerStrategyOptions
            {
                FailureRatio = options.FailureRatio,
                MinimumThroughput = options.MinimumThroughput,
                SamplingDuration = options.SamplingDuration,
                BreakDuration = options.BreakDuration,
                StateProvider = _state,
                ShouldHandle = new PredicateBuilder().Handle<RpcException>(ex => IsFailure(ex.StatusCode) && Count()),
                OnOpened = args =>
                {
                    Interlocked.Exchange(ref _nextAttemptTicks, (_time.GetUtcNow() + args.BreakDuration).UtcTicks);
                    LogOpened(logger, Service, Volatile.Read(ref _failures), args.BreakDuration);
                    return default;
                },
                OnHalfOpened = _ => default,
                OnClosed = _ =>
                {
                    Interlocked.Exchange(ref _failures, 0);
                    Interlocked.Exchange(ref _nextAttemptTicks, 0);
                    LogClosed(logger, Service);
                    return default;
                },
            })
            .Build();
    }

    public string Service { get; }

    /// <summary>Failures that count: the remote host is unreachable, too slow or broken (not the caller's own errors).</summary>
    public static bool IsFailure(StatusCode status) =>
        status is StatusCode.Unavailable or StatusCode.DeadlineExceeded or StatusCode.Internal or StatusCode.Unknown;

    private bool Count()
    {
        Interlocked.Increment(ref _failures);
        return true;
    }

    public CircuitBreakerInfo Info()
    {
        var state = _state.CircuitState switch
        {
            CircuitState.Closed => CircuitBreakerState.Closed,
            CircuitState.Open => CircuitBreakerState.Open,
            CircuitState.HalfOpen => CircuitBreakerState.HalfOpen,
            CircuitState.Isolated => CircuitBreakerState.Isolated,
            _ => CircuitBreakerState.Unspecified,
        };
        var next = Volatile.Read(ref _nextAttemptTicks);
        return new CircuitBreakerInfo
        {
            Service = Service,
            State = state,
            FailureCount = Volatile.Read(ref _failures),
            NextAttempt = state == CircuitBreakerState.Open && next != 0 ? new DateTime(next, DateTimeKind.Utc) : null,
        };
    }

    /// <summary>Runs <paramref name="call"/> through the breaker; an open breaker throws UNAVAILABLE with RetryInfo at once.</summary>
    public async Task<T> ExecuteAsync<T>(Func<Task<T>> call, string? requestId)
    {
        try
        {
            return await _pipeline.ExecuteAsync(static async (c, _) => await c(), call);
        }
        catch (BrokenCircuitException ex)
        {
            var retryAfter = ex.RetryAfter ?? TimeSpan.FromSeconds(1);
            throw RpcErrors.ToRpcException(new PlatformException(ErrorCode.Unavailable,
                "A service this call depends on is failing; calls to it are paused. Retry after the delay given.",
                new Dictionary<string, string> { ["cause"] = "circuit_open" })
            {
                RetryAfter = retryAfter > TimeSpan.Zero ? retryAfter : TimeSpan.FromMilliseconds(100),
            }, requestId);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "Circuit of {Service} opened after {Failures} failed calls; calls fail at once for {BreakDuration}")]
    private static partial void LogOpened(ILogger logger, string service, int failures, TimeSpan breakDuration);

    [LoggerMessage(Level = LogLevel.Information, Message = "Circuit of {Service} closed: calls go through again")]
    private static partial void LogClosed(ILogger logger, string service);
}

/// <summary>
/// Client interceptor of one remote contract: unary calls go through the service's circuit breaker (streams pass
/// untouched: their failures show mid-stream, after the breaker could judge them).
/// </summary>
public sealed class CircuitBreakerInterceptor(ServiceCircuitBreaker breaker, IHttpContextAccessor accessor) : Interceptor
{
    public override AsyncUnaryCall<TResponse> AsyncUnaryCall<TRequest, TResponse>(
        TRequest request, ClientInterceptorContext<TRequest, TResponse> context, AsyncUnaryCallContinuation<TRequest, TResponse> continuation)
    {
        // The call is started inside the breaker (or never, when it is open); its headers, status and trailers
        // are read from it once it exists.
        AsyncUnaryCall<TResponse>? inner = null;
        var started = new TaskCompletionSource<AsyncUnaryCall<TResponse>>(TaskCreationOptions.RunContinuationsAsynchronously);
        var response = breaker.ExecuteAsync(() =>
        {
            inner = continuation(request, context);
            started.TrySetResult(inner);
            return inner.ResponseAsync;
        }, accessor.HttpContext?.TraceIdentifier);
        response.ContinueWith(t => started.TrySetException(t.Exception!.InnerExceptions), CancellationToken.None,
            TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        return new AsyncUnaryCall<TResponse>(
            response,
            HeadersAsync(started.Task),
            () => inner?.GetStatus() ?? (response.Exception?.InnerException as RpcException)?.Status ?? Status.DefaultSuccess,
            () => inner?.GetTrailers() ?? [],
            () => inner?.Dispose());
    }

    private static async Task<Metadata> HeadersAsync<TResponse>(Task<AsyncUnaryCall<TResponse>> started) =>
        await (await started).ResponseHeadersAsync;
}
