using System.Globalization;
using Dapper;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace PyAirtable.Services.Infrastructure.SharedState;

/// <summary>
/// Keeps the shared state's copy of <c>platform.revocations</c> complete, on every host, every
/// <c>Identity:RevocationSyncInterval</c> (1 s):
/// <list type="bullet">
/// <item>when the mirror-complete marker is missing (Redis restarted empty, flushed, failed over, or a new
/// deployment), it loads every live revocation and sets the marker last — guarded by a token it wrote
/// first, so if Redis restarts during the load the marker is not set over a half-empty mirror;</item>
/// <item>otherwise it copies what was revoked in the last minute, which repairs mirror writes that failed
/// after their commit (idempotent, so several hosts doing it at once is harmless);</item>
/// <item>once a minute it deletes revocations that expired an hour ago.</item>
/// </list>
/// </summary>
public sealed partial class RevocationMirror(
    RevocationList revocations, ISharedState state, NpgsqlDataSource database, IConfiguration configuration, TimeProvider time,
    ILogger<RevocationMirror> logger) : BackgroundService
{
    private const string LoadGuardKey = "revoked:mirror-loading";
    private static readonly TimeSpan RecentWindow = TimeSpan.FromMinutes(1);
    private static readonly TimeSpan SweepEvery = TimeSpan.FromMinutes(1);

    private readonly TimeSpan _interval = TimeSpan.TryParse(configuration["Identity:RevocationSyncInterval"], CultureInfo.InvariantCulture, out var interval)
        ? interval
        : TimeSpan.FromSeconds(1);

    private bool _failing;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var lastSweep = time.GetTimestamp();
        using var timer = new PeriodicTimer(_interval, time);
        do
        {
            try
            {
                await SyncAsync(stoppingToken);
                if (time.GetElapsedTime(lastSweep) >= SweepEvery)
                {
                    await SweepAsync(stoppingToken);
                    lastSweep = time.GetTimestamp();
                }

                if (_failing)
                {
                    _failing = false;
                    LogRecovered(logger);
                }
            }
            catch (Exception ex) when (ex is SharedStateUnavailableException or NpgsqlException or TimeoutException && !stoppingToken.IsCancellationRequested)
            {
                if (!_failing)
                {
                    _failing = true;
                    LogFailing(logger, ex.GetType().Name, ex.Message);
                }
            }
        }
        while (await WaitAsync(timer, stoppingToken));
    }

    private static async Task<bool> WaitAsync(PeriodicTimer timer, CancellationToken stoppingToken)
    {
        try
        {
            return await timer.WaitForNextTickAsync(stoppingToken);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>One pass: a full load when the mirror is incomplete, else the recent revocations.</summary>
    internal async Task SyncAsync(CancellationToken cancellationToken)
    {
        var complete = (await state.ExistAsync([RevocationList.MirrorCompleteKey], cancellationToken))[0];
        if (revocations.TakeLoadRequest() || !complete)
        {
            await LoadAllAsync(cancellationToken);
            return;
        }

        await CopyAsync("revoked_at > now() - @recent", cancellationToken);
    }

    private async Task LoadAllAsync(CancellationToken cancellationToken)
    {
        var guard = Guid.NewGuid().ToString("N");
        await state.SetTextAsync(LoadGuardKey, guard);
        var count = await CopyAsync("true", cancellationToken);
        if (await state.SetIfGuardAsync(RevocationList.MirrorCompleteKey, "1", LoadGuardKey, guard))
        {
            LogLoaded(logger, count);
        }
    }

    private async Task<int> CopyAsync(string filter, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        // The filter is one of two fixed strings above, never input.
        var rows = (await connection.QueryAsync<(string Key, double Seconds)>(new CommandDefinition(
            $"SELECT key, extract(epoch FROM expires_at - now())::float8 FROM platform.revocations WHERE expires_at > now() AND {filter}",
            new { recent = RecentWindow }, cancellationToken: cancellationToken))).ToList();
        foreach (var chunk in rows.Chunk(500))
        {
            // Concurrent commands are pipelined on the one connection.
            await Task.WhenAll(chunk.Select(r => state.SetFlagAsync(r.Key, TimeSpan.FromSeconds(r.Seconds))));
        }

        return rows.Count;
    }

    private async Task SweepAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition(
            "DELETE FROM platform.revocations WHERE expires_at < now() - interval '1 hour'", cancellationToken: cancellationToken));
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Revocation mirror rebuilt from PostgreSQL ({Count} live revocations)")]
    private static partial void LogLoaded(ILogger logger, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Revocation mirror cannot sync ({Kind}: {Error}); checks read PostgreSQL meanwhile")]
    private static partial void LogFailing(ILogger logger, string kind, string error);

    [LoggerMessage(Level = LogLevel.Information, Message = "Revocation mirror syncing again")]
    private static partial void LogRecovered(ILogger logger);
}
