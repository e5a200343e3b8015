namespace PyAirtable.Services.Infrastructure.Telemetry;

/// <summary>One gRPC call the gateway served, as it hands it to the call recorder (the Analytics service's buffer).</summary>
/// <param name="EndedAt">When the call ended (UTC).</param>
/// <param name="Endpoint">The full method path, <c>/package.Service/Method</c>, from the routed endpoint (never the raw request path).</param>
/// <param name="GrpcStatus">The gRPC status the caller saw.</param>
/// <param name="Duration">How long the call took.</param>
/// <param name="UserId">The authenticated caller's <c>sub</c>, or null.</param>
/// <param name="WorkspaceId">The request's <c>workspace_id</c> field, when it has one; otherwise null.</param>
/// <param name="Transport">How the call arrived: <c>grpc</c>, <c>grpc_web</c> or <c>rest</c> (the RPC metrics' protocol tag).</param>
public readonly record struct ServedCall(
    DateTime EndedAt, string Endpoint, int GrpcStatus, TimeSpan Duration, string? UserId, string? WorkspaceId, string Transport = "grpc");

/// <summary>
/// Where the gateway puts every call it served. Implementations must never block or throw: a call is already answered
/// when it is recorded, and recording must not slow the next one.
/// </summary>
public interface ICallRecorder
{
    /// <summary>False when recording is switched off (<c>Analytics:RecordCalls</c>): the gateway then does no work at all.</summary>
    bool Enabled { get; }

    /// <summary>Takes the call, or drops (and counts) it when the buffer is full.</summary>
    void Record(in ServedCall served);
}
