using System.Reflection;
using Grpc.AspNetCore.Server;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Builder;
using PyAirtable.Services.Infrastructure.Identity;

namespace PyAirtable.Services.Infrastructure.Contracts;

/// <summary>
/// protobuf-net.Grpc gives an endpoint the attributes of the implementation class and of the contract
/// method, but not of the implementing method. Contracts cannot carry ASP.NET attributes (they depend on
/// protobuf-net only), so per-RPC rules such as <c>[AllowAnonymous]</c> or <c>[RequiresScope]</c> live on
/// the implementing methods; this convention adds them to each endpoint's metadata, after the class's,
/// so the method's win.
/// </summary>
internal static class ImplementationMetadata
{
    public static Action<EndpointBuilder> For<TContract, TImplementation>()
        where TImplementation : TContract
    {
        var map = typeof(TImplementation).GetInterfaceMap(typeof(TContract));
        var byOperation = new Dictionary<string, object[]>(StringComparer.Ordinal);
        for (var i = 0; i < map.InterfaceMethods.Length; i++)
        {
            var name = map.InterfaceMethods[i].Name;
            if (name.EndsWith("Async", StringComparison.Ordinal))
            {
                name = name[..^"Async".Length];
            }

            byOperation[name] = map.TargetMethods[i].GetCustomAttributes(inherit: true);
        }

        return builder =>
        {
            var method = builder.Metadata.OfType<GrpcMethodMetadata>().FirstOrDefault();
            if (method is not null && byOperation.TryGetValue(method.Method.Name, out var attributes))
            {
                foreach (var attribute in attributes)
                {
                    builder.Metadata.Add(attribute);
                }
            }
        };
    }

    /// <summary>
    /// The scopes a call of <paramref name="method"/> (implementing a contract method on <paramref name="implementation"/>)
    /// needs, read from the attributes the gateway's authorization reads from the endpoint: every
    /// <see cref="RequiresScopeAttribute"/> of the class and of the method, or none when either is <c>[AllowAnonymous]</c>
    /// (which makes ASP.NET Core skip authorization altogether).
    /// </summary>
    public static string[] RequiredScopes(Type implementation, MethodInfo method)
    {
        ArgumentNullException.ThrowIfNull(implementation);
        ArgumentNullException.ThrowIfNull(method);
        var attributes = implementation.GetCustomAttributes(inherit: true).Concat(method.GetCustomAttributes(inherit: true)).ToList();
        return attributes.OfType<IAllowAnonymous>().Any()
            ? []
            : attributes.OfType<RequiresScopeAttribute>().Select(a => a.Scope).Distinct(StringComparer.Ordinal).ToArray();
    }
}
