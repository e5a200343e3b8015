using System.Collections.Frozen;
using Grpc.Core;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Primitives;

namespace PyAirtable.Services.Infrastructure.Contracts;

/// <summary>
/// Blue-green and canary routing of a remote service (section <c>Routing:&lt;full service name&gt;</c>): besides the
/// instances <c>Remote:&lt;service&gt;</c> names (the stable version, called <c>Routing:&lt;service&gt;:Stable</c>, default
/// <c>stable</c>), other versions have targets of their own (<c>Versions:&lt;name&gt;</c>) and a share of the calls
/// (<c>Weights:&lt;name&gt;</c>, percent; the stable version gets the rest). A caller that sends
/// <see cref="VersionHeader"/> naming a version gets that version whatever the weights (testers).
/// </summary>
/// <remarks>
/// Settings are read again whenever the configuration reloads (<c>Routing:File</c>, a JSON file watched for changes),
/// so weights move 0 → 10 → 50 → 100 % and back (rollback) without a restart. The version is picked once, when a call
/// starts, and the call — a stream included — stays on that version's channel to its end; shifting weights changes
/// only where new calls go. The pick is deterministic (call n goes to the version owning slot n·37 mod 100), so every
/// 100 calls split exactly by the weights, spread out rather than in runs.
/// </remarks>
public sealed partial class VersionRouting : IDisposable
{
    /// <summary>Pins a call to a named version (for testers); an unknown name is ignored.</summary>
    public const string VersionHeader = "x-pyairtable-version";

    public const string Section = "Routing";

    private readonly IConfiguration _configuration;
    private readonly RemoteChannels _channels;
    private readonly IHttpContextAccessor _accessor;
    private readonly IDisposable _reload;
    private readonly ILogger _logger;
    private FrozenDictionary<string, Route> _routes = FrozenDictionary<string, Route>.Empty;
    private long _calls;

    public VersionRouting(IConfiguration configuration, RemoteChannels channels, IHttpContextAccessor accessor, ILogger<VersionRouting>? logger = null)
    {
        _configuration = configuration;
        _channels = channels;
        _accessor = accessor;
        _logger = logger ?? (ILogger)NullLogger.Instance;
        Load();
        _reload = ChangeToken.OnChange(configuration.GetReloadToken, Reload);
    }

    /// <summary>A reloaded file that is wrong keeps the routes in force (and says why): a typo must not stop routing.</summary>
    private void Reload()
    {
        try
        {
            Load();
        }
        catch (InvalidOperationException ex)
        {
            LogRejected(_logger, ex.Message);
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Routing settings rejected, the previous routes stay in force: {Reason}")]
    private static partial void LogRejected(ILogger logger, string reason);

    /// <summary>The call invoker of a remote contract: each call goes to the version picked for it.</summary>
    public CallInvoker InvokerFor(ContractBinding binding)
    {
        ArgumentNullException.ThrowIfNull(binding);
        return new RoutingInvoker(this, binding);
    }

    /// <summary>The versions of <paramref name="service"/> and their weights now (stable first); for diagnostics and tests.</summary>
    public IReadOnlyList<(string Version, int Weight)> Weights(string service) =>
        _routes.TryGetValue(service, out var route)
            ? [(route.Stable, route.StableWeight), .. route.Versions.Select(v => (v.Name, v.Weight))]
            : [("stable", 100)];

    private CallInvoker Pick(ContractBinding binding)
    {
        if (!_routes.TryGetValue(binding.ServiceName, out var route))
        {
            return _channels.Get(binding.Remote!, binding).CreateCallInvoker();
        }

        var pinned = _accessor.HttpContext?.Request.Headers[VersionHeader].ToString();
        Version? chosen = null;
        if (!string.IsNullOrEmpty(pinned))
        {
            chosen = route.Versions.FirstOrDefault(v => string.Equals(v.Name, pinned, StringComparison.Ordinal));
            if (chosen is null && string.Equals(pinned, route.Stable, StringComparison.Ordinal))
            {
                return _channels.Get(binding.Remote!, binding).CreateCallInvoker();
            }
        }

        if (chosen is null)
        {
            var slot = (int)((Interlocked.Increment(ref _calls) * 37) % 100);
            var cumulative = 0;
            foreach (var version in route.Versions)
            {
                cumulative += version.Weight;
                if (slot < cumulative)
                {
                    chosen = version;
                    break;
                }
            }
        }

        return _channels.Get(chosen?.Target ?? binding.Remote!, binding).CreateCallInvoker();
    }

    private void Load()
    {
        var routes = new Dictionary<string, Route>(StringComparer.Ordinal);
        foreach (var service in _configuration.GetSection(Section).GetChildren().Where(c => c.Key != "File"))
        {
            var versions = new List<Version>();
            foreach (var version in service.GetSection("Versions").GetChildren())
            {
                if (string.IsNullOrWhiteSpace(version.Value))
                {
                    continue;
                }

                var weight = Math.Clamp(service.GetValue($"Weights:{version.Key}", 0), 0, 100);
                versions.Add(new Version(version.Key, RemoteTarget.Parse($"{Section}:{service.Key}:Versions:{version.Key}", version.Value), weight));
            }

            if (versions.Count == 0)
            {
                continue;
            }

            var total = versions.Sum(v => v.Weight);
            if (total > 100)
            {
                throw new InvalidOperationException($"{Section}:{service.Key}: the weights add up to {total} %, more than 100.");
            }

            routes[service.Key] = new Route(service["Stable"] ?? "stable", versions, 100 - total);
        }

        _routes = routes.ToFrozenDictionary(StringComparer.Ordinal);
    }

    public void Dispose() => _reload.Dispose();

    private sealed record Version(string Name, RemoteTarget Target, int Weight);

    private sealed record Route(string Stable, IReadOnlyList<Version> Versions, int StableWeight);

    /// <summary>Starts every call on the invoker of the version picked for it.</summary>
    private sealed class RoutingInvoker(VersionRouting routing, ContractBinding binding) : CallInvoker
    {
        public override TResponse BlockingUnaryCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options, TRequest request) =>
            routing.Pick(binding).BlockingUnaryCall(method, host, options, request);

        public override AsyncUnaryCall<TResponse> AsyncUnaryCall<TRequest, TResponse>(
            Method<TRequest, TResponse> method, string? host, CallOptions options, TRequest request) =>
            routing.Pick(binding).AsyncUnaryCall(method, host, options, request);

        public override AsyncServerStreamingCall<TResponse> AsyncServerStreamingCall<TRequest, TResponse>(
            Method<TRequest, TResponse> method, string? host, CallOptions options, TRequest request) =>
            routing.Pick(binding).AsyncServerStreamingCall(method, host, options, request);

        public override AsyncClientStreamingCall<TRequest, TResponse> AsyncClientStreamingCall<TRequest, TResponse>(
            Method<TRequest, TResponse> method, string? host, CallOptions options) =>
            routing.Pick(binding).AsyncClientStreamingCall(method, host, options);

        public override AsyncDuplexStreamingCall<TRequest, TResponse> AsyncDuplexStreamingCall<TRequest, TResponse>(
            Method<TRequest, TResponse> method, string? host, CallOptions options) =>
            routing.Pick(binding).AsyncDuplexStreamingCall(method, host, options);
    }
}
