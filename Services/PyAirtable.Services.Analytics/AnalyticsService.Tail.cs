using PyAirtable.Contracts.Analytics;
using PyAirtable.Contracts.Auth;
using PyAirtable.Contracts.Common;
using PyAirtable.Services.Analytics.Recording;
using PyAirtable.Services.Infrastructure.Errors;
using PyAirtable.Services.Infrastructure.Identity;
using StackExchange.Redis;
using static PyAirtable.Services.Analytics.AnalyticsRequests;
using CallContext = ProtoBuf.Grpc.CallContext;

namespace PyAirtable.Services.Analytics;

public sealed partial class AnalyticsService
{
    /// <summary>At most this many calls per message of the tail.</summary>
    private const int MaxTailBatch = 500;

    /// <summary>
    /// The calls written from now on, on every host, that pass the filter; until the call's deadline, its cancellation
    /// or this host's shutdown (then the stream ends normally).
    /// </summary>
    [RequiresScope(Scopes.AnalyticsRead)]
    public async IAsyncEnumerable<TailMetricsResponse> TailMetricsAsync(TailMetricsRequest request, CallContext context = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var caller = context.RequireCaller();
        var validator = new RequestValidator();
        var workspace = WorkspaceOf(validator, "workspace_id", request.WorkspaceId);
        var endpoint = EndpointOf(validator, "endpoint", request.Endpoint, required: false);
        validator.ThrowIfInvalid();
        await AuthorizeReadAsync(context, caller, workspace);

        var workspaceText = workspace?.ToString();
        var errorsOnly = request.ErrorsOnly;
        TailHub.Subscriber subscriber;
        try
        {
            subscriber = await tails.SubscribeAsync(m =>
                (workspaceText is null || m.WorkspaceId == workspaceText)
                && (endpoint is null || m.Endpoint == endpoint)
                && (!errorsOnly || (m.Protocol == CallProtocol.Http ? m.StatusCode >= 400 : m.StatusCode != 0)));
        }
        catch (RedisException)
        {
            throw new PlatformException(ErrorCode.Unavailable, "The live tail needs Redis, which does not answer; retry shortly.");
        }

        using (subscriber)
        {
            using var ended = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken, lifetime.ApplicationStopping);
            var reader = subscriber.Queue.Reader;
            while (await WaitAsync(reader, ended.Token))
            {
                var batch = new TailMetricsResponse();
                while (batch.Metrics.Count < MaxTailBatch && reader.TryRead(out var metric))
                {
                    batch.Metrics.Add(metric);
                }

                if (batch.Metrics.Count > 0)
                {
                    yield return batch with { Skipped = subscriber.TakeSkipped() };
                }
            }
        }
    }

    /// <summary>False when the tail is over (cancelled, deadline, shutdown): the stream then ends.</summary>
    private static async Task<bool> WaitAsync(System.Threading.Channels.ChannelReader<ApiMetrics> reader, CancellationToken ct)
    {
        try
        {
            return await reader.WaitToReadAsync(ct);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }
}
