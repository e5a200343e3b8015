using Microsoft.Extensions.Options;
using Npgsql;
using PyAirtable.Contracts.Auth;
using PyAirtable.Contracts.Events;
using PyAirtable.Contracts.Notifications;
using PyAirtable.Contracts.Permissions;
using PyAirtable.Services.Infrastructure.Errors;
using PyAirtable.Services.Infrastructure.Identity;
using PyAirtable.Services.Infrastructure.Pagination;
using PyAirtable.Services.Notifications.Stores;
using CallContext = ProtoBuf.Grpc.CallContext;

namespace PyAirtable.Services.Notifications;

/// <summary>
/// pyairtable.notifications.v1.NotificationService over the <c>notifications</c> schema: the inbox here, the live stream
/// in <c>NotificationService.Stream.cs</c>. What a notification is about is checked with IPermissionService, with the
/// caller's own context, whenever it is delivered (listed or streamed): read access now, not when it happened.
/// </summary>
public sealed partial class NotificationService(
    NpgsqlDataSource dataSource, IPermissionService permissions, CursorCodec cursors, FeedSignals signals,
    IOptions<NotificationOptions> options) : INotificationService
{
    private const string NotificationsAreUsers = "Notifications belong to users.";

    [RequiresScope(Scopes.WorkspacesRead)]
    public async ValueTask<ListNotificationsResponse> ListNotificationsAsync(ListNotificationsRequest request, CallContext context = default)
    {
        var user = Guid.Parse(context.RequireUser(NotificationsAreUsers).UserId);
        var scope = $"notifications:{user}:{request.UnreadOnly}";
        var page = PageRequest.From(request.Pagination, cursors, scope, defaultPageSize: 50, maxPageSize: 200);
        var ct = context.CancellationToken;
        await using var db = await NotificationSession.OpenAsync(dataSource, ct);
        var feed = await db.Feeds.FeedAsync(user, ct);
        long? before = page.After is { Count: 1 } a ? long.Parse(a[0], System.Globalization.CultureInfo.InvariantCulture) : null;
        var fetched = await db.Feeds.PageAsync(user, before, request.UnreadOnly, page.PageSize + 1, ct);
        var total = await CountVisibleAsync(db, context, user, request.UnreadOnly);
        var (items, pagination) = page.Complete(fetched, total, n => [n.Offset.ToString(System.Globalization.CultureInfo.InvariantCulture)], cursors, scope);
        var visible = await VisibleAsync(context, items);
        return new ListNotificationsResponse
        {
            Notifications = items.Where((_, i) => visible[i]).Select(n => n.ToContract()).ToList(), Pagination = pagination,
            Epoch = feed.Epoch.ToString(), Offset = feed.LastOffset,
        };
    }

    [RequiresScope(Scopes.WorkspacesRead)]
    public async ValueTask<MarkReadResponse> MarkReadAsync(MarkReadRequest request, CallContext context = default)
    {
        var user = Guid.Parse(context.RequireUser(NotificationsAreUsers).UserId);
        var validator = new RequestValidator();
        if (request.Offsets.Count > 1000)
        {
            validator.Add("offsets", "must have at most 1000 entries");
        }

        if (request.Offsets.Any(o => o <= 0))
        {
            validator.Add("offsets", "must be positive");
        }

        if (request.UpToOffset < 0)
        {
            validator.Add("up_to_offset", "must not be negative");
        }

        if (request.Offsets.Count == 0 && request.UpToOffset == 0)
        {
            validator.Add("offsets", "give offsets or up_to_offset");
        }

        validator.ThrowIfInvalid();
        var ct = context.CancellationToken;
        await using var db = await NotificationSession.BeginAsync(dataSource, ct);
        var marked = await db.Feeds.MarkReadAsync(user, [.. request.Offsets], request.UpToOffset, ct);
        await db.CommitAsync(ct);
        return new MarkReadResponse { Marked = marked };
    }

    [RequiresScope(Scopes.WorkspacesRead)]
    public async ValueTask<GetUnreadCountResponse> GetUnreadCountAsync(GetUnreadCountRequest request, CallContext context = default)
    {
        var user = Guid.Parse(context.RequireUser(NotificationsAreUsers).UserId);
        await using var db = await NotificationSession.OpenAsync(dataSource, context.CancellationToken);
        return new GetUnreadCountResponse { Unread = await CountVisibleAsync(db, context, user, unreadOnly: true) };
    }

    /// <summary>
    /// The caller's notifications (or unread ones) that they may read now — what the inbox and the stream would show:
    /// counted per resource in SQL, then one permission batch for those resources.
    /// </summary>
    private async Task<long> CountVisibleAsync(NotificationSession db, CallContext context, Guid user, bool unreadOnly)
    {
        var counts = await db.Feeds.CountByResourceAsync(user, unreadOnly, EventTypes.NameOf<WorkspaceDeleted>(), EventTypes.NameOf<BaseDeleted>(),
            context.CancellationToken);
        var total = counts.Where(c => c.Type == 0).Sum(c => c.Count);
        var checkable = counts.Where(c => c.Type != 0).ToList();
        for (var start = 0; start < checkable.Count; start += 5000)
        {
            var part = checkable.GetRange(start, Math.Min(5000, checkable.Count - start));
            var verdicts = await permissions.BatchCheckPermissionAsync(new BatchCheckPermissionRequest
            {
                Checks = part.Select(c => new CheckItem
                {
                    Resource = new ResourceRef { Type = c.Type == 2 ? ResourceType.Base : ResourceType.Workspace, Id = c.Id.ToString() },
                    Level = PermissionLevel.Read,
                }).ToList(),
            }, context);
            total += part.Where((_, i) => verdicts.Results[i].Allowed).Sum(c => c.Count);
        }

        return total;
    }

    /// <summary>
    /// What a notification is about, for the read check: its base, or its workspace (a deleted base's notification, and
    /// those of no base). FeedStore.CountByResourceAsync says the same in SQL.
    /// </summary>
    internal static (ResourceType Type, Guid Id) ResourceOf(InboxRow row) =>
        row.BaseId is { } b && row.EventType != EventTypes.NameOf<BaseDeleted>()
            ? (ResourceType.Base, b)
            : (ResourceType.Workspace, row.WorkspaceId);

    /// <summary>
    /// Whether the caller may read, now, what each notification is about: its base, or its workspace (a deleted base's
    /// workspace; a deleted workspace's notification goes to those who were members).
    /// </summary>
    private async Task<bool[]> VisibleAsync(CallContext context, IReadOnlyList<InboxRow> rows)
    {
        var result = new bool[rows.Count];
        var checks = new List<(int Index, CheckItem Item)>();
        for (var i = 0; i < rows.Count; i++)
        {
            var row = rows[i];
            if (row.EventType == EventTypes.NameOf<WorkspaceDeleted>())
            {
                result[i] = true;
                continue;
            }

            var (type, id) = ResourceOf(row);
            checks.Add((i, new CheckItem { Resource = new ResourceRef { Type = type, Id = id.ToString() }, Level = PermissionLevel.Read }));
        }

        if (checks.Count > 0)
        {
            var verdicts = await permissions.BatchCheckPermissionAsync(
                new BatchCheckPermissionRequest { Checks = checks.Select(c => c.Item).ToList() }, context);
            for (var k = 0; k < checks.Count; k++)
            {
                result[checks[k].Index] = verdicts.Results[k].Allowed;
            }
        }

        return result;
    }
}
