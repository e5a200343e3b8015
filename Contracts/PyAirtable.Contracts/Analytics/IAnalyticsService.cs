using ProtoBuf;
using ProtoBuf.Grpc;
using ProtoBuf.Grpc.Configuration;

using PyAirtable.Contracts.Common;

namespace PyAirtable.Contracts.Analytics;

/// <summary>
/// API call metrics: every call the platform serves is recorded (the seed's <c>APIMetrics</c>), external clients may
/// send the metrics of their own calls, and both can be queried (count, error rate, latency percentiles, time buckets)
/// or followed live. Platform admins see every call; the owner of a workspace sees the calls recorded for that
/// workspace; anyone else is PERMISSION_DENIED. A query or tail without a workspace needs an admin.
/// </summary>
[Service("pyairtable.analytics.v1.AnalyticsService")]
public interface IAnalyticsService
{
    /// <summary>
    /// Records call metrics sent by an external client, in as many messages as it likes (at most
    /// 10,000 metrics per call). Each metric is validated on its own: valid ones are stored, invalid ones are
    /// rejected and listed (the first 100) in the response; the call fails only when the caller may not
    /// write, or the stream is malformed.
    /// </summary>
    [HttpRoute("POST", "/v1/analytics/metrics:ingest", StreamBody = "*")]
    ValueTask<IngestMetricsResponse> IngestMetricsAsync(IAsyncEnumerable<IngestMetricsRequest> requests, CallContext context = default);

    /// <summary>
    /// Count, errors and latency percentiles of the calls in a time range, optionally of one workspace and one
    /// endpoint, in total, per status code and per time bucket.
    /// </summary>
    [HttpRoute("POST", "/v1/analytics/metrics:query")]
    ValueTask<QueryMetricsResponse> QueryMetricsAsync(QueryMetricsRequest request, CallContext context = default);

    /// <summary>
    /// Calls as they are recorded, on any host of the platform, filtered as QueryMetrics filters, until the call's
    /// deadline or cancellation. Calls are sent after they are written, in batches (within about a second of the
    /// call, see <c>Analytics:FlushInterval</c>); a tail that cannot keep up loses the oldest (see
    /// <c>TailMetricsResponse.skipped</c>).
    /// </summary>
    [HttpRoute("GET", "/v1/analytics/metrics:tail")]
    IAsyncEnumerable<TailMetricsResponse> TailMetricsAsync(TailMetricsRequest request, CallContext context = default);
}

/// <summary>
/// The HTTP method of a call (the seed's <c>HttpMethod</c>; named so in C# that it does not clash with
/// <c>System.Net.Http.HttpMethod</c>). Every gRPC call is a POST.
/// </summary>
[ProtoContract(Name = "HttpMethod")]
public enum ApiHttpMethod
{
    /// <summary>Not set: rejected on ingest.</summary>
    [ProtoEnum(Name = "HTTP_METHOD_UNSPECIFIED")] Unspecified = 0,
    /// <summary>GET.</summary>
    [ProtoEnum(Name = "HTTP_METHOD_GET")] Get = 1,
    /// <summary>POST (every gRPC call).</summary>
    [ProtoEnum(Name = "HTTP_METHOD_POST")] Post = 2,
    /// <summary>PUT.</summary>
    [ProtoEnum(Name = "HTTP_METHOD_PUT")] Put = 3,
    /// <summary>PATCH.</summary>
    [ProtoEnum(Name = "HTTP_METHOD_PATCH")] Patch = 4,
    /// <summary>DELETE.</summary>
    [ProtoEnum(Name = "HTTP_METHOD_DELETE")] Delete = 5,
    /// <summary>HEAD.</summary>
    [ProtoEnum(Name = "HTTP_METHOD_HEAD")] Head = 6,
    /// <summary>OPTIONS.</summary>
    [ProtoEnum(Name = "HTTP_METHOD_OPTIONS")] Options = 7,
}

/// <summary>What a status code is: a gRPC status or an HTTP status.</summary>
[ProtoContract]
public enum CallProtocol
{
    /// <summary>Not set: rejected on ingest.</summary>
    [ProtoEnum(Name = "CALL_PROTOCOL_UNSPECIFIED")] Unspecified = 0,
    /// <summary>A gRPC call: <c>status_code</c> is the gRPC status (0 OK … 16 UNAUTHENTICATED); anything but 0 is an error.</summary>
    [ProtoEnum(Name = "CALL_PROTOCOL_GRPC")] Grpc = 1,
    /// <summary>An HTTP call: <c>status_code</c> is the HTTP status (100–599); 400 and above is an error.</summary>
    [ProtoEnum(Name = "CALL_PROTOCOL_HTTP")] Http = 2,
}

/// <summary>Where a metric came from.</summary>
[ProtoContract]
public enum MetricSource
{
    /// <summary>Not set.</summary>
    [ProtoEnum(Name = "METRIC_SOURCE_UNSPECIFIED")] Unspecified = 0,
    /// <summary>Recorded by the platform's gateway for a call it served.</summary>
    [ProtoEnum(Name = "METRIC_SOURCE_GATEWAY")] Gateway = 1,
    /// <summary>Sent by a client with IngestMetrics.</summary>
    [ProtoEnum(Name = "METRIC_SOURCE_INGESTED")] Ingested = 2,
}

/// <summary>
/// One call (the seed's <c>APIMetrics</c>, same field numbers for its fields). The gateway records every gRPC call it
/// serves, refused ones included, with the caller's user id when authenticated and the workspace when the request
/// names one by a <c>workspace_id</c> field.
/// </summary>
[ProtoContract]
public sealed record ApiMetrics
{
    /// <summary>What was called: for gRPC the full method path (<c>/pyairtable.users.v1.UserService/GetUser</c>); for HTTP the route. 1 to 256 characters.</summary>
    [ProtoMember(1)] public string Endpoint { get; init; } = "";

    /// <summary>The HTTP method; POST for every gRPC call.</summary>
    [ProtoMember(2)] public ApiHttpMethod Method { get; init; }

    /// <summary>The gRPC status (0–16) or HTTP status (100–599) the caller saw, as <c>protocol</c> says.</summary>
    [ProtoMember(3)] public int StatusCode { get; init; }

    /// <summary>How long the call took, in whole milliseconds (rounded down; <c>response_time</c> has the exact value).</summary>
    [ProtoMember(4)] public long ResponseTimeMs { get; init; }

    /// <summary>The user who made the call; empty when it was anonymous. On ingest, empty or the caller's own id.</summary>
    [ProtoMember(5)] public string UserId { get; init; } = "";

    /// <summary>The workspace the call was about, when known; empty otherwise. On ingest, one the caller may edit (at most 100 distinct per call).</summary>
    [ProtoMember(6)] public string WorkspaceId { get; init; } = "";

    /// <summary>When the call ended (UTC). On ingest: within the last hour, and at most a minute ahead of the server's clock.</summary>
    [ProtoMember(7)] public DateTime? Timestamp { get; init; }

    /// <summary>How long the call took, to the microsecond. On ingest it wins over <c>response_time_ms</c> when set; at most one hour.</summary>
    [ProtoMember(8)] public TimeSpan? ResponseTime { get; init; }

    /// <summary>Whether <c>status_code</c> is a gRPC or an HTTP status.</summary>
    [ProtoMember(9)] public CallProtocol Protocol { get; init; }

    /// <summary>Who recorded it (set by the server; ignored on ingest).</summary>
    [ProtoMember(10)] public MetricSource Source { get; init; }

    /// <summary>How a call the gateway served arrived: gRPC, gRPC-Web or JSON/HTTP (set by the server; ignored on ingest).</summary>
    [ProtoMember(11)] public CallTransport Transport { get; init; }

    /// <summary>
    /// The API version called, from the endpoint: <c>v2</c> of <c>/pyairtable.users.v2.UserService/GetUser</c>, <c>v1</c> of
    /// an HTTP route <c>/v1/…</c>; empty when the endpoint names none (set by the server; ignored on ingest).
    /// </summary>
    [ProtoMember(12)] public string ApiVersion { get; init; } = "";
}

/// <summary>Some metrics of calls the client made.</summary>
[ProtoContract]
public sealed record IngestMetricsRequest
{
    /// <summary>The metrics, at most 1,000 per message.</summary>
    [ProtoMember(1)] public List<ApiMetrics> Metrics { get; init; } = [];
}

/// <summary>What became of the metrics sent.</summary>
[ProtoContract]
public sealed record IngestMetricsResponse
{
    /// <summary>Metrics stored.</summary>
    [ProtoMember(1)] public int Accepted { get; init; }

    /// <summary>Metrics refused as invalid (not stored).</summary>
    [ProtoMember(2)] public int Rejected { get; init; }

    /// <summary>Why, for the first 100 rejected metrics.</summary>
    [ProtoMember(3)] public List<RejectedMetric> Rejections { get; init; } = [];
}

/// <summary>One metric refused by IngestMetrics.</summary>
[ProtoContract]
public sealed record RejectedMetric
{
    /// <summary>Its position in the call, counted from 0 across all messages of the stream.</summary>
    [ProtoMember(1)] public int Index { get; init; }

    /// <summary>The field at fault, e.g. <c>endpoint</c>.</summary>
    [ProtoMember(2)] public string Field { get; init; } = "";

    /// <summary>What is wrong with it.</summary>
    [ProtoMember(3)] public string Description { get; init; } = "";
}

/// <summary>Which calls to summarize, and how finely.</summary>
[ProtoContract]
public sealed record QueryMetricsRequest
{
    /// <summary>Only calls of this workspace (its owner or an admin may ask); empty for all calls (admins only).</summary>
    [ProtoMember(1)] public string WorkspaceId { get; init; } = "";

    /// <summary>Only calls of this endpoint (exact match, e.g. <c>/pyairtable.users.v1.UserService/GetUser</c>); empty for all.</summary>
    [ProtoMember(2)] public string Endpoint { get; init; } = "";

    /// <summary>Start of the range (inclusive, UTC). Required.</summary>
    [ProtoMember(3)] public DateTime? StartTime { get; init; }

    /// <summary>End of the range (exclusive, UTC). Required; after <c>start_time</c>, at most 400 days later.</summary>
    [ProtoMember(4)] public DateTime? EndTime { get; init; }

    /// <summary>
    /// Width of the time buckets to return; unset or zero for none. A whole number of minutes, or of hours when the
    /// range reads hourly roll-ups (see <c>QueryMetricsResponse.source</c>); at most 1,000 buckets.
    /// </summary>
    [ProtoMember(5)] public TimeSpan? BucketWidth { get; init; }

    /// <summary>Break the totals down per endpoint too (the 100 endpoints with the most calls).</summary>
    [ProtoMember(6)] public bool ByEndpoint { get; init; }

    /// <summary>
    /// Also return <c>transport_shares</c>: per endpoint, the share of its calls by transport (gRPC, gRPC-Web, JSON/HTTP)
    /// and its share among the versions of the same method: what owners watch before switching a JSON route or a
    /// deprecated version off.
    /// </summary>
    [ProtoMember(7)] public bool ByTransport { get; init; }
}

/// <summary>Which stored data answered a query.</summary>
[ProtoContract]
public enum MetricsResolution
{
    /// <summary>Not set.</summary>
    [ProtoEnum(Name = "METRICS_RESOLUTION_UNSPECIFIED")] Unspecified = 0,
    /// <summary>The recorded calls themselves (ranges starting within <c>Analytics:RawRetention</c>, 48 h by default, and at most <c>Analytics:RawQueryMaxRange</c> long, 6 h).</summary>
    [ProtoEnum(Name = "METRICS_RESOLUTION_RAW")] Raw = 1,
    /// <summary>Per-minute roll-ups (other ranges starting within <c>Analytics:MinuteRetention</c>, 7 days by default); they include calls up to the last roll-up run.</summary>
    [ProtoEnum(Name = "METRICS_RESOLUTION_MINUTE")] Minute = 2,
    /// <summary>Per-hour roll-ups (older ranges, kept <c>Analytics:HourRetention</c>, 400 days by default).</summary>
    [ProtoEnum(Name = "METRICS_RESOLUTION_HOUR")] Hour = 3,
}

/// <summary>The summary of the calls asked for.</summary>
[ProtoContract]
public sealed record QueryMetricsResponse
{
    /// <summary>All calls in the range.</summary>
    [ProtoMember(1)] public MetricsSummary? Total { get; init; }

    /// <summary>One per bucket of <c>bucket_width</c> from <c>start_time</c>, in time order, empty buckets included.</summary>
    [ProtoMember(2)] public List<MetricsBucket> Buckets { get; init; } = [];

    /// <summary>When <c>by_endpoint</c>: one per endpoint, most calls first.</summary>
    [ProtoMember(3)] public List<EndpointMetrics> Endpoints { get; init; } = [];

    /// <summary>Which data answered: percentiles always come from latency histograms (see the README for their precision).</summary>
    [ProtoMember(4)] public MetricsResolution Resolution { get; init; }

    /// <summary>When <c>by_transport</c>: one per endpoint (all of them), by method and version.</summary>
    [ProtoMember(5)] public List<EndpointTransportShares> TransportShares { get; init; } = [];
}

/// <summary>Count, errors and latency of a set of calls.</summary>
[ProtoContract]
public sealed record MetricsSummary
{
    /// <summary>Calls.</summary>
    [ProtoMember(1)] public long Count { get; init; }

    /// <summary>Calls that failed: a gRPC status other than OK, or an HTTP status of 400 or more.</summary>
    [ProtoMember(2)] public long ErrorCount { get; init; }

    /// <summary><c>error_count / count</c>, 0 when there were no calls.</summary>
    [ProtoMember(3)] public double ErrorRate { get; init; }

    /// <summary>Median latency, from a histogram whose buckets are at most 10 % wide; unset without calls.</summary>
    [ProtoMember(4)] public TimeSpan? P50 { get; init; }

    /// <summary>95th percentile latency (as <c>p50</c>).</summary>
    [ProtoMember(5)] public TimeSpan? P95 { get; init; }

    /// <summary>99th percentile latency (as <c>p50</c>).</summary>
    [ProtoMember(6)] public TimeSpan? P99 { get; init; }

    /// <summary>Calls per protocol and status code, most frequent first.</summary>
    [ProtoMember(7)] public List<StatusCount> Statuses { get; init; } = [];
}

/// <summary>How many calls ended with one status.</summary>
[ProtoContract]
public sealed record StatusCount
{
    /// <summary>gRPC or HTTP.</summary>
    [ProtoMember(1)] public CallProtocol Protocol { get; init; }

    /// <summary>The status code.</summary>
    [ProtoMember(2)] public int StatusCode { get; init; }

    /// <summary>Calls.</summary>
    [ProtoMember(3)] public long Count { get; init; }
}

/// <summary>The calls of one time bucket.</summary>
[ProtoContract]
public sealed record MetricsBucket
{
    /// <summary>Start of the bucket (inclusive); it ends where the next begins.</summary>
    [ProtoMember(1)] public DateTime? StartTime { get; init; }

    /// <summary>Its calls.</summary>
    [ProtoMember(2)] public MetricsSummary? Summary { get; init; }
}

/// <summary>The calls of one endpoint.</summary>
[ProtoContract]
public sealed record EndpointMetrics
{
    /// <summary>The endpoint.</summary>
    [ProtoMember(1)] public string Endpoint { get; init; } = "";

    /// <summary>Its calls.</summary>
    [ProtoMember(2)] public MetricsSummary? Summary { get; init; }
}

/// <summary>Which calls to follow.</summary>
[ProtoContract]
public sealed record TailMetricsRequest
{
    /// <summary>Only calls of this workspace (its owner or an admin); empty for all calls (admins only).</summary>
    [ProtoMember(1)] public string WorkspaceId { get; init; } = "";

    /// <summary>Only calls of this endpoint (exact match); empty for all.</summary>
    [ProtoMember(2)] public string Endpoint { get; init; } = "";

    /// <summary>Only failed calls.</summary>
    [ProtoMember(3)] public bool ErrorsOnly { get; init; }
}

/// <summary>Calls just recorded.</summary>
[ProtoContract]
public sealed record TailMetricsResponse
{
    /// <summary>The calls, in the order they were written.</summary>
    [ProtoMember(1)] public List<ApiMetrics> Metrics { get; init; } = [];

    /// <summary>Matching calls this tail lost since its previous message because it read too slowly.</summary>
    [ProtoMember(2)] public long Skipped { get; init; }
}
