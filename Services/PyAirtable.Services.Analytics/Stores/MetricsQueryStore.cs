using System.Text;
using Dapper;
using PyAirtable.Contracts.Analytics;

namespace PyAirtable.Services.Analytics.Stores;

/// <summary>Which calls a query or tail is about.</summary>
internal sealed record MetricsFilter(Guid? WorkspaceId, string? Endpoint);

/// <summary>
/// Reads latency histograms per time bucket (and status) from the recorded calls or from a roll-up level; every level
/// answers in the same shape (<see cref="HistogramRow"/>), binned by <see cref="LatencyHistogram.LowerBounds"/>.
/// </summary>
internal sealed class MetricsQueryStore(AnalyticsSession session)
{
    /// <summary>
    /// Histogram rows of the calls in [<paramref name="start"/>, <paramref name="end"/>) in buckets of
    /// <paramref name="width"/> from <paramref name="start"/>; per endpoint when <paramref name="byEndpoint"/>.
    /// A roll-up period counts when it starts in the range.
    /// </summary>
    public async Task<List<HistogramRow>> ReadAsync(
        MetricsResolution resolution, MetricsFilter filter, DateTime start, DateTime end, TimeSpan width, bool byEndpoint, CancellationToken ct)
    {
        var (table, time, calls) = SourceOf(resolution);
        var latency = resolution == MetricsResolution.Raw ? "width_bucket(duration_us, @bounds) - 1" : "latency_bucket";
        var sql = new StringBuilder($"""
            SELECT date_bin(@width, {time}, @start) AS Bucket, {(byEndpoint ? "endpoint" : "NULL::text")} AS Endpoint,
                   protocol AS Protocol, status_code AS StatusCode, is_error AS IsError,
                   {latency} AS LatencyBucket, {calls} AS Calls
              FROM {table}
             WHERE {time} >= @start AND {time} < @end
            """);
        AppendFilter(sql, filter);
        sql.Append(" GROUP BY 1, 2, 3, 4, 5, 6");
        var rows = await session.Connection.QueryAsync<HistogramRow>(new CommandDefinition(sql.ToString(), new
        {
            width, start, end, bounds = LatencyHistogram.LowerBounds, workspace = filter.WorkspaceId, endpoint = filter.Endpoint,
        }, session.Transaction, cancellationToken: ct));
        return rows.AsList();
    }

    /// <summary>Calls in [<paramref name="start"/>, <paramref name="end"/>) per endpoint, API version and transport.</summary>
    public async Task<List<TransportRow>> ReadTransportsAsync(
        MetricsResolution resolution, MetricsFilter filter, DateTime start, DateTime end, CancellationToken ct)
    {
        var (table, time, calls) = SourceOf(resolution);
        var sql = new StringBuilder($"""
            SELECT endpoint AS Endpoint, api_version AS ApiVersion, transport AS Transport, {calls} AS Calls
              FROM {table}
             WHERE {time} >= @start AND {time} < @end
            """);
        AppendFilter(sql, filter);
        sql.Append(" GROUP BY 1, 2, 3");
        var rows = await session.Connection.QueryAsync<TransportRow>(new CommandDefinition(sql.ToString(), new
        {
            start, end, workspace = filter.WorkspaceId, endpoint = filter.Endpoint,
        }, session.Transaction, cancellationToken: ct));
        return rows.AsList();
    }

    /// <summary>
    /// The table a resolution reads, its time column and how it counts calls. Table and column names come from this fixed
    /// switch, never from the request; every value is a parameter.
    /// </summary>
    private static (string Table, string Time, string Calls) SourceOf(MetricsResolution resolution) => resolution switch
    {
        MetricsResolution.Raw => ("analytics.calls", "recorded_at", "count(*)"),
        MetricsResolution.Minute => ("analytics.minute_rollups", "bucket_start", "sum(calls)::bigint"),
        MetricsResolution.Hour => ("analytics.hour_rollups", "bucket_start", "sum(calls)::bigint"),
        _ => throw new ArgumentOutOfRangeException(nameof(resolution)),
    };

    private static void AppendFilter(StringBuilder sql, MetricsFilter filter)
    {
        if (filter.WorkspaceId is not null)
        {
            sql.Append(" AND workspace_id = @workspace");
        }

        if (filter.Endpoint is not null)
        {
            sql.Append(" AND endpoint = @endpoint");
        }
    }
}

/// <summary>Calls of one endpoint, version and transport.</summary>
internal sealed record TransportRow
{
    public string Endpoint { get; init; } = "";
    public string ApiVersion { get; init; } = "";
    public short Transport { get; init; }
    public long Calls { get; init; }
}

/// <summary>Calls of one time bucket, endpoint (when asked), status and latency bucket.</summary>
internal sealed record HistogramRow
{
    public DateTime Bucket { get; init; }
    public string? Endpoint { get; init; }
    public short Protocol { get; init; }
    public int StatusCode { get; init; }
    public bool IsError { get; init; }
    public int LatencyBucket { get; init; }
    public long Calls { get; init; }
}
