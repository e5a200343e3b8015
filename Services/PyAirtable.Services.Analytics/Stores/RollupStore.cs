using Dapper;

namespace PyAirtable.Services.Analytics.Stores;

/// <summary>
/// Minute and hour roll-ups and retention. Minutes that received calls since the last run are recomputed whole from
/// the recorded calls (replace, never add), then their hours from the minutes: running twice, or on two hosts, gives
/// the same rows. Runs take a transaction-scoped advisory lock so hosts do not duplicate the work.
/// </summary>
internal sealed class RollupStore(AnalyticsSession session)
{
    // "analytic" in ASCII: the advisory lock of roll-up runs.
    private const long LockKey = 0x616E616C79746963;

    /// <summary>True when this transaction got the roll-up lock; false when another host is running one.</summary>
    public Task<bool> TryLockAsync(CancellationToken ct) =>
        session.Connection.QuerySingleAsync<bool>(new CommandDefinition(
            "SELECT pg_try_advisory_xact_lock(@key)", new { key = LockKey }, session.Transaction, cancellationToken: ct));

    /// <summary>The start of the previous run, or null before the first; and the start of this one (the transaction's time).</summary>
    public async Task<(DateTime? LastRun, DateTime Now)> RunTimesAsync(CancellationToken ct)
    {
        var row = await session.Connection.QuerySingleAsync<(DateTime? LastRun, DateTime Now)>(new CommandDefinition(
            "SELECT (SELECT last_run_at FROM analytics.rollup_state WHERE id = 1), now()", transaction: session.Transaction, cancellationToken: ct));
        return row;
    }

    public Task SetLastRunAsync(DateTime at, CancellationToken ct) =>
        session.Connection.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO analytics.rollup_state (id, last_run_at) VALUES (1, @at)
            ON CONFLICT (id) DO UPDATE SET last_run_at = excluded.last_run_at
            """, new { at }, session.Transaction, cancellationToken: ct));

    /// <summary>The minutes (UTC) of calls written since <paramref name="since"/> (all minutes when null).</summary>
    public async Task<DateTime[]> DirtyMinutesAsync(DateTime? since, CancellationToken ct) =>
        [.. await session.Connection.QueryAsync<DateTime>(new CommandDefinition(
            since is null
                ? "SELECT DISTINCT date_trunc('minute', recorded_at, 'UTC') FROM analytics.calls"
                : "SELECT DISTINCT date_trunc('minute', recorded_at, 'UTC') FROM analytics.calls WHERE inserted_at >= @since",
            new { since }, session.Transaction, cancellationToken: ct))];

    /// <summary>Recomputes the per-minute rows of <paramref name="minutes"/> from the recorded calls.</summary>
    public async Task<int> RollMinutesAsync(DateTime[] minutes, CancellationToken ct)
    {
        await session.Connection.ExecuteAsync(new CommandDefinition(
            "DELETE FROM analytics.minute_rollups WHERE bucket_start = ANY(@minutes)", new { minutes }, session.Transaction, cancellationToken: ct));
        return await session.Connection.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO analytics.minute_rollups (bucket_start, endpoint, workspace_id, protocol, status_code, is_error, latency_bucket, calls,
                                                  transport, api_version)
            SELECT date_trunc('minute', recorded_at, 'UTC'), endpoint, workspace_id, protocol, status_code, is_error,
                   width_bucket(duration_us, @bounds) - 1, count(*), transport, api_version
              FROM analytics.calls
             WHERE recorded_at >= @from AND recorded_at < @to AND date_trunc('minute', recorded_at, 'UTC') = ANY(@minutes)
             GROUP BY 1, 2, 3, 4, 5, 6, 7, 9, 10
            """,
            new { minutes, from = minutes.Min(), to = minutes.Max().AddMinutes(1), bounds = LatencyHistogram.LowerBounds },
            session.Transaction, cancellationToken: ct));
    }

    /// <summary>Recomputes the per-hour rows of <paramref name="hours"/> from the per-minute rows.</summary>
    public async Task<int> RollHoursAsync(DateTime[] hours, CancellationToken ct)
    {
        await session.Connection.ExecuteAsync(new CommandDefinition(
            "DELETE FROM analytics.hour_rollups WHERE bucket_start = ANY(@hours)", new { hours }, session.Transaction, cancellationToken: ct));
        return await session.Connection.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO analytics.hour_rollups (bucket_start, endpoint, workspace_id, protocol, status_code, is_error, latency_bucket, calls,
                                                transport, api_version)
            SELECT date_trunc('hour', bucket_start, 'UTC'), endpoint, workspace_id, protocol, status_code, is_error, latency_bucket, sum(calls),
                   transport, api_version
              FROM analytics.minute_rollups
             WHERE bucket_start >= @from AND bucket_start < @to AND date_trunc('hour', bucket_start, 'UTC') = ANY(@hours)
             GROUP BY 1, 2, 3, 4, 5, 6, 7, 9, 10
            """,
            new { hours, from = hours.Min(), to = hours.Max().AddHours(1) }, session.Transaction, cancellationToken: ct));
    }

    /// <summary>Deletes calls, minute rows and hour rows older than their cut-offs; how many of each went.</summary>
    public async Task<(int Calls, int Minutes, int Hours)> ApplyRetentionAsync(
        DateTime callsBefore, DateTime minutesBefore, DateTime hoursBefore, CancellationToken ct)
    {
        var calls = await session.Connection.ExecuteAsync(new CommandDefinition(
            "DELETE FROM analytics.calls WHERE recorded_at < @before", new { before = callsBefore }, session.Transaction, cancellationToken: ct));
        var minutes = await session.Connection.ExecuteAsync(new CommandDefinition(
            "DELETE FROM analytics.minute_rollups WHERE bucket_start < @before", new { before = minutesBefore }, session.Transaction, cancellationToken: ct));
        var hours = await session.Connection.ExecuteAsync(new CommandDefinition(
            "DELETE FROM analytics.hour_rollups WHERE bucket_start < @before", new { before = hoursBefore }, session.Transaction, cancellationToken: ct));
        return (calls, minutes, hours);
    }
}
