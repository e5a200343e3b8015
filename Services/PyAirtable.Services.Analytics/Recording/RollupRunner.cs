using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using PyAirtable.Services.Analytics.Stores;

namespace PyAirtable.Services.Analytics.Recording;

/// <summary>What one roll-up run did; null from <see cref="RollupRunner.RunOnceAsync"/> when another host was running one.</summary>
internal sealed record RollupResult(int Minutes, int Hours, int CallsDeleted, int MinuteRowsDeleted, int HourRowsDeleted);

/// <summary>
/// Every <c>Analytics:RollupInterval</c>: recomputes the minute and hour roll-ups of what was written since the last run
/// and applies retention. Any number of hosts run it; an advisory lock lets one at a time work, and the work is
/// idempotent (see <see cref="RollupStore"/>).
/// </summary>
internal sealed partial class RollupRunner(
    NpgsqlDataSource dataSource, IOptions<AnalyticsOptions> options, ILogger<RollupRunner> logger) : BackgroundService
{
    /// <summary>
    /// Rows written less than this before the previous run started may have committed after it looked: they are
    /// looked at again (a batch commits within milliseconds of its insert).
    /// </summary>
    private static readonly TimeSpan CommitMargin = TimeSpan.FromSeconds(30);

    public async Task<RollupResult?> RunOnceAsync(CancellationToken ct)
    {
        var settings = options.Value;
        await using var db = await AnalyticsSession.BeginAsync(dataSource, ct);
        if (!await db.Rollups.TryLockAsync(ct))
        {
            return null;
        }

        var (lastRun, now) = await db.Rollups.RunTimesAsync(ct);
        var minutes = await db.Rollups.DirtyMinutesAsync(lastRun - CommitMargin, ct);
        var hours = minutes.Select(m => new DateTime(m.Year, m.Month, m.Day, m.Hour, 0, 0, DateTimeKind.Utc)).Distinct().ToArray();
        if (minutes.Length > 0)
        {
            await db.Rollups.RollMinutesAsync(minutes, ct);
            await db.Rollups.RollHoursAsync(hours, ct);
        }

        var (calls, minuteRows, hourRows) = await db.Rollups.ApplyRetentionAsync(
            now - settings.RawRetention, now - settings.MinuteRetention, now - settings.HourRetention, ct);
        await db.Rollups.SetLastRunAsync(now, ct);
        await db.CommitAsync(ct);
        return new RollupResult(minutes.Length, hours.Length, calls, minuteRows, hourRows);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var interval = options.Value.RollupInterval;
        if (interval <= TimeSpan.Zero)
        {
            return;
        }

        using var timer = new PeriodicTimer(interval);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                try
                {
                    await RunOnceAsync(stoppingToken);
                }
                catch (Exception ex) when (ex is NpgsqlException or TimeoutException or InvalidOperationException && !stoppingToken.IsCancellationRequested)
                {
                    LogFailed(logger, ex);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // shutting down
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Analytics roll-up failed; the next run picks it up")]
    private static partial void LogFailed(ILogger logger, Exception exception);
}
