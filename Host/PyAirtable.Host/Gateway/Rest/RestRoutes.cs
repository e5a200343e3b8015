using System.Reflection;
using Google.Protobuf.Reflection;
using ProtoBuf.Grpc.Configuration;
using PyAirtable.Contracts.Common;
using PyAirtable.Services.Infrastructure.Contracts;

namespace PyAirtable.Host.Gateway.Rest;

/// <summary>One JSON/HTTP route: the <see cref="HttpRouteAttribute"/> of a contract method and the gRPC method it calls.</summary>
internal sealed class RestRoute
{
    public required string Verb { get; init; }

    public required string Template { get; init; }

    /// <summary>The template split at '/', the custom verb (<c>:accept</c>) of the last segment kept apart.</summary>
    public required string[] Segments { get; init; }

    public string? CustomVerb { get; init; }

    /// <summary>The request message comes from the JSON body (minus path fields); otherwise from the query string.</summary>
    public required bool HasBody { get; init; }

    /// <summary>The gRPC path this route is served by: <c>/package.Service/Method</c>.</summary>
    public required string GrpcPath { get; init; }

    public required MethodDescriptor Method { get; init; }

    public required MethodInfo ClrMethod { get; init; }

    public bool ServerStreaming => Method.IsServerStreaming;

    /// <summary>For a client stream: the bytes field the raw request body is streamed into (<see cref="HttpRouteAttribute.StreamBody"/>).</summary>
    public FieldDescriptor? StreamField { get; init; }

    /// <summary>The contract's deprecation of this method (on the method or its whole service), or null.</summary>
    public ApiDeprecatedAttribute? Deprecated { get; init; }

    /// <summary>Matches a request path (already split); fills the path fields it binds.</summary>
    public bool TryMatch(string[] path, Dictionary<string, string> fields)
    {
        if (path.Length != Segments.Length)
        {
            return false;
        }

        for (var i = 0; i < path.Length; i++)
        {
            var actual = path[i];
            if (i == path.Length - 1 && CustomVerb is not null)
            {
                if (!actual.EndsWith(CustomVerb, StringComparison.Ordinal))
                {
                    return false;
                }

                actual = actual[..^CustomVerb.Length];
            }

            var expected = Segments[i];
            if (expected.StartsWith('{'))
            {
                if (actual.Length == 0)
                {
                    return false;
                }

                fields[expected[1..^1]] = Uri.UnescapeDataString(actual);
            }
            else if (!string.Equals(expected, actual, StringComparison.Ordinal))
            {
                return false;
            }
        }

        return true;
    }
}

/// <summary>The methods of a contract as protobuf-net.Grpc's server binder binds them (the proto exporter asks it too).</summary>
internal sealed class BoundMethods : ServerBinder
{
    private readonly List<(string Name, MethodInfo Method)> _methods = [];

    public static IReadOnlyList<(string Name, MethodInfo Method)> Of(Type contract)
    {
        var binder = new BoundMethods();
        binder.Bind(state: binder, serviceType: contract, binderConfiguration: null, service: null);
        return binder._methods;
    }

    protected override bool TryBind<TService, TRequest, TResponse>(ServiceBindContext bindContext, Grpc.Core.Method<TRequest, TResponse> method,
        MethodStub<TService> stub)
        where TService : class
        where TRequest : class
        where TResponse : class
    {
        if (stub.Method is { } source)
        {
            _methods.Add((method.Name, source));
        }

        return true;
    }
}

/// <summary>
/// Every route declared on the contracts this host serves, resolved against the exported descriptors. Method names
/// come from protobuf-net.Grpc's own binder (as the proto exporter's do), so a route calls exactly the served method.
/// </summary>
internal sealed class RestRouteTable
{
    public RestRouteTable(IEnumerable<ContractBinding> bindings, ContractReflection.ContractDescriptors descriptors)
    {
        var services = descriptors.Files.SelectMany(f => f.Services).ToDictionary(s => s.FullName, StringComparer.Ordinal);
        var routes = new List<RestRoute>();
        foreach (var binding in bindings.Where(b => b.IsLocal))
        {
            if (!services.TryGetValue(binding.ServiceName, out var service))
            {
                continue; // test-only contracts are not exported, so they have no JSON form
            }

            routes.AddRange(RoutesOf(binding.Contract, service));
        }

        // A custom verb or a literal beats a variable: GET /v1/files/f1:download is Download, not GetFile of "f1:download".
        _openApi = new Lazy<string>(() => OpenApiDocument.ToText(OpenApiDocument.Generate(
            bindings.Where(b => b.IsLocal).Select(b => b.Contract), descriptors.Files)));
        Routes = routes.OrderByDescending(r => r.CustomVerb is not null)
            .ThenByDescending(r => r.Segments.Count(s => !s.StartsWith('{'))).ToList();
        var duplicate = routes.GroupBy(r => r.Verb + " " + r.Template).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
        {
            throw new InvalidOperationException($"Two RPCs declare the route {duplicate.Key}.");
        }
    }

    public IReadOnlyList<RestRoute> Routes { get; }

    private readonly Lazy<string> _openApi;

    /// <summary>The OpenAPI document of these routes (generated once, on first request).</summary>
    public string OpenApiText => _openApi.Value;

    /// <summary>Whether a path looks like a JSON/HTTP route (<c>/v1/…</c>): cheap enough for the tracing filter.</summary>
    public static bool IsVersionedPath(PathString path) =>
        path.Value is { Length: > 3 } p && p[1] == 'v' && char.IsAsciiDigit(p[2]);

    /// <summary>Every route a contract type declares (also used by the OpenAPI exporter).</summary>
    public static IEnumerable<RestRoute> RoutesOf(Type contract, Google.Protobuf.Reflection.ServiceDescriptor service)
    {
        foreach (var (name, method) in BoundMethods.Of(contract))
        {
            var route = method.GetCustomAttribute<HttpRouteAttribute>();
            if (route is null)
            {
                continue;
            }

            var descriptor = service.FindMethodByName(name)
                ?? throw new InvalidOperationException($"{service.FullName}/{name} is not in the exported protos: run protos export.");
            var streamField = route.StreamBody is null or "*" ? null : descriptor.InputType.FindFieldByName(route.StreamBody);
            if (descriptor.IsClientStreaming != route.StreamBody is not null
                || (route.StreamBody is not (null or "*") && streamField is not { FieldType: FieldType.Bytes, IsRepeated: false }))
            {
                throw new InvalidOperationException($"{service.FullName}/{name}: a route of a client stream (and only one) names the "
                    + "bytes field its request body streams into (StreamBody).");
            }

            var verb = route.Verb.ToUpperInvariant();
            var segments = route.Path.TrimStart('/').Split('/');
            string? custom = null;
            var last = segments[^1];
            var colon = last.LastIndexOf(':');
            if (colon >= 0 && colon > last.LastIndexOf('}'))
            {
                custom = last[colon..];
                segments[^1] = last[..colon];
            }

            foreach (var segment in segments.Where(s => s.StartsWith('{')))
            {
                if (descriptor.InputType.FindFieldByName(segment[1..^1]) is null)
                {
                    throw new InvalidOperationException($"{route.Path}: {descriptor.InputType.Name} has no field {segment}.");
                }
            }

            yield return new RestRoute
            {
                Verb = verb,
                Template = route.Path,
                Segments = segments,
                CustomVerb = custom,
                HasBody = !descriptor.IsClientStreaming && (route.Body is null ? verb is "POST" or "PUT" or "PATCH" : route.Body == "*"),
                StreamField = streamField,
                GrpcPath = "/" + service.FullName + "/" + name,
                Method = descriptor,
                ClrMethod = method,
                Deprecated = method.GetCustomAttribute<ApiDeprecatedAttribute>() ?? contract.GetCustomAttribute<ApiDeprecatedAttribute>(),
            };
        }
    }

    /// <summary>The route for a request, or null; <paramref name="verbAllowed"/> is false when only the verb differs.</summary>
    public RestRoute? Match(string verb, string path, Dictionary<string, string> fields, out bool verbAllowed)
    {
        verbAllowed = true;
        var split = path.TrimStart('/').Split('/');
        var pathMatched = false;
        foreach (var route in Routes)
        {
            fields.Clear();
            if (!route.TryMatch(split, fields))
            {
                continue;
            }

            if (string.Equals(route.Verb, verb, StringComparison.OrdinalIgnoreCase))
            {
                return route;
            }

            pathMatched = true;
        }

        fields.Clear();
        verbAllowed = !pathMatched;
        return null;
    }
}
