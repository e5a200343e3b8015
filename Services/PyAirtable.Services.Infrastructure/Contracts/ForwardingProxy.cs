using System.Reflection;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace PyAirtable.Services.Infrastructure.Contracts;

/// <summary>
/// What a forwarding host (<c>Topology:Forward</c>, the edge role) serves for a contract that runs elsewhere: every RPC
/// of it, each handed to the contract's remote binding — the same client other services here use, so the call is
/// balanced, retried (reads), broken, and carries the caller's credentials, request id, deadline and cancellation.
/// </summary>
/// <remarks>
/// The endpoints allow anonymous calls: the host that serves the contract authenticates and authorizes the
/// forwarded credentials itself (its own RPCs know which of them are public, such as Login), so the edge needs no
/// copy of each RPC's rules. The edge still authenticates what comes with credentials and applies its rate limits.
/// A DispatchProxy is the implementation type protobuf-net.Grpc binds, since the contract is only known generically.
/// </remarks>
#pragma warning disable CA1852 // DispatchProxy derives its proxy type from this class at run time: it cannot be sealed
internal class ForwardingProxy<TContract> : DispatchProxy
#pragma warning restore CA1852
    where TContract : class
{
    private TContract _remote = null!;

    /// <summary>
    /// Registers the proxy as the implementation grpc activates (its type is generated once per contract, and grpc's
    /// activator resolves a registered service type from DI) and returns how to map its endpoints.
    /// </summary>
    public static Action<IEndpointRouteBuilder> Register(IServiceCollection services)
    {
        var proxyType = Create<TContract, ForwardingProxy<TContract>>().GetType();
        services.AddSingleton(proxyType, sp =>
        {
            var proxy = Create<TContract, ForwardingProxy<TContract>>();
            ((ForwardingProxy<TContract>)(object)proxy)._remote = sp.GetRequiredService<TContract>();
            return proxy;
        });
        var map = typeof(GrpcEndpointRouteBuilderExtensions).GetMethods()
            .Single(m => m.Name == nameof(GrpcEndpointRouteBuilderExtensions.MapGrpcService) && m.IsGenericMethodDefinition)
            .MakeGenericMethod(proxyType);
        return endpoints => ((GrpcServiceEndpointConventionBuilder)map.Invoke(null, [endpoints])!).AllowAnonymous();
    }

    protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
    {
        ArgumentNullException.ThrowIfNull(targetMethod);
        return targetMethod.Invoke(_remote, BindingFlags.DoNotWrapExceptions, binder: null, args, culture: null);
    }
}
