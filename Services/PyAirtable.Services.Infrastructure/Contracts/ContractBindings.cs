using System.Reflection;
using Grpc.Core;
using Grpc.Core.Interceptors;
using PyAirtable.Services.Infrastructure.Identity;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using PyAirtable.Services.Infrastructure.Health;
using ProtoBuf.Grpc.Client;
using ProtoBuf.Grpc.Configuration;
using PyAirtable.Services.Infrastructure.Requests;

namespace PyAirtable.Services.Infrastructure.Contracts;

/// <summary>
/// Where a contract is served from: in this process (mapped as a gRPC endpoint here), or by the instances
/// <see cref="Remote"/> names (resolved as a load-balanced gRPC client, not mapped here).
/// </summary>
public sealed record ContractBinding(string ServiceName, Type Contract, RemoteTarget? Remote, Action<IEndpointRouteBuilder>? MapEndpoint)
{
    public bool IsLocal => Remote is null;
}

public static class ContractBindingExtensions
{
    /// <summary>The configuration section: <c>Remote:&lt;full service name&gt; = http(s)://host:port</c>.</summary>
    public const string RemoteSection = "Remote";

    /// <summary>
    /// The full gRPC service name of <typeparamref name="TContract"/>, read from its <c>[Service]</c> attribute: the one
    /// place the name is written, so the wire, the <c>Remote:</c> key and the health entry cannot disagree.
    /// </summary>
    public static string ServiceNameOf<TContract>()
        where TContract : class =>
        typeof(TContract).GetCustomAttribute<ServiceAttribute>()?.Name
        ?? throw new InvalidOperationException($"{typeof(TContract).Name} has no [Service] attribute with a name.");

    /// <summary>
    /// True when <typeparamref name="TContract"/> runs on other hosts: <c>Remote:&lt;service name&gt;</c> binds it there, or
    /// <c>Topology:Serve</c> leaves it out of this host. This host then needs none of the implementation's own
    /// dependencies (its migrations, pools, options).
    /// </summary>
    public static bool IsRemote<TContract>(this IConfiguration configuration)
        where TContract : class
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var name = ServiceNameOf<TContract>();
        return !Topology.ServesExplicitly(configuration, name)
            && (!string.IsNullOrWhiteSpace(configuration[$"{RemoteSection}:{name}"]) || !Topology.Serves(configuration, name));
    }

    /// <summary>
    /// Binds <typeparamref name="TContract"/>: other services resolve it from DI and call it the same
    /// way whether it runs here or on another host. With <c>Remote:&lt;service name&gt;</c> configured it
    /// is a gRPC client of that host (request id, deadline and cancellation of the current call
    /// propagated); otherwise <typeparamref name="TImplementation"/> runs in process and is served here.
    /// </summary>
    public static IServiceCollection AddContract<TContract, TImplementation>(this IServiceCollection services, IConfiguration configuration)
        where TContract : class
        where TImplementation : class, TContract
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        var name = ServiceNameOf<TContract>();
        if (services.Any(d => d.ServiceType == typeof(ContractBinding) && d.ImplementationInstance is ContractBinding b && b.ServiceName == name))
        {
            return services;
        }

        var remote = Topology.ServesExplicitly(configuration, name) ? null : configuration[$"{RemoteSection}:{name}"];
        if (string.IsNullOrWhiteSpace(remote) && !Topology.Serves(configuration, name))
        {
            throw new InvalidOperationException(
                $"{name} is not served by this host ({Topology.ServeKey}) and has no {RemoteSection}:{name} address to call it on.");
        }

        if (string.IsNullOrWhiteSpace(remote))
        {
            services.TryAddSingleton<TImplementation>();
            // Other services in this process call the implementation through this binding, not through the gateway:
            // it enforces the scopes the implementation declares, as the gateway does for calls from outside.
            services.TryAddSingleton<TContract>(sp => ScopeCheckingProxy<TContract>.Wrap(sp.GetRequiredService<TImplementation>()));
            services.AddSingleton(new ContractBinding(name, typeof(TContract), null, endpoints => endpoints.MapGrpcService<TImplementation>().Add(ImplementationMetadata.For<TContract, TImplementation>())));
            services.AddGrpcServiceHealth(name);
            return services;
        }

        var target = RemoteTarget.Parse($"{RemoteSection}:{name}", remote);

        services.AddHttpContextAccessor();
        services.AddOptions<RemoteCallOptions>().Bind(configuration.GetSection(RemoteCallOptions.Section));
        services.TryAddSingleton<RemoteChannels>();
        services.TryAddSingleton<VersionRouting>();
        services.TryAddSingleton<RemoteCircuitBreakers>();
        services.TryAddSingleton<CallPropagationInterceptor>();
        // The edge role: serve the contract here too, each call handed to the remote binding below.
        var forward = configuration.GetValue<bool>(Topology.ForwardKey) ? ForwardingProxy<TContract>.Register(services) : null;
        var binding = new ContractBinding(name, typeof(TContract), target, forward);
        // Interceptors run last-added first: propagation settles the deadline and credentials, then the breaker
        // judges the call; the version's channel (VersionRouting picks it per call, so a call or stream stays on the
        // version it started on) retries reads below both, so the breaker sees their outcome.
        services.TryAddSingleton<TContract>(sp => sp.GetRequiredService<VersionRouting>()
            .InvokerFor(binding)
            .Intercept(new CircuitBreakerInterceptor(
                sp.GetRequiredService<RemoteCircuitBreakers>().For(name), sp.GetRequiredService<IHttpContextAccessor>()))
            .Intercept(sp.GetRequiredService<CallPropagationInterceptor>())
            .CreateGrpcService<TContract>());
        services.AddSingleton(binding);
        if (!services.Any(d => d.ServiceType == typeof(RemoteContractsHealthCheck)))
        {
            services.AddSingleton<RemoteContractsHealthCheck>();
            services.AddHealthChecks().AddCheck<RemoteContractsHealthCheck>("remote-contracts", HealthStatus.Degraded, [HealthTags.Ready]);
        }

        return services;
    }

    /// <summary>Maps every contract that runs in this process, and those it forwards (<c>Topology:Forward</c>).</summary>
    public static IEndpointRouteBuilder MapContracts(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        foreach (var binding in endpoints.ServiceProvider.GetServices<ContractBinding>().Where(b => b.MapEndpoint is not null))
        {
            binding.MapEndpoint!(endpoints);
        }

        return endpoints;
    }
}

/// <summary>
/// Carries the context of the call being served into the calls it makes to other hosts: the request
/// id, and the caller's deadline and cancellation when the outgoing call sets none of its own.
/// </summary>
public sealed class CallPropagationInterceptor(IHttpContextAccessor accessor, IOptions<RemoteCallOptions> options, TimeProvider time) : Interceptor
{
    public override AsyncUnaryCall<TResponse> AsyncUnaryCall<TRequest, TResponse>(
        TRequest request, ClientInterceptorContext<TRequest, TResponse> context, AsyncUnaryCallContinuation<TRequest, TResponse> continuation)
    {
        var propagated = Propagate(context);
        if (propagated.Options.Deadline is null)
        {
            // Neither the caller nor the served call set one: a hung remote host must not hold this call forever.
            propagated = new ClientInterceptorContext<TRequest, TResponse>(propagated.Method, propagated.Host,
                propagated.Options.WithDeadline(time.GetUtcNow().UtcDateTime + options.Value.DefaultDeadline));
        }

        return continuation(request, propagated);
    }

    public override AsyncServerStreamingCall<TResponse> AsyncServerStreamingCall<TRequest, TResponse>(
        TRequest request, ClientInterceptorContext<TRequest, TResponse> context, AsyncServerStreamingCallContinuation<TRequest, TResponse> continuation) =>
        continuation(request, Propagate(context));

    public override AsyncClientStreamingCall<TRequest, TResponse> AsyncClientStreamingCall<TRequest, TResponse>(
        ClientInterceptorContext<TRequest, TResponse> context, AsyncClientStreamingCallContinuation<TRequest, TResponse> continuation) =>
        continuation(Propagate(context));

    public override AsyncDuplexStreamingCall<TRequest, TResponse> AsyncDuplexStreamingCall<TRequest, TResponse>(
        ClientInterceptorContext<TRequest, TResponse> context, AsyncDuplexStreamingCallContinuation<TRequest, TResponse> continuation) =>
        continuation(Propagate(context));

    public override TResponse BlockingUnaryCall<TRequest, TResponse>(
        TRequest request, ClientInterceptorContext<TRequest, TResponse> context, BlockingUnaryCallContinuation<TRequest, TResponse> continuation) =>
        continuation(request, Propagate(context));

    private ClientInterceptorContext<TRequest, TResponse> Propagate<TRequest, TResponse>(ClientInterceptorContext<TRequest, TResponse> context)
        where TRequest : class
        where TResponse : class
    {
        var http = accessor.HttpContext;
        if (http is null)
        {
            return context; // not inside a served call (a background job): nothing to carry
        }

        var options = context.Options;
        var headers = options.Headers ?? [];
        if (headers.Get(RequestMetadataExtensions.RequestIdHeader) is null && !string.IsNullOrEmpty(http.TraceIdentifier))
        {
            headers.Add(RequestMetadataExtensions.RequestIdHeader, http.TraceIdentifier);
        }

        // The caller's credentials (or those a service acts with, see CallerImpersonation): the
        // remote gateway authenticates them exactly as this host did.
        var credentials = http.Features.Get<ICallerCredentialsFeature>();
        if (credentials?.Authorization is { } authorization && headers.Get("authorization") is null)
        {
            headers.Add("authorization", authorization);
        }

        if (credentials?.ApiKey is { } apiKey && headers.Get("x-api-key") is null)
        {
            headers.Add("x-api-key", apiKey);
        }

        // The client's address as this host established it, replacing any the caller sent (a forwarded call starts from the
        // caller's own headers): the next host believes this header from a platform host, so it must be this host's word.
        if (http.Connection.RemoteIpAddress is { } client)
        {
            if (headers.Get(RequestMetadataExtensions.ForwardedForHeader) is not null)
            {
                // A copy without the caller's lines (these headers may be the incoming call's own).
                var own = new Metadata();
                foreach (var entry in headers)
                {
                    if (!string.Equals(entry.Key, RequestMetadataExtensions.ForwardedForHeader, StringComparison.OrdinalIgnoreCase))
                    {
                        own.Add(entry);
                    }
                }

                headers = own;
            }

            headers.Add(RequestMetadataExtensions.ForwardedForHeader, client.Unmapped().ToString());
        }

        var incoming = http.Features.Get<Grpc.AspNetCore.Server.IServerCallContextFeature>()?.ServerCallContext;
        // Which service this host is serving the call for: the callee believes it only from a platform certificate
        // naming that service (ServiceCalls.CallingService), so operations meant for services stay theirs.
        if (incoming is not null && headers.Get(ServiceCalls.CallerServiceHeader) is null)
        {
            headers.Add(ServiceCalls.CallerServiceHeader, Topology.AreaOf(ServiceCalls.ServiceOfMethod(incoming.Method)));
        }

        options = options.WithHeaders(headers);
        if (options.Deadline is null && incoming is not null && incoming.Deadline != DateTime.MaxValue)
        {
            options = options.WithDeadline(incoming.Deadline);
        }

        if (!options.CancellationToken.CanBeCanceled)
        {
            options = options.WithCancellationToken(incoming?.CancellationToken ?? http.RequestAborted);
        }

        return new ClientInterceptorContext<TRequest, TResponse>(context.Method, context.Host, options);
    }
}
