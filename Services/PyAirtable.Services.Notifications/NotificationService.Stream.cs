using PyAirtable.Contracts.Auth;
using PyAirtable.Contracts.Notifications;
using PyAirtable.Services.Infrastructure.Errors;
using PyAirtable.Services.Infrastructure.Identity;
using PyAirtable.Services.Notifications.Stores;
using CallContext = ProtoBuf.Grpc.CallContext;

namespace PyAirtable.Services.Notifications;

/// <summary>
/// The live stream: the feed read from PostgreSQL by offset (so resuming has no gap and no duplicate, and any host serves
/// any user), woken by <see cref="FeedSignals"/> when the feed grows, with heartbeats while idle. Between reads the stream
/// holds no connection and no thread.
/// </summary>
public sealed partial class NotificationService
{
    private const int ReadBatch = 200;

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
        using var waiter = signals.Register(user); // before the first read: a notification committed after it wakes this stream
        FeedRow feed;
        await using (var db = await NotificationSession.OpenAsync(dataSource, ct))
        {
            feed = await db.Feeds.FeedAsync(user, ct);
        }

        var epoch = feed.Epoch.ToString();
        long cursor;
        if (resume is null)
        {
            cursor = feed.LastOffset;
            yield return new StreamNotificationsResponse { Epoch = epoch, Offset = cursor };
        }
        else if (resume != feed.Epoch || request.AfterOffset < feed.TrimmedThrough || request.AfterOffset > feed.LastOffset)
        {
            cursor = feed.LastOffset;
            yield return new StreamNotificationsResponse { Epoch = epoch, Offset = cursor, NotRecovered = true };
        }
        else
        {
            cursor = request.AfterOffset;
            yield return new StreamNotificationsResponse { Epoch = epoch, Offset = cursor };
        }

        var nextHeartbeat = DateTime.UtcNow + settings.HeartbeatInterval;
        var read = true;
        var nextPoll = DateTime.UtcNow;
        while (!ct.IsCancellationRequested)
        {
            if (read)
            {
                nextPoll = DateTime.UtcNow + settings.PollInterval;
                List<InboxRow> rows;
                await using (var db = await NotificationSession.OpenAsync(dataSource, ct))
                {
                    rows = await db.Feeds.ReadAfterAsync(user, cursor, ReadBatch, ct);
                }

                if (rows.Count > 0)
                {
                    var visible = await VisibleAsync(context, rows);
                    for (var i = 0; i < rows.Count; i++)
                    {
                        cursor = rows[i].Offset;
                        if (visible[i])
                        {
                            yield return new StreamNotificationsResponse { Notification = rows[i].ToContract(), Epoch = epoch, Offset = cursor };
                        }
                    }

                    nextHeartbeat = DateTime.UtcNow + settings.HeartbeatInterval;
                    if (rows.Count == ReadBatch)
                    {
                        continue;
                    }
                }
            }

            // Idle: wake on a signal, look anyway at the poll interval (a lost signal), beat the heart in between.
            var until = nextHeartbeat < nextPoll ? nextHeartbeat : nextPoll;
            var wait = until - DateTime.UtcNow;
            var woken = wait > TimeSpan.Zero && await waiter.WaitAsync(wait, ct);
            read = woken || DateTime.UtcNow >= nextPoll;
            if (!woken && DateTime.UtcNow >= nextHeartbeat)
            {
                yield return new StreamNotificationsResponse { Epoch = epoch, Offset = cursor, Heartbeat = true };
                nextHeartbeat = DateTime.UtcNow + settings.HeartbeatInterval;
            }
        }
    }
}
