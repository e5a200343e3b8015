using System.Collections.Concurrent;
using Grpc.Core;
using Grpc.Net.Client;
using Grpc.Net.Client.Balancer;
using Grpc.Net.Client.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using PyAirtable.Services.Infrastructure.Security;

namespace PyAirtable.Services.Infrastructure.Contracts;

/// <summary>
/// One channel per remote target (<see cref="RemoteTarget"/>), shared by every contract bound to it. A single address is
/// one pooled HTTP/2 channel; a list or a resolver target is balanced round-robin over the instances the resolver
/// yields, each with its own pooled HTTP/2 connections, taking out those that are not SERVING
/// (<see cref="HealthCheckingResolver"/>) and, for a moment, those that just failed a call (<see cref="FailedInstances"/>).
/// The channel retries the idempotent reads of its contracts (<see cref="RemoteCallOptions.IsIdempotent"/>) on
/// UNAVAILABLE with grpc-dotnet's retry policy — on a balanced channel each attempt is picked anew, so a read an instance
/// failed goes to another one; nothing else is retried, since a failed write may have been applied.
/// </summary>
public sealed class RemoteChannels(
    IEnumerable<ContractBinding> bindings,
    IEnumerable<ResolverFactory> resolvers,
    IOptions<RemoteCallOptions> options,
    PlatformTls? tls = null,
    ILoggerFactory? loggerFactory = null,
    TimeProvider? time = null) : IDisposable
{
    private readonly ConcurrentDictionary<string, GrpcChannel> _channels = new(StringComparer.Ordinal);

    /// <summary>The scheme of the static list's resolver (grpc-dotnet's <see cref="StaticResolverFactory"/>).</summary>
    private const string StaticScheme = "static";

    /// <summary>
    /// The channel of <paramref name="target"/>; <paramref name="binding"/> is a contract it will carry besides those bound
    /// to it by <c>Remote:</c> (another version's target, see <see cref="VersionRouting"/>), whose reads it must retry too.
    /// </summary>
    public GrpcChannel Get(RemoteTarget target, ContractBinding? binding = null)
    {
        ArgumentNullException.ThrowIfNull(target);
        return _channels.GetOrAdd(target.Text, _ => Create(target, binding));
    }

    private GrpcChannel Create(RemoteTarget target, ContractBinding? binding)
    {
        var settings = options.Value;
        // A single instance has nothing to take out, but a connection it closed before answering is still UNAVAILABLE.
        var failed = target.IsBalanced
            ? new FailedInstances(target.Text, settings.FailedInstancePause, time ?? TimeProvider.System,
                (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<RemoteChannels>())
            : null;
        var channelOptions = new GrpcChannelOptions
        {
            HttpHandler = new FailedInstanceHandler(failed, NewHandler()),
            ServiceConfig = ServiceConfigFor(target, binding),
        };
        if (failed is null)
        {
            return GrpcChannel.ForAddress(target.Addresses[0], channelOptions);
        }

        // A resolver yields bare addresses: with platform mTLS on they are dialled with TLS, otherwise in cleartext.
        var secure = target.Resolver is null ? target.IsHttps : tls is not null;
        var scheme = secure ? Uri.UriSchemeHttps : Uri.UriSchemeHttp;
        GrpcChannel HealthChannel(BalancerAddress a) => GrpcChannel.ForAddress($"{scheme}://{a.EndPoint.Host}:{a.EndPoint.Port}",
            new GrpcChannelOptions { HttpHandler = NewHandler() });

        ResolverFactory inner;
        Uri address;
        if (target.Resolver is null)
        {
            var addresses = target.Addresses.Select(a => new BalancerAddress(a.Host, a.Port)).ToList();
            inner = new StaticResolverFactory(_ => addresses);
            address = new Uri($"{StaticScheme}:///{Uri.EscapeDataString(target.Text)}");
        }
        else
        {
            address = target.Resolver;
            inner = address.Scheme == "dns"
                ? new DnsResolverFactory(settings.DnsRefreshInterval)
                : resolvers.LastOrDefault(r => string.Equals(r.Name, address.Scheme, StringComparison.OrdinalIgnoreCase))
                  ?? throw new InvalidOperationException($"No resolver is registered for '{address.Scheme}:///' targets " +
                      "(register a Grpc.Net.Client.Balancer.ResolverFactory with that Name in the host's services).");
        }

        var provider = new ServiceCollection()
            .AddSingleton<ResolverFactory>(new HealthCheckingResolverFactory(inner, HealthChannel))
            .AddSingleton<LoadBalancerFactory>(new FailedInstanceAwareRoundRobin.Factory(failed))
            .BuildServiceProvider();
        channelOptions.ServiceProvider = provider;
        channelOptions.Credentials = secure ? ChannelCredentials.SecureSsl : ChannelCredentials.Insecure;
        channelOptions.DisposeHttpClient = true;
        return GrpcChannel.ForAddress(address, channelOptions);
    }

    /// <summary>
    /// Pooled HTTP/2: several connections per instance when one fills its streams, kept alive by pings. With platform
    /// mTLS on, TLS connections present this host's certificate and accept only servers the platform CA issued.
    /// </summary>
    private SocketsHttpHandler NewHandler()
    {
        var handler = new SocketsHttpHandler
        {
            EnableMultipleHttp2Connections = true,
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5),
            KeepAlivePingDelay = TimeSpan.FromSeconds(60),
            KeepAlivePingTimeout = TimeSpan.FromSeconds(30),
        };
        if (tls is not null)
        {
            handler.SslOptions = tls.ClientOptions();
        }

        return handler;
    }

    private ServiceConfig? ServiceConfigFor(RemoteTarget target, ContractBinding? binding)
    {
        var settings = options.Value;
        var config = new ServiceConfig();
        if (target.IsBalanced)
        {
            config.LoadBalancingConfigs.Add(FailedInstanceAwareRoundRobin.Config);
        }

        var reads = bindings
            .Where(b => b.Remote?.Text == target.Text)
            .Append(binding)
            .OfType<ContractBinding>()
            .DistinctBy(b => b.ServiceName)
            .SelectMany(b => RemoteCallOptions.MethodNamesOf(b.Contract).Where(RemoteCallOptions.IsIdempotent).Select(m => new MethodName
            {
                Service = b.ServiceName,
                Method = m,
            }))
            .ToList();
        if (reads.Count > 0 && settings.MaxAttempts >= 2)
        {
            var retry = new MethodConfig
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
                retry.Names.Add(read);
            }

            config.MethodConfigs.Add(retry);
        }

        return config.LoadBalancingConfigs.Count == 0 && config.MethodConfigs.Count == 0 ? null : config;
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
