using Dapper;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Npgsql;
using StackExchange.Redis;

namespace PyAirtable.Services.Infrastructure.Health;

/// <summary>Health check tags: <c>ready</c> checks decide readiness and the gRPC serving status.</summary>
public static class HealthTags
{
    public const string Ready = "ready";
}

/// <summary>PostgreSQL answers a trivial query through the shared pool.</summary>
public sealed class PostgresHealthCheck(NpgsqlDataSource dataSource) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
            await connection.ExecuteScalarAsync<int>(new CommandDefinition("SELECT 1", cancellationToken: cancellationToken));
            return HealthCheckResult.Healthy();
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException or OperationCanceledException or System.Net.Sockets.SocketException)
        {
            // A dead server leaves broken connections in the pool; clear it so recovery is immediate
            // (not when it is merely slow: that would empty the pool under load every period).
            if (ex is NpgsqlException { IsTransient: true } or System.Net.Sockets.SocketException || ex.InnerException is System.Net.Sockets.SocketException or IOException)
            {
                dataSource.Clear();
            }

            // The description is served to unauthenticated callers: no host names or server messages.
            // The exception stays in the report for the logs.
            return new HealthCheckResult(context.Registration.FailureStatus, ex is TimeoutException or OperationCanceledException
                ? "PostgreSQL did not answer in time." : "PostgreSQL is unreachable.", ex);
        }
    }
}

/// <summary>Redis answers PING.</summary>
public sealed class RedisHealthCheck(IConnectionMultiplexer redis) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            await redis.GetDatabase().PingAsync().WaitAsync(cancellationToken);
            return HealthCheckResult.Healthy();
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException or OperationCanceledException)
        {
            return new HealthCheckResult(context.Registration.FailureStatus, "Redis is unreachable.", ex);
        }
    }
}

/// <summary>
/// Degraded while a Redis primary may evict keys under memory pressure (its <c>maxmemory-policy</c> is not
/// <c>noeviction</c>): an evicted revocation flag reads as "not revoked" to a host whose in-process copy is not proven current,
/// and an event evicted from the stream before its consumers read it is lost. Degraded rather than unhealthy: the host serves
/// correctly until Redis is actually short of memory, and taking every host out of rotation over a setting would be an
/// outage of its own. Read with <c>INFO memory</c> (managed Redis services often refuse CONFIG), at most once a minute;
/// a Redis that cannot be asked is the <see cref="RedisHealthCheck"/>'s to report.
/// </summary>
public sealed class RedisEvictionHealthCheck(IConnectionMultiplexer redis, TimeProvider time) : IHealthCheck
{
    internal static readonly TimeSpan RecheckInterval = TimeSpan.FromMinutes(1);
    private volatile Verdict? _last;

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var now = time.GetUtcNow();
        if (_last is { } last && now - last.At < RecheckInterval)
        {
            return last.Result;
        }

        try
        {
            var result = HealthCheckResult.Healthy();
            foreach (var server in redis.GetServers())
            {
                if (!server.IsConnected || server.IsReplica)
                {
                    continue;
                }

                // INFO from a script: StackExchange.Redis refuses INFO itself without admin mode, which the platform leaves off.
                var info = (string?)await server.ExecuteAsync("EVAL", "return redis.call('INFO', 'memory')", 0).WaitAsync(cancellationToken);
                var policy = PolicyOf(info);
                if (policy is not null && policy != "noeviction")
                {
                    result = HealthCheckResult.Degraded(
                        $"Redis may evict keys (maxmemory-policy {policy}): an evicted revocation flag reads as not revoked and an " +
                        "evicted event is lost; run it with maxmemory-policy noeviction.");
                    break;
                }
            }

            _last = new Verdict(now, result);
            return result;
        }
        catch (Exception ex) when (ex is RedisException or RedisCommandException or TimeoutException or OperationCanceledException)
        {
            return HealthCheckResult.Healthy("Redis's eviction policy could not be read now.");
        }
    }

    /// <summary>The <c>maxmemory_policy</c> line of an INFO reply, or null.</summary>
    internal static string? PolicyOf(string? info)
    {
        foreach (var line in (info ?? "").Split('\n'))
        {
            if (line.StartsWith("maxmemory_policy:", StringComparison.Ordinal))
            {
                return line["maxmemory_policy:".Length..].Trim();
            }
        }

        return null;
    }

    private sealed record Verdict(DateTimeOffset At, HealthCheckResult Result);
}

/// <summary>Where the host is in its shutdown: serving, draining (health NOT_SERVING), refusing new calls.</summary>
public sealed class ShutdownState
{
    private volatile bool _draining;
    private volatile bool _refusingCalls;

    public bool Draining => _draining;

    public bool RefusingCalls => _refusingCalls;

    public void BeginDraining() => _draining = true;

    public void RefuseCalls() => _refusingCalls = _draining = true;
}

/// <summary>Unhealthy once the host has begun to shut down, so balancers stop sending calls.</summary>
public sealed class ShutdownHealthCheck(ShutdownState state, Microsoft.Extensions.Hosting.IHostApplicationLifetime lifetime) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(state.Draining || lifetime.ApplicationStopping.IsCancellationRequested
            ? HealthCheckResult.Unhealthy("The host is shutting down.")
            : HealthCheckResult.Healthy());
}
