using PyAirtable.Contracts.Analytics;
using PyAirtable.Contracts.Auth;
using PyAirtable.Contracts.Common;
using PyAirtable.Services.Analytics.Recording;
using PyAirtable.Services.Analytics.Stores;
using PyAirtable.Services.Infrastructure.Errors;
using PyAirtable.Services.Infrastructure.Identity;
using static PyAirtable.Services.Analytics.AnalyticsRequests;
using CallContext = ProtoBuf.Grpc.CallContext;

namespace PyAirtable.Services.Analytics;

public sealed partial class AnalyticsService
{
    /// <summary>
    /// Stores the valid metrics of the stream (written as they come, 1,000 at a time) and lists why the others were
    /// refused. The user is the caller (a metric naming someone else is refused); a workspace needs edit on it.
    /// </summary>
    [RequiresScope(Scopes.AnalyticsWrite)]
    public async ValueTask<IngestMetricsResponse> IngestMetricsAsync(IAsyncEnumerable<IngestMetricsRequest> requests, CallContext context = default)
    {
        ArgumentNullException.ThrowIfNull(requests);
        var caller = context.RequireCaller();
        Guid? callerId = Guid.TryParse(caller.UserId, out var id) ? id : null;
        var ct = context.CancellationToken;
        var workspaces = new Dictionary<Guid, bool>();
        var pending = new List<CallRow>(MaxMetricsPerMessage);
        var rejections = new List<RejectedMetric>();
        int index = 0, accepted = 0, rejected = 0;
        await foreach (var request in requests.WithCancellation(ct))
        {
            if (request.Metrics.Count > MaxMetricsPerMessage)
            {
                throw new ValidationException("metrics", $"must hold at most {MaxMetricsPerMessage} metrics per message");
            }

            foreach (var metric in request.Metrics)
            {
                if (index >= MaxMetricsPerCall)
                {
                    throw new ValidationException("metrics", $"a call may send at most {MaxMetricsPerCall} metrics; send the rest in another call");
                }

                var (row, field, problem) = await CheckAsync(metric, caller, callerId, workspaces, context);
                if (row is { } valid)
                {
                    pending.Add(valid);
                    accepted++;
                }
                else
                {
                    rejected++;
                    if (rejections.Count < MaxRejectionsListed)
                    {
                        rejections.Add(new RejectedMetric { Index = index, Field = field!, Description = problem! });
                    }
                }

                index++;
            }

            if (pending.Count >= MaxMetricsPerMessage)
            {
                await StoreAsync(pending, ct);
            }
        }

        await StoreAsync(pending, ct);
        return new IngestMetricsResponse { Accepted = accepted, Rejected = rejected, Rejections = rejections };
    }

    private async Task StoreAsync(List<CallRow> rows, CancellationToken ct)
    {
        if (rows.Count == 0)
        {
            return;
        }

        await using (var db = await AnalyticsSession.OpenAsync(dataSource, ct))
        {
            await db.Calls.InsertAsync(rows, ct);
        }

        await tails.PublishAsync(rows);
        rows.Clear();
    }

    /// <summary>The row to store, or the field at fault and why.</summary>
    private async Task<(CallRow? Row, string? Field, string? Problem)> CheckAsync(
        ApiMetrics? metric, UserContext caller, Guid? callerId, Dictionary<Guid, bool> workspaces, CallContext context)
    {
        if (metric is null)
        {
            return (null, "metrics", "is empty");
        }

        var validator = new RequestValidator();
        var endpoint = EndpointOf(validator, "endpoint", metric.Endpoint, required: true);
        if (!validator.IsValid)
        {
            return (null, "endpoint", $"is required: at most {MaxEndpointLength} characters, without spaces or control characters");
        }

        if (metric.Method is ApiHttpMethod.Unspecified || !Enum.IsDefined(metric.Method))
        {
            return (null, "method", "must be an HTTP method (POST for gRPC calls)");
        }

        if (metric.Protocol is CallProtocol.Unspecified || !Enum.IsDefined(metric.Protocol))
        {
            return (null, "protocol", "must be CALL_PROTOCOL_GRPC or CALL_PROTOCOL_HTTP");
        }

        if (!IsValidStatus(metric.Protocol, metric.StatusCode))
        {
            return (null, "status_code", metric.Protocol == CallProtocol.Grpc ? "must be a gRPC status (0 to 16)" : "must be an HTTP status (100 to 599)");
        }

        var duration = metric.ResponseTime ?? TimeSpan.FromMilliseconds(metric.ResponseTimeMs);
        if (metric.ResponseTimeMs < 0 || duration < TimeSpan.Zero || duration > MaxResponseTime)
        {
            return (null, metric.ResponseTime is null ? "response_time_ms" : "response_time", "must be between 0 and one hour");
        }

        var now = time.GetUtcNow().UtcDateTime;
        if (metric.Timestamp is not { } stamp || Utc(stamp) < now - MaxIngestAge || Utc(stamp) > now + MaxIngestSkew)
        {
            return (null, "timestamp", "is required: within the last hour, and at most a minute ahead of the server's clock");
        }

        if (metric.UserId.Length > 0 && metric.UserId != caller.UserId)
        {
            return (null, "user_id", "must be empty or the caller's own user id");
        }

        var workspaceCheck = new RequestValidator();
        var workspace = WorkspaceOf(workspaceCheck, "workspace_id", metric.WorkspaceId);
        if (!workspaceCheck.IsValid)
        {
            return (null, "workspace_id", "must be a workspace id (a UUID) or empty");
        }

        if (workspace is { } ws)
        {
            if (!workspaces.TryGetValue(ws, out var allowed))
            {
                // Each new workspace is one permission check: a call may name a bounded number of them.
                allowed = workspaces.Count < MaxWorkspacesPerCall && await MayWriteAsync(context, caller, ws);
                workspaces[ws] = allowed;
            }

            if (!allowed)
            {
                return (null, "workspace_id",
                    $"you may not record metrics for this workspace (it needs edit on it; a call may name at most {MaxWorkspacesPerCall} workspaces)");
            }
        }

        return (new CallRow(Utc(stamp), endpoint!, metric.Method, metric.Protocol, metric.StatusCode,
            (long)duration.TotalMicroseconds, callerId, workspace, MetricSource.Ingested, CallTransport.Unspecified, CallRow.VersionOf(endpoint!)),
            null, null);
    }
}
