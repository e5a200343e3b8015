using PyAirtable.Contracts.Analytics;
using PyAirtable.Contracts.Auth;
using PyAirtable.Services.Analytics.Stores;
using PyAirtable.Services.Infrastructure.Errors;
using PyAirtable.Services.Infrastructure.Identity;
using static PyAirtable.Services.Analytics.AnalyticsRequests;
using CallContext = ProtoBuf.Grpc.CallContext;

namespace PyAirtable.Services.Analytics;

public sealed partial class AnalyticsService
{
    /// <summary>
    /// Summaries from latency histograms: of the recorded calls when the range starts within the raw retention and is
    /// at most <c>Analytics:RawQueryMaxRange</c> long, else of the minute roll-ups within their retention, else of the
    /// hour roll-ups.
    /// </summary>
    [RequiresScope(Scopes.AnalyticsRead)]
    public async ValueTask<QueryMetricsResponse> QueryMetricsAsync(QueryMetricsRequest request, CallContext context = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var caller = context.RequireCaller();
        var validator = new RequestValidator();
        var workspace = WorkspaceOf(validator, "workspace_id", request.WorkspaceId);
        var endpoint = EndpointOf(validator, "endpoint", request.Endpoint, required: false);
        // PostgreSQL keeps microseconds: bucket starts it returns must match the ones computed here.
        var start = request.StartTime is { } s ? ToMicroseconds(Utc(s)) : default;
        var end = request.EndTime is { } e ? ToMicroseconds(Utc(e)) : default;
        if (request.StartTime is null)
        {
            validator.Add("start_time", "is required");
        }

        if (request.EndTime is null)
        {
            validator.Add("end_time", "is required");
        }
        else if (request.StartTime is not null && (end <= start || end - start > MaxRange))
        {
            validator.Add("end_time", $"must be after start_time, by at most {MaxRange.TotalDays:0} days");
        }

        var settings = options.Value;
        var now = time.GetUtcNow().UtcDateTime;
        var resolution = start >= now - settings.RawRetention && end - start <= settings.RawQueryMaxRange ? MetricsResolution.Raw
            : start >= now - settings.MinuteRetention ? MetricsResolution.Minute
            : MetricsResolution.Hour;
        var width = request.BucketWidth ?? TimeSpan.Zero;
        if (width != TimeSpan.Zero && validator.IsValid)
        {
            var unit = resolution == MetricsResolution.Hour ? TimeSpan.FromHours(1) : TimeSpan.FromMinutes(1);
            if (width < TimeSpan.Zero || width.Ticks % unit.Ticks != 0)
            {
                validator.Add("bucket_width", resolution == MetricsResolution.Hour
                    ? "must be a whole number of hours for a range that reads hourly roll-ups (older than the minute roll-ups' retention)"
                    : "must be a whole number of minutes");
            }
            else if (((end - start).Ticks + width.Ticks - 1) / width.Ticks > MaxBuckets)
            {
                validator.Add("bucket_width", $"makes more than {MaxBuckets} buckets of the range");
            }
        }

        validator.ThrowIfInvalid();
        await AuthorizeReadAsync(context, caller, workspace);

        var ct = context.CancellationToken;
        var filter = new MetricsFilter(workspace, endpoint);
        var bucketed = width > TimeSpan.Zero;
        // One snapshot: the totals, buckets and endpoints of a response add up even while calls are written.
        await using var db = await AnalyticsSession.SnapshotAsync(dataSource, ct);
        var rows = await db.Queries.ReadAsync(resolution, filter, start, end, bucketed ? width : end - start, byEndpoint: false, ct);
        var endpointRows = request.ByEndpoint
            ? await db.Queries.ReadAsync(resolution, filter, start, end, end - start, byEndpoint: true, ct)
            : [];
        var transportRows = request.ByTransport ? await db.Queries.ReadTransportsAsync(resolution, filter, start, end, ct) : [];

        var total = new SummaryBuilder();
        var buckets = new Dictionary<DateTime, SummaryBuilder>();
        foreach (var row in rows)
        {
            total.Add(row);
            if (bucketed)
            {
                (buckets.TryGetValue(row.Bucket, out var b) ? b : buckets[row.Bucket] = new SummaryBuilder()).Add(row);
            }
        }

        var response = new QueryMetricsResponse
        {
            Total = total.Build(), Resolution = resolution, TransportShares = TransportShares.Of(transportRows),
        };
        if (bucketed)
        {
            for (var at = start; at < end; at += width)
            {
                response.Buckets.Add(new MetricsBucket
                {
                    StartTime = at,
                    Summary = (buckets.TryGetValue(at, out var b) ? b : new SummaryBuilder()).Build(),
                });
            }
        }

        var perEndpoint = new Dictionary<string, SummaryBuilder>(StringComparer.Ordinal);
        foreach (var row in endpointRows)
        {
            (perEndpoint.TryGetValue(row.Endpoint!, out var b) ? b : perEndpoint[row.Endpoint!] = new SummaryBuilder()).Add(row);
        }

        response.Endpoints.AddRange(perEndpoint
            .Select(p => new EndpointMetrics { Endpoint = p.Key, Summary = p.Value.Build() })
            .OrderByDescending(m => m.Summary!.Count).ThenBy(m => m.Endpoint, StringComparer.Ordinal)
            .Take(100));
        return response;
    }

    /// <summary>Adds up histogram rows into one summary.</summary>
    private sealed class SummaryBuilder
    {
        private readonly LatencyHistogram _latency = new();
        private readonly Dictionary<(CallProtocol, int), long> _statuses = [];
        private long _errors;

        public void Add(HistogramRow row)
        {
            _latency.AddBucket(row.LatencyBucket, row.Calls);
            var key = ((CallProtocol)row.Protocol, row.StatusCode);
            _statuses[key] = _statuses.GetValueOrDefault(key) + row.Calls;
            if (row.IsError)
            {
                _errors += row.Calls;
            }
        }

        public MetricsSummary Build() => new()
        {
            Count = _latency.Count,
            ErrorCount = _errors,
            ErrorRate = _latency.Count == 0 ? 0 : (double)_errors / _latency.Count,
            P50 = _latency.Percentile(0.50),
            P95 = _latency.Percentile(0.95),
            P99 = _latency.Percentile(0.99),
            Statuses = [.. _statuses
                .OrderByDescending(s => s.Value).ThenBy(s => s.Key.Item1).ThenBy(s => s.Key.Item2)
                .Select(s => new StatusCount { Protocol = s.Key.Item1, StatusCode = s.Key.Item2, Count = s.Value })],
        };
    }
}
