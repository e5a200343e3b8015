using System.Collections.Concurrent;
using System.Globalization;
using System.Reflection;
using Grpc.Core;
using Microsoft.Extensions.Options;
using PyAirtable.Contracts.Common;
using PyAirtable.Host.Gateway.Authentication;
using PyAirtable.Services.Infrastructure.Errors;
using PyAirtable.Services.Infrastructure.Identity;
using PyAirtable.Services.Infrastructure.Telemetry;

namespace PyAirtable.Host.Gateway.RateLimiting;

/// <summary>
/// Refuses calls over their class's rate with RESOURCE_EXHAUSTED, RetryInfo (when a permit is back) and ErrorInfo
/// metadata naming the limit and partition. It runs inside the gRPC pipeline, after authentication (it needs the
/// credential) and with the decoded request (it needs the base): an ASP.NET Core rate limiter would answer HTTP
/// 429, which gRPC clients see as UNAVAILABLE. A request names a base by a string property <c>BaseId</c>.
/// </summary>
internal sealed class RateLimitChecks(GatewayRateLimiter limiter, IOptionsMonitor<RateLimitOptions> options, PlatformMetrics metrics)
{
    /// <summary>The request-field convention that names a base.</summary>
    public const string BaseIdProperty = "BaseId";

    private static readonly ConcurrentDictionary<Type, PropertyInfo?> BaseIdOf = new();

    /// <summary>Takes the call's permits; throws RESOURCE_EXHAUSTED when a bucket has none (the request is null for streams).</summary>
    public async ValueTask CheckAsync<TRequest>(TRequest? request, ServerCallContext context)
        where TRequest : class
    {
        var settings = options.CurrentValue;
        if (!settings.Enabled)
        {
            return;
        }

        var (rpcClass, limits) = settings.Resolve(context.Method);
        if (limits is { PerCredential: 0, PerBase: 0, PerClientIp: 0 })
        {
            return; // an unlimited class (health, reflection)
        }

        var keys = KeysOf(request, context.GetHttpContext(), rpcClass, limits);
        if (keys.Count == 0)
        {
            return;
        }

        if (await limiter.CheckAsync(keys, context.CancellationToken) is { } refusal)
        {
            metrics.RecordRateLimitRefusal(refusal.Key.Limit, rpcClass);
            throw Refused(refusal, rpcClass);
        }
    }

    private static LimitKeys KeysOf<TRequest>(TRequest? request, HttpContext http, string rpcClass, ResolvedLimits limits)
        where TRequest : class
    {
        var keys = default(LimitKeys);
        var user = http.User;
        // A cached credential's caller knows its partitions; any other principal's are read from its claims.
        var caller = ReadOnlyClaimsIdentity.CallerOf(user);
        if (caller?.IsService ?? user.HasClaim(PlatformClaims.Role, PlatformRoles.Service))
        {
            // The platform's own services calling each other across hosts: the call that caused it was limited at
            // its edge, and all of them share one service identity, whose bucket would throttle the whole platform.
            return keys;
        }

        if (user.Identity?.IsAuthenticated == true)
        {
            if (limits.PerCredential > 0)
            {
                keys.Add(new LimitKey("per_credential", caller?.PartitionOf(rpcClass) ?? CredentialPartition(user, rpcClass),
                    limits.PerCredential));
            }
        }
        else if (limits.PerClientIp > 0)
        {
            var ip = http.Connection.RemoteIpAddress?.ToString() ?? "unknown";
            keys.Add(new LimitKey("per_client_ip", $"{rpcClass}:ip:{ip}", limits.PerClientIp));
        }

        if (limits.PerBase > 0 && request is not null && BaseIdOf.GetOrAdd(request.GetType(), FindBaseId) is { } property
            && property.GetValue(request) is string { Length: > 0 } baseId)
        {
            keys.Add(new LimitKey("per_base", $"{rpcClass}:base:{baseId}", limits.PerBase));
        }

        return keys;
    }

    private static string CredentialPartition(System.Security.Claims.ClaimsPrincipal user, string rpcClass) =>
        VerifiedCaller.Partition(rpcClass,
            VerifiedCaller.CredentialOf(user.FindFirst(PlatformClaims.ApiKeyId)?.Value, user.FindFirst(PlatformClaims.Subject)?.Value));

    private static PropertyInfo? FindBaseId(Type type) =>
        type.GetProperty(BaseIdProperty, BindingFlags.Public | BindingFlags.Instance) is { } p && p.PropertyType == typeof(string)
            ? p
            : null;

    private static PlatformException Refused(RateLimitRefusal refusal, string rpcClass)
    {
        var seconds = Math.Max(1, (int)Math.Ceiling(refusal.RetryAfter.TotalSeconds));
        var what = refusal.Key.Limit switch
        {
            "per_base" => "this base",
            "per_client_ip" => "this client address",
            _ => "these credentials",
        };
        return new PlatformException(ErrorCode.ResourceExhausted,
            $"Too many requests for {what} ({refusal.Key.PerSecond} per second); retry after {seconds} s.",
            new Dictionary<string, string>
            {
                ["limit"] = refusal.Key.Limit,
                ["partition"] = refusal.Key.Partition,
                ["rpc_class"] = rpcClass,
                ["permits_per_second"] = refusal.Key.PerSecond.ToString(CultureInfo.InvariantCulture),
            })
        {
            RetryAfter = refusal.RetryAfter,
        };
    }
}
