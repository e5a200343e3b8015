using Npgsql;
using PyAirtable.Services.Infrastructure.Database;

namespace PyAirtable.Services.Analytics.Stores;

/// <summary>A connection of the platform pool and, for work that writes, its transaction, with the analytics schema's stores.</summary>
internal sealed class AnalyticsSession(NpgsqlConnection connection, NpgsqlTransaction? transaction)
    : DatabaseSession(connection, transaction)
{
    private CallStore? _calls;
    private MetricsQueryStore? _queries;
    private RollupStore? _rollups;

    public CallStore Calls => _calls ??= new(this);

    public MetricsQueryStore Queries => _queries ??= new(this);

    public RollupStore Rollups => _rollups ??= new(this);

    /// <summary>A session without a transaction, for reads.</summary>
    public static Task<AnalyticsSession> OpenAsync(NpgsqlDataSource dataSource, CancellationToken ct) =>
        OpenAsync(dataSource, write: false, (c, t) => new AnalyticsSession(c, t), ct);

    /// <summary>A read-only snapshot: the several reads of one query see the same calls, however many are written meanwhile.</summary>
    public static async Task<AnalyticsSession> SnapshotAsync(NpgsqlDataSource dataSource, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        var connection = await dataSource.OpenConnectionAsync(ct);
        try
        {
            return new AnalyticsSession(connection, await connection.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead, ct));
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    /// <summary>A session in a transaction.</summary>
    public static Task<AnalyticsSession> BeginAsync(NpgsqlDataSource dataSource, CancellationToken ct) =>
        OpenAsync(dataSource, write: true, (c, t) => new AnalyticsSession(c, t), ct);
}
