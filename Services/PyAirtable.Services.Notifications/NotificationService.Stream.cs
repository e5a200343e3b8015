using PyAirtable.Contracts.Auth;
using PyAirtable.Contracts.Notifications;
using PyAirtable.Services.Infrastructure.Errors;
using PyAirtable.Services.Infrastructure.Identity;
using PyAirtable.Services.Notifications.Stores;
using CallContext = ProtoBuf.Grpc.CallContext;

namespace PyAirtable.Services.Notifications;

/// <summary>
/// The live stream: where to start is settled here (the feed's epoch and offsets, so resuming has no gap and no duplicate,
/// and any host serves any user); the rows after it come from <see cref="FeedSignals"/>, which reads and checks the feeds
/// of every stream on this host together and hands this one its rows, with heartbeats while idle. The stream holds no
/// connection and no thread while it waits.
/// </summary>
public sealed partial class NotificationService
{
    [RequiresScope(Scopes.WorkspacesRead)]
    public async IAsyncEnumerable<StreamNotificationsResponse> StreamNotificationsAsync(StreamNotificationsRequest request, CallContext context = default)
    {
        var user = Guid.Parse(context.RequireUser(NotificationsAreUsers).UserId);
        var validator = new RequestValidator();
        var resume = request.Epoch.Length > 0 ? validator.Id("epoch", request.Epoch) : (Guid?)null;
        if (request.AfterOffset < 0)
        {
            validator.Add("after_offset", "must not be negative");
        }

        validator.ThrowIfInvalid();
        var settings = options.Value;
        var ct = context.CancellationToken;
        FeedRow feed;
        await using (var db = await NotificationSession.OpenAsync(dataSource, ct))
        {
            feed = await db.Feeds.FeedAsync(user, ct);
        }

        var epoch = feed.Epoch.ToString();
        long cursor;
        var notRecovered = false;
        if (resume is null)
        {
            cursor = feed.LastOffset;
        }
        else if (resume != feed.Epoch || request.AfterOffset < feed.TrimmedThrough || request.AfterOffset > feed.LastOffset)
        {
            cursor = feed.LastOffset;
            notRecovered = true;
        }
        else
        {
            cursor = request.AfterOffset;
        }

        // Registered after the read above and before anything is sent: every row after the cursor (committed before or
        // after that read) is read for this stream by the dispatch loop.
        using var subscription = signals.Register(user, cursor, context);
        yield return new StreamNotificationsResponse { Epoch = epoch, Offset = cursor, NotRecovered = notRecovered };

        var nextHeartbeat = DateTime.UtcNow + settings.HeartbeatInterval;
        while (!ct.IsCancellationRequested)
        {
            var wait = nextHeartbeat - DateTime.UtcNow;
            var batch = wait > TimeSpan.Zero ? await subscription.NextAsync(wait, ct) : null;
            if (batch is null)
            {
                yield return new StreamNotificationsResponse { Epoch = epoch, Offset = cursor, Heartbeat = true };
                nextHeartbeat = DateTime.UtcNow + settings.HeartbeatInterval;
                continue;
            }

            // Checked by the loop as this service, or — on a host that has no service identity for a remote Permission
            // service — here, with the caller's own credentials.
            var visible = batch.Visible ?? await VisibleAsync(context, batch.Rows);
            for (var i = 0; i < batch.Rows.Count; i++)
            {
                cursor = batch.Rows[i].Offset;
                if (visible[i])
                {
                    yield return new StreamNotificationsResponse { Notification = batch.Rows[i].ToContract(), Epoch = epoch, Offset = cursor };
                }
            }

            subscription.Sent(batch.Rows.Count);
            nextHeartbeat = DateTime.UtcNow + settings.HeartbeatInterval;
        }
    }
}
