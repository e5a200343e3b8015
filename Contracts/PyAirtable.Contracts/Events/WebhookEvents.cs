using ProtoBuf;

namespace PyAirtable.Contracts.Events;

/// <summary>
/// A webhook was disabled because every delivery attempt to it failed for too long (<c>Webhooks:DisableAfter</c>, 5 days
/// by default); nothing more is sent until an owner enables it again (UpdateWebhook).
/// </summary>
[ProtoContract]
public sealed record WebhookDisabled : IDomainEvent
{
    /// <summary>The webhook.</summary>
    [ProtoMember(1)] public string WebhookId { get; init; } = "";

    /// <summary>Its workspace.</summary>
    [ProtoMember(2)] public string WorkspaceId { get; init; } = "";

    /// <summary>Its base; empty for a workspace webhook.</summary>
    [ProtoMember(3)] public string BaseId { get; init; } = "";

    /// <summary>Its URL.</summary>
    [ProtoMember(4)] public string Url { get; init; } = "";

    /// <summary>Why, e.g. the last attempt's error.</summary>
    [ProtoMember(5)] public string Reason { get; init; } = "";

    /// <summary>Since when every attempt had failed (UTC).</summary>
    [ProtoMember(6)] public DateTime? FailingSince { get; init; }

    string IDomainEvent.Subject => WebhookId;

    string IDomainEvent.AggregateType => "webhook";

    string IDomainEvent.EventWorkspaceId => WorkspaceId;
}
