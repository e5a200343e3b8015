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
/// <item>otherwise it copies what was revoked since its own last successful pass (less a minute, for
/// transactions that committed late), which repairs mirror writes that failed after their commit — however
/// long Redis was unreachable — and everything on this host's first pass; copies are idempotent, so several
/// hosts doing it at once is harmless;</item>
/// <item>once a minute it deletes revocations that expired an hour ago.</item>
/// </list>
/// </summary>
public sealed partial class RevocationMirror(
    RevocationList revocations, ISharedState state, NpgsqlDataSource database, IConfiguration configuration, TimeProvider time,
    ILogger<RevocationMirror> logger) : BackgroundService
{
    private const string LoadGuardKey = "revoked:mirror-loading";
    private static readonly TimeSpan CommitLag = TimeSpan.FromMinutes(1);
    private static readonly TimeSpan SweepEvery = TimeSpan.FromMinutes(1);

    private readonly TimeSpan _interval = TimeSpan.TryParse(configuration["Identity:RevocationSyncInterval"], CultureInfo.InvariantCulture, out var interval)
        ? interval
        : TimeSpan.FromSeconds(1);

    private bool _failing;
    private DateTime? _syncedSince; // PostgreSQL's clock at the start of the last pass that copied everything it found

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

    /// <summary>One pass: a full load when the mirror is incomplete, else what was revoked since the last good pass.</summary>
    internal async Task SyncAsync(CancellationToken cancellationToken)
    {
        var complete = (await state.ExistAsync([RevocationList.MirrorCompleteKey], cancellationToken))[0];
        if (!complete)
        {
            var guard = Guid.NewGuid().ToString("N");
            await state.SetTextAsync(LoadGuardKey, guard);
            var (count, startedAt) = await CopyAsync(since: null, cancellationToken);
            _syncedSince = startedAt;
            if (await state.SetIfGuardAsync(RevocationList.MirrorCompleteKey, "1", LoadGuardKey, guard))
            {
                LogLoaded(logger, count);
            }

            return;
        }

        // A publish that failed on this host, or no good pass yet: copy everything.
        var since = revocations.TakeLoadRequest() ? null : _syncedSince - CommitLag;
        (_, var passStartedAt) = await CopyAsync(since, cancellationToken);
        _syncedSince = passStartedAt;
    }

    /// <summary>Copies live revocations (those revoked after <paramref name="since"/>, or all); returns how many and PostgreSQL's clock at the start.</summary>
    private async Task<(int Count, DateTime StartedAt)> CopyAsync(DateTime? since, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        await using var results = await connection.QueryMultipleAsync(new CommandDefinition(
            """
            SELECT now();
            SELECT key, extract(epoch FROM expires_at - now())::float8 FROM platform.revocations
             WHERE expires_at > now() AND (@since::timestamptz IS NULL OR revoked_at > @since);
            """, new { since }, cancellationToken: cancellationToken));
        var startedAt = await results.ReadSingleAsync<DateTime>();
        var rows = (await results.ReadAsync<(string Key, double Seconds)>()).ToList();
        foreach (var chunk in rows.Chunk(500))
        {
            // Concurrent commands are pipelined on the one connection.
            await Task.WhenAll(chunk.Select(r => state.SetFlagAsync(r.Key, TimeSpan.FromSeconds(r.Seconds))));
        }

        return (rows.Count, startedAt);
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
