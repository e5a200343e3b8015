using ProtoBuf;
using ProtoBuf.Grpc;
using ProtoBuf.Grpc.Configuration;
using PyAirtable.Contracts.Common;

namespace PyAirtable.Contracts.Notifications;

/// <summary>
/// A user's notifications: what happened in the workspaces they are members of (the platform's domain events, others'
/// doing), each numbered in the user's own feed (<c>offset</c>, from 1, without gaps) within an <c>epoch</c>. Only what
/// the user can read when it is delivered reaches them: a member who was removed receives nothing more, even of events
/// from before. Kept up to <c>Notifications:MaxPerUser</c> per user (oldest dropped first).
/// </summary>
[Service("pyairtable.notifications.v1.NotificationService")]
public interface INotificationService
{
    /// <summary>The caller's notifications, newest first.</summary>
    [HttpRoute("GET", "/v1/notifications")]
    ValueTask<ListNotificationsResponse> ListNotificationsAsync(ListNotificationsRequest request, CallContext context = default);

    /// <summary>Marks notifications read: those listed, or every one up to an offset.</summary>
    [HttpRoute("POST", "/v1/notifications:markRead")]
    ValueTask<MarkReadResponse> MarkReadAsync(MarkReadRequest request, CallContext context = default);

    /// <summary>How many of the caller's notifications are unread.</summary>
    [HttpRoute("GET", "/v1/notifications:unreadCount")]
    ValueTask<GetUnreadCountResponse> GetUnreadCountAsync(GetUnreadCountRequest request, CallContext context = default);

    /// <summary>
    /// The caller's notifications as they happen. The first message carries the feed's epoch and offset. Reconnecting
    /// with the last <c>offset</c> received and its <c>epoch</c> first sends every notification after it, in order, then
    /// live ones: no gap, no duplicate. When that history is gone (trimmed, or another epoch), the first message says
    /// <c>not_recovered</c>: reload with ListNotifications, then go on from the offset it carries. While nothing
    /// happens, a heartbeat (with the current offset) comes every <c>Notifications:HeartbeatInterval</c> (15 s).
    /// </summary>
    [HttpRoute("GET", "/v1/notifications:stream")]
    IAsyncEnumerable<StreamNotificationsResponse> StreamNotificationsAsync(StreamNotificationsRequest request, CallContext context = default);
}

/// <summary>One notification.</summary>
[ProtoContract]
public sealed record Notification
{
    /// <summary>Its position in the user's feed: from 1, without gaps, within one epoch.</summary>
    [ProtoMember(1)] public long Offset { get; init; }

    /// <summary>The event's id (CloudEvents id).</summary>
    [ProtoMember(2)] public string EventId { get; init; } = "";

    /// <summary>The event's type, e.g. <c>pyairtable.events.v1.BaseCreated</c>.</summary>
    [ProtoMember(3)] public string EventType { get; init; } = "";

    /// <summary>The workspace it happened in.</summary>
    [ProtoMember(4)] public string WorkspaceId { get; init; } = "";

    /// <summary>The base it is about; empty when it is about the workspace.</summary>
    [ProtoMember(5)] public string BaseId { get; init; } = "";

    /// <summary>The event's subject (the id of what it is about).</summary>
    [ProtoMember(6)] public string Subject { get; init; } = "";

    /// <summary>Who caused it.</summary>
    [ProtoMember(7)] public string ActorId { get; init; } = "";

    /// <summary>When it happened (UTC).</summary>
    [ProtoMember(8)] public DateTime? Time { get; init; }

    /// <summary>The event itself: the protobuf encoding of the message <c>event_type</c> names.</summary>
    [ProtoMember(9)] public byte[] Data { get; init; } = [];

    /// <summary>When the user marked it read (UTC); unset while unread.</summary>
    [ProtoMember(10)] public DateTime? ReadAt { get; init; }
}

/// <summary>A page of the caller's notifications.</summary>
[ProtoContract]
public sealed record ListNotificationsRequest
{
    /// <summary>page_size defaults to 50 and is capped at 200.</summary>
    [ProtoMember(1)] public PaginationRequest? Pagination { get; init; }

    /// <summary>Only unread ones.</summary>
    [ProtoMember(2)] public bool UnreadOnly { get; init; }
}

/// <summary>The caller's notifications, newest first.</summary>
[ProtoContract]
public sealed record ListNotificationsResponse
{
    /// <summary>The notifications of this page.</summary>
    [ProtoMember(1)] public List<Notification> Notifications { get; init; } = [];

    /// <summary>Where the page is and how to get the next one.</summary>
    [ProtoMember(2)] public PaginationResponse? Pagination { get; init; }

    /// <summary>The feed's epoch and last offset: stream from here after reloading.</summary>
    [ProtoMember(3)] public string Epoch { get; init; } = "";

    /// <summary>The feed's last offset.</summary>
    [ProtoMember(4)] public long Offset { get; init; }
}

/// <summary>Which notifications to mark read: <c>offsets</c>, or every one up to <c>up_to_offset</c>.</summary>
[ProtoContract]
public sealed record MarkReadRequest
{
    /// <summary>At most 1,000 offsets.</summary>
    [ProtoMember(1)] public List<long> Offsets { get; init; } = [];

    /// <summary>Every notification up to this offset (inclusive); 0: none.</summary>
    [ProtoMember(2)] public long UpToOffset { get; init; }
}

/// <summary>How many were unread and are read now.</summary>
[ProtoContract]
public sealed record MarkReadResponse
{
    /// <summary>How many changed.</summary>
    [ProtoMember(1)] public int Marked { get; init; }
}

/// <summary>The caller's unread count.</summary>
[ProtoContract]
public sealed record GetUnreadCountRequest
{
}

/// <summary>The caller's unread count.</summary>
[ProtoContract]
public sealed record GetUnreadCountResponse
{
    /// <summary>Unread notifications kept.</summary>
    [ProtoMember(1)] public long Unread { get; init; }
}

/// <summary>Where to start: nothing for live only, or the last offset received and its epoch to resume.</summary>
[ProtoContract]
public sealed record StreamNotificationsRequest
{
    /// <summary>The epoch of <c>after_offset</c>; empty to start live.</summary>
    [ProtoMember(1)] public string Epoch { get; init; } = "";

    /// <summary>The last offset received (0: from the feed's start).</summary>
    [ProtoMember(2)] public long AfterOffset { get; init; }
}

/// <summary>A notification, or a heartbeat, or the stream's state.</summary>
[ProtoContract]
public sealed record StreamNotificationsResponse
{
    /// <summary>The notification; unset on heartbeats and state messages.</summary>
    [ProtoMember(1)] public Notification? Notification { get; init; }

    /// <summary>The feed's epoch: keep it with the offset to resume.</summary>
    [ProtoMember(2)] public string Epoch { get; init; } = "";

    /// <summary>The offset this message brings the stream to (the notification's, or the last one passed).</summary>
    [ProtoMember(3)] public long Offset { get; init; }

    /// <summary>True on a heartbeat (nothing new).</summary>
    [ProtoMember(4)] public bool Heartbeat { get; init; }

    /// <summary>
    /// True when what was asked to resume from is gone (trimmed, or another epoch): notifications in between are lost to
    /// this stream; reload with ListNotifications. The stream goes on from <c>offset</c>.
    /// </summary>
    [ProtoMember(5)] public bool NotRecovered { get; init; }
}
