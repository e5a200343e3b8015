using System.Reflection;
using Grpc.AspNetCore.Server;
using Microsoft.AspNetCore.Builder;

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
}
