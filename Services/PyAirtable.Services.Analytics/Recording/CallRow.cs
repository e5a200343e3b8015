using PyAirtable.Contracts.Analytics;

namespace PyAirtable.Services.Analytics.Recording;

/// <summary>A call as it is written to analytics.calls (and sent to tails).</summary>
internal readonly record struct CallRow(
    DateTime RecordedAt, string Endpoint, ApiHttpMethod Method, CallProtocol Protocol, int StatusCode, long DurationMicros,
    Guid? UserId, Guid? WorkspaceId, MetricSource Source)
{
    /// <summary>A failed call: a gRPC status other than OK, an HTTP status of 400 or more.</summary>
    public bool IsError => Protocol == CallProtocol.Http ? StatusCode >= 400 : StatusCode != 0;

    public ApiMetrics ToContract() => new()
    {
        Endpoint = Endpoint,
        Method = Method,
        StatusCode = StatusCode,
        ResponseTimeMs = DurationMicros / 1000,
        ResponseTime = TimeSpan.FromMicroseconds(DurationMicros),
        UserId = UserId?.ToString() ?? "",
        WorkspaceId = WorkspaceId?.ToString() ?? "",
        Timestamp = RecordedAt,
        Protocol = Protocol,
        Source = Source,
    };

    /// <summary>A call the gateway served; ids that are not UUIDs (a service's subject) are left out.</summary>
    public static CallRow Served(in PyAirtable.Services.Infrastructure.Telemetry.ServedCall call) => new(
        call.EndedAt, call.Endpoint, ApiHttpMethod.Post, CallProtocol.Grpc, call.GrpcStatus,
        (long)call.Duration.TotalMicroseconds,
        Guid.TryParse(call.UserId, out var user) ? user : null,
        Guid.TryParse(call.WorkspaceId, out var workspace) ? workspace : null,
        MetricSource.Gateway);
}
