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
