using System.Collections.Concurrent;
using Grpc.Core;
using Grpc.Net.Client;
using Grpc.Net.Client.Configuration;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace PyAirtable.Services.Infrastructure.Contracts;

/// <summary>
/// One pooled HTTP/2 channel per remote host, shared by every contract it serves. The channel retries the
/// idempotent reads of those contracts (<see cref="RemoteCallOptions.IsIdempotent"/>) on UNAVAILABLE with
/// grpc-dotnet's retry policy; nothing else is retried, since a failed write may have been applied.
/// </summary>
public sealed class RemoteChannels(IEnumerable<ContractBinding> bindings, IOptions<RemoteCallOptions> options) : IDisposable
{
    private readonly ConcurrentDictionary<Uri, GrpcChannel> _channels = new();

    public GrpcChannel Get(Uri address) => _channels.GetOrAdd(address, a => GrpcChannel.ForAddress(a, new GrpcChannelOptions
    {
        HttpHandler = new SocketsHttpHandler
        {
            EnableMultipleHttp2Connections = true,
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5),
            KeepAlivePingDelay = TimeSpan.FromSeconds(60),
            KeepAlivePingTimeout = TimeSpan.FromSeconds(30),
        },
        ServiceConfig = RetryConfig(a),
    }));

    private ServiceConfig? RetryConfig(Uri address)
    {
        var settings = options.Value;
        var reads = bindings
            .Where(b => b.RemoteAddress == address)
            .SelectMany(b => RemoteCallOptions.MethodNamesOf(b.Contract).Where(RemoteCallOptions.IsIdempotent).Select(m => new MethodName
            {
                Service = b.ServiceName,
                Method = m,
            }))
            .ToList();
        if (reads.Count == 0 || settings.MaxAttempts < 2)
        {
            return null;
        }

        var config = new MethodConfig
        {
            RetryPolicy = new RetryPolicy
            {
                MaxAttempts = settings.MaxAttempts,
                InitialBackoff = settings.InitialBackoff,
                MaxBackoff = TimeSpan.FromSeconds(1),
                BackoffMultiplier = 2,
                RetryableStatusCodes = { StatusCode.Unavailable },
            },
        };
        foreach (var read in reads)
        {
            config.Names.Add(read);
        }

        return new ServiceConfig { MethodConfigs = { config } };
    }

    public void Dispose()
    {
        foreach (var channel in _channels.Values)
        {
            channel.Dispose();
        }
    }
}

/// <summary>Degraded (not unhealthy: the host still serves what does not need them) while a remote service's breaker is open.</summary>
public sealed class RemoteContractsHealthCheck(RemoteCircuitBreakers breakers) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        // Health is public: the count, not the names (which contracts live elsewhere is topology); ListCircuitBreakers names them.
        var open = breakers.Snapshot().Count(b => b.State != PyAirtable.Contracts.Health.CircuitBreakerState.Closed);
        return Task.FromResult(open == 0
            ? HealthCheckResult.Healthy()
            : HealthCheckResult.Degraded($"{open} remote service(s) failing: their circuit breaker is open"));
    }
}
