namespace PyAirtable.Host.Gateway.RateLimiting;

/// <summary>
/// Request rate limits of the gateway (section <c>RateLimits</c>). Every RPC belongs to a class; a class
/// sets token buckets per credential, per base and per client IP (anonymous callers), in requests per
/// second, each bucket holding one second's worth (Airtable's model: 5/s per base, 50/s per token).
/// </summary>
public sealed class RateLimitOptions
{
    public const string Section = "RateLimits";

    /// <summary>The class of an RPC that <see cref="Rpcs"/> does not name.</summary>
    public const string DefaultClass = "default";

    /// <summary>A class with no limits; health and reflection are in it unless configured otherwise.</summary>
    public const string UnlimitedClass = "unlimited";

    /// <summary>False turns every limit off (benchmarks, a deployment that limits at its own edge).</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>
    /// With Redis, a host takes this fraction of a bucket's rate at once (at least 1, at most <see cref="MaxLease"/>) and
    /// spends it from memory for up to <see cref="LeaseLifetime"/> (<see cref="LocalPermitLeases"/>); 0 takes one permit per call.
    /// </summary>
    public double LeaseFraction { get; set; } = 0.1;

    public int MaxLease { get; set; } = 1000;

    public TimeSpan LeaseLifetime { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>Limits per class name; unset fields take the built-in defaults of <see cref="DefaultClass"/>.</summary>
    public Dictionary<string, RpcClassLimits> Classes { get; set; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// RPC → class: keys are <c>package.Service/Method</c> or a whole <c>package.Service</c> (the method wins);
    /// values are class names.
    /// </summary>
    public Dictionary<string, string> Rpcs { get; set; } = new(StringComparer.Ordinal);

    // Probes and tooling must not be refused while the platform is busy, so these are unlimited by default.
    private static readonly Dictionary<string, string> BuiltInRpcs = new(StringComparer.Ordinal)
    {
        ["grpc.health.v1.Health"] = UnlimitedClass,
        ["grpc.reflection.v1alpha.ServerReflection"] = UnlimitedClass,
        ["grpc.reflection.v1.ServerReflection"] = UnlimitedClass,
    };

    /// <summary>Airtable's figures: 50 requests/s per token, 5/s per base; 20/s per address for anonymous calls.</summary>
    internal static readonly ResolvedLimits Defaults = new(PerCredential: 50, PerBase: 5, PerClientIp: 20);

    // Per served method (a fixed set): its class and limits. On this instance, so a configuration reload (a new instance)
    // starts afresh; read on every call, which would otherwise cut the method's path and build its limits each time.
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, (string Class, ResolvedLimits Limits)> _byMethod =
        new(StringComparer.Ordinal);

    /// <summary>The class of a served method and its limits (<see cref="ClassOf"/>, <see cref="LimitsOf"/>), worked out once.</summary>
    internal (string Class, ResolvedLimits Limits) Resolve(string method) =>
        _byMethod.GetOrAdd(method, static (m, options) =>
        {
            var rpcClass = options.ClassOf(m);
            return (rpcClass, options.LimitsOf(rpcClass));
        }, this);

    /// <summary>The class of <paramref name="method"/> (a gRPC method path, <c>/package.Service/Method</c>).</summary>
    public string ClassOf(string method)
    {
        var path = method.TrimStart('/');
        var slash = path.IndexOf('/', StringComparison.Ordinal);
        var service = slash < 0 ? path : path[..slash];
        return Rpcs.TryGetValue(path, out var byMethod) ? byMethod
            : Rpcs.TryGetValue(service, out var byService) ? byService
            : BuiltInRpcs.TryGetValue(service, out var builtIn) ? builtIn
            : DefaultClass;
    }

    /// <summary>The limits of a class, with unset values from the built-in defaults (0 = no limit).</summary>
    internal ResolvedLimits LimitsOf(string rpcClass)
    {
        if (string.Equals(rpcClass, UnlimitedClass, StringComparison.OrdinalIgnoreCase) && !Classes.ContainsKey(rpcClass))
        {
            return new ResolvedLimits(0, 0, 0);
        }

        Classes.TryGetValue(rpcClass, out var own);
        Classes.TryGetValue(DefaultClass, out var fallback);
        return new ResolvedLimits(
            own?.PerCredential ?? fallback?.PerCredential ?? Defaults.PerCredential,
            own?.PerBase ?? fallback?.PerBase ?? Defaults.PerBase,
            own?.PerClientIp ?? fallback?.PerClientIp ?? Defaults.PerClientIp);
    }
}

/// <summary>One class's limits in requests per second; null takes the default class's value, 0 means no limit.</summary>
public sealed class RpcClassLimits
{
    /// <summary>Per authenticated credential: an API key, or a user (all of a user's access tokens together).</summary>
    public int? PerCredential { get; set; }

    /// <summary>Per base named by the request (its <c>BaseId</c> field), whoever calls.</summary>
    public int? PerBase { get; set; }

    /// <summary>Per client IP address, for calls without credentials (Register, Login, GetJwks…).</summary>
    public int? PerClientIp { get; set; }
}

internal sealed record ResolvedLimits(int PerCredential, int PerBase, int PerClientIp);
