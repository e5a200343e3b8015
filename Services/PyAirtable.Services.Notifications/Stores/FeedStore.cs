using Dapper;
using PyAirtable.Contracts.Notifications;

namespace PyAirtable.Services.Notifications.Stores;

/// <summary>The membership projection, the per-user feeds (epoch, offsets) and their notifications.</summary>
internal sealed class FeedStore(NotificationSession session)
{
    private const string Columns =
        """
        user_id AS UserId, "offset" AS Offset, event_id AS EventId, event_type AS EventType, workspace_id AS WorkspaceId,
        base_id AS BaseId, subject AS Subject, actor_id AS ActorId, happened_at AS HappenedAt, data AS Data, read_at AS ReadAt
        """;

    public Task AddMemberAsync(Guid workspace, Guid user, CancellationToken ct) =>
        session.Connection.ExecuteAsync(new CommandDefinition(
            "INSERT INTO notifications.members (workspace_id, user_id) VALUES (@workspace, @user) ON CONFLICT DO NOTHING",
            new { workspace, user }, session.Transaction, cancellationToken: ct));

    public Task RemoveMemberAsync(Guid workspace, Guid user, CancellationToken ct) =>
        session.Connection.ExecuteAsync(new CommandDefinition(
            "DELETE FROM notifications.members WHERE workspace_id = @workspace AND user_id = @user",
            new { workspace, user }, session.Transaction, cancellationToken: ct));

    public Task RemoveWorkspaceAsync(Guid workspace, CancellationToken ct) =>
        session.Connection.ExecuteAsync(new CommandDefinition(
            "DELETE FROM notifications.members WHERE workspace_id = @workspace", new { workspace }, session.Transaction, cancellationToken: ct));

    /// <summary>The workspace's members but <paramref name="actor"/>, by id (the order every writer locks feeds in).</summary>
    public async Task<Guid[]> RecipientsAsync(Guid workspace, Guid? actor, CancellationToken ct) =>
        (await session.Connection.QueryAsync<Guid>(new CommandDefinition(
            """
            SELECT user_id FROM notifications.members
             WHERE workspace_id = @workspace AND (@actor::uuid IS NULL OR user_id <> @actor) ORDER BY user_id
            """, new { workspace, actor }, session.Transaction, cancellationToken: ct))).ToArray();

    /// <summary>
    /// Appends the event to each user's feed at its next offset (the feed row is locked until commit, so offsets have no
    /// gaps and commit in order per user) and drops what is past <paramref name="keep"/> per user.
    /// </summary>
    public async Task AppendAsync(Guid[] users, InboxRow row, int keep, CancellationToken ct)
    {
        await session.Connection.ExecuteAsync(new CommandDefinition(
            """
            WITH f AS (
                INSERT INTO notifications.feeds (user_id, epoch, last_offset)
                SELECT u, gen_random_uuid(), 1 FROM unnest(@users) AS u
                ON CONFLICT (user_id) DO UPDATE SET last_offset = notifications.feeds.last_offset + 1
                RETURNING user_id, last_offset)
            INSERT INTO notifications.inbox (user_id, "offset", event_id, event_type, workspace_id, base_id, subject, actor_id, happened_at, data)
            SELECT f.user_id, f.last_offset, @EventId, @EventType, @WorkspaceId, @BaseId, @Subject, @ActorId, @HappenedAt, @Data FROM f
            """,
            new { users, row.EventId, row.EventType, row.WorkspaceId, row.BaseId, row.Subject, row.ActorId, row.HappenedAt, row.Data },
            session.Transaction, cancellationToken: ct));
        await session.Connection.ExecuteAsync(new CommandDefinition(
            """
            WITH t AS (
                UPDATE notifications.feeds SET trimmed_through = last_offset - @keep
                 WHERE user_id = ANY(@users) AND last_offset - @keep > trimmed_through
                RETURNING user_id, trimmed_through)
            DELETE FROM notifications.inbox i USING t WHERE i.user_id = t.user_id AND i."offset" <= t.trimmed_through
            """, new { users, keep = (long)keep }, session.Transaction, cancellationToken: ct));
    }

    /// <summary>The user's feed, made (empty, with a new epoch) when they have none yet.</summary>
    public async Task<FeedRow> FeedAsync(Guid user, CancellationToken ct)
    {
        await session.Connection.ExecuteAsync(new CommandDefinition(
            "INSERT INTO notifications.feeds (user_id, epoch) VALUES (@user, gen_random_uuid()) ON CONFLICT DO NOTHING",
            new { user }, session.Transaction, cancellationToken: ct));
        return await session.Connection.QuerySingleAsync<FeedRow>(new CommandDefinition(
            "SELECT epoch AS Epoch, last_offset AS LastOffset, trimmed_through AS TrimmedThrough FROM notifications.feeds WHERE user_id = @user",
            new { user }, session.Transaction, cancellationToken: ct));
    }

    /// <summary>The user's notifications after <paramref name="after"/>, in offset order.</summary>
    public async Task<List<InboxRow>> ReadAfterAsync(Guid user, long after, int limit, CancellationToken ct) =>
        (await session.Connection.QueryAsync<InboxRow>(new CommandDefinition(
            $"""SELECT {Columns} FROM notifications.inbox WHERE user_id = @user AND "offset" > @after ORDER BY "offset" LIMIT @limit""",
            new { user, after, limit }, session.Transaction, cancellationToken: ct))).ToList();

    /// <summary>
    /// For each user, up to <paramref name="limit"/> of their notifications after their own offset in
    /// <paramref name="after"/>: one query for many feeds (the primary key serves each user's range), by user then offset.
    /// </summary>
    public async Task<List<InboxRow>> ReadAfterManyAsync(Guid[] users, long[] after, int limit, CancellationToken ct) =>
        (await session.Connection.QueryAsync<InboxRow>(new CommandDefinition(
            $"""
            SELECT i.* FROM unnest(@users, @after) AS q (u, a)
             CROSS JOIN LATERAL (SELECT {Columns} FROM notifications.inbox
                                  WHERE user_id = q.u AND "offset" > q.a ORDER BY "offset" LIMIT @limit) i
             ORDER BY i.UserId, i.Offset
            """, new { users, after, limit }, session.Transaction, cancellationToken: ct))).ToList();

    /// <summary>A page of the user's notifications, newest first, before <paramref name="before"/>.</summary>
    public async Task<List<InboxRow>> PageAsync(Guid user, long? before, bool unreadOnly, int limit, CancellationToken ct) =>
        (await session.Connection.QueryAsync<InboxRow>(new CommandDefinition(
            $"""
            SELECT {Columns} FROM notifications.inbox
             WHERE user_id = @user AND (@before::bigint IS NULL OR "offset" < @before) AND (NOT @unreadOnly OR read_at IS NULL)
             ORDER BY "offset" DESC LIMIT @limit
            """, new { user, before, unreadOnly, limit }, session.Transaction, cancellationToken: ct))).ToList();

    /// <summary>
    /// The user's notifications (or unread ones) counted per resource they are about — the one a delivery checks (see
    /// NotificationService.ResourceOf: the base, else the workspace); <see cref="ResourceCount.Type"/> 0 for those shown to
    /// every recipient (a deleted workspace's).
    /// </summary>
    public async Task<List<ResourceCount>> CountByResourceAsync(
        Guid user, bool unreadOnly, string workspaceDeleted, string baseDeleted, CancellationToken ct) =>
        (await session.Connection.QueryAsync<ResourceCount>(new CommandDefinition(
            """
            SELECT CASE WHEN event_type = @workspaceDeleted THEN 0 WHEN on_base THEN 2 ELSE 1 END AS Type,
                   CASE WHEN on_base THEN base_id ELSE workspace_id END AS Id, count(*) AS Count
              FROM (SELECT *, base_id IS NOT NULL AND event_type <> @baseDeleted AS on_base FROM notifications.inbox
                     WHERE user_id = @user AND (NOT @unreadOnly OR read_at IS NULL)) i
             GROUP BY 1, 2
            """, new { user, unreadOnly, workspaceDeleted, baseDeleted }, session.Transaction, cancellationToken: ct))).ToList();

    public Task<int> MarkReadAsync(Guid user, long[] offsets, long upTo, CancellationToken ct) =>
        session.Connection.ExecuteAsync(new CommandDefinition(
            """
            UPDATE notifications.inbox SET read_at = now()
             WHERE user_id = @user AND read_at IS NULL AND ("offset" = ANY(@offsets) OR "offset" <= @upTo)
            """, new { user, offsets, upTo }, session.Transaction, cancellationToken: ct));
}

/// <summary>How many notifications are about one resource (Type: 1 workspace, 2 base, 0 shown to every recipient).</summary>
internal sealed record ResourceCount
{
    public int Type { get; init; }
    public Guid Id { get; init; }
    public long Count { get; init; }
}

/// <summary>A user's feed: its epoch, the last offset given out and the last one dropped.</summary>
internal sealed record FeedRow
{
    public Guid Epoch { get; init; }
    public long LastOffset { get; init; }
    public long TrimmedThrough { get; init; }
}

/// <summary>A row of notifications.inbox.</summary>
internal sealed record InboxRow
{
    public Guid UserId { get; init; }
    public long Offset { get; init; }
    public Guid EventId { get; init; }
    public string EventType { get; init; } = "";
    public Guid WorkspaceId { get; init; }
    public Guid? BaseId { get; init; }
    public string Subject { get; init; } = "";
    public string ActorId { get; init; } = "";
    public DateTime HappenedAt { get; init; }
    public byte[] Data { get; init; } = [];
    public DateTime? ReadAt { get; init; }

    public Notification ToContract() => new()
    {
        Offset = Offset, EventId = EventId.ToString(), EventType = EventType, WorkspaceId = WorkspaceId.ToString(),
        BaseId = BaseId?.ToString() ?? "", Subject = Subject, ActorId = ActorId, Time = HappenedAt, Data = Data, ReadAt = ReadAt,
    };
}
