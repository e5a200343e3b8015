using ProtoBuf;
using PyAirtable.Contracts.Permissions;

namespace PyAirtable.Contracts.Events;

/// <summary>A workspace was created; its creator is its owner.</summary>
[ProtoContract]
public sealed record WorkspaceCreated : IDomainEvent
{
    /// <summary>The workspace.</summary>
    [ProtoMember(1)] public string WorkspaceId { get; init; } = "";

    /// <summary>Its name.</summary>
    [ProtoMember(2)] public string Name { get; init; } = "";

    /// <summary>Its description.</summary>
    [ProtoMember(3)] public string Description { get; init; } = "";

    /// <summary>The user who created it (its first owner).</summary>
    [ProtoMember(4)] public string CreatedBy { get; init; } = "";

    string IDomainEvent.Subject => WorkspaceId;

    string IDomainEvent.AggregateType => "workspace";

    string IDomainEvent.EventWorkspaceId => WorkspaceId;
}

/// <summary>A workspace was renamed or redescribed; the fields hold the values after the change.</summary>
[ProtoContract]
public sealed record WorkspaceUpdated : IDomainEvent
{
    /// <summary>The workspace.</summary>
    [ProtoMember(1)] public string WorkspaceId { get; init; } = "";

    /// <summary>Its name.</summary>
    [ProtoMember(2)] public string Name { get; init; } = "";

    /// <summary>Its description.</summary>
    [ProtoMember(3)] public string Description { get; init; } = "";

    string IDomainEvent.Subject => WorkspaceId;

    string IDomainEvent.AggregateType => "workspace";

    string IDomainEvent.EventWorkspaceId => WorkspaceId;
}

/// <summary>A workspace was deleted with its bases, members and grants.</summary>
[ProtoContract]
public sealed record WorkspaceDeleted : IDomainEvent
{
    /// <summary>The workspace.</summary>
    [ProtoMember(1)] public string WorkspaceId { get; init; } = "";

    string IDomainEvent.Subject => WorkspaceId;

    string IDomainEvent.AggregateType => "workspace";

    string IDomainEvent.EventWorkspaceId => WorkspaceId;
}

/// <summary>A base was created in a workspace.</summary>
[ProtoContract]
public sealed record BaseCreated : IDomainEvent
{
    /// <summary>The base.</summary>
    [ProtoMember(1)] public string BaseId { get; init; } = "";

    /// <summary>Its workspace.</summary>
    [ProtoMember(2)] public string WorkspaceId { get; init; } = "";

    /// <summary>Its name.</summary>
    [ProtoMember(3)] public string Name { get; init; } = "";

    /// <summary>The user who created it.</summary>
    [ProtoMember(4)] public string CreatedBy { get; init; } = "";

    string IDomainEvent.Subject => BaseId;

    string IDomainEvent.AggregateType => "base";

    string IDomainEvent.EventWorkspaceId => WorkspaceId;
}

/// <summary>A base was renamed.</summary>
[ProtoContract]
public sealed record BaseRenamed : IDomainEvent
{
    /// <summary>The base.</summary>
    [ProtoMember(1)] public string BaseId { get; init; } = "";

    /// <summary>Its workspace.</summary>
    [ProtoMember(2)] public string WorkspaceId { get; init; } = "";

    /// <summary>Its new name.</summary>
    [ProtoMember(3)] public string Name { get; init; } = "";

    string IDomainEvent.Subject => BaseId;

    string IDomainEvent.AggregateType => "base";

    string IDomainEvent.EventWorkspaceId => WorkspaceId;
}

/// <summary>A base was deleted.</summary>
[ProtoContract]
public sealed record BaseDeleted : IDomainEvent
{
    /// <summary>The base.</summary>
    [ProtoMember(1)] public string BaseId { get; init; } = "";

    /// <summary>Its workspace.</summary>
    [ProtoMember(2)] public string WorkspaceId { get; init; } = "";

    string IDomainEvent.Subject => BaseId;

    string IDomainEvent.AggregateType => "base";

    string IDomainEvent.EventWorkspaceId => WorkspaceId;
}

/// <summary>Somebody was invited to a workspace (by user id or e-mail address); they join only if they accept.</summary>
[ProtoContract]
public sealed record MemberInvited : IDomainEvent
{
    /// <summary>The workspace.</summary>
    [ProtoMember(1)] public string WorkspaceId { get; init; } = "";

    /// <summary>The invitation.</summary>
    [ProtoMember(2)] public string InvitationId { get; init; } = "";

    /// <summary>The invited user, when invited by id.</summary>
    [ProtoMember(3)] public string UserId { get; init; } = "";

    /// <summary>The invited address, when invited by e-mail.</summary>
    [ProtoMember(4)] public string Email { get; init; } = "";

    /// <summary>The level they would get.</summary>
    [ProtoMember(5)] public PermissionLevel Level { get; init; }

    /// <summary>Who invited them.</summary>
    [ProtoMember(6)] public string InvitedBy { get; init; } = "";

    string IDomainEvent.Subject => WorkspaceId;

    string IDomainEvent.AggregateType => "workspace";

    string IDomainEvent.EventWorkspaceId => WorkspaceId;
}

/// <summary>A user joined a workspace (they accepted an invitation).</summary>
[ProtoContract]
public sealed record MemberAdded : IDomainEvent
{
    /// <summary>The workspace.</summary>
    [ProtoMember(1)] public string WorkspaceId { get; init; } = "";

    /// <summary>The new member.</summary>
    [ProtoMember(2)] public string UserId { get; init; } = "";

    /// <summary>Their level.</summary>
    [ProtoMember(3)] public PermissionLevel Level { get; init; }

    string IDomainEvent.Subject => WorkspaceId;

    string IDomainEvent.AggregateType => "workspace";

    string IDomainEvent.EventWorkspaceId => WorkspaceId;
}

/// <summary>A member left or was removed from a workspace, with everything they held in it.</summary>
[ProtoContract]
public sealed record MemberRemoved : IDomainEvent
{
    /// <summary>The workspace.</summary>
    [ProtoMember(1)] public string WorkspaceId { get; init; } = "";

    /// <summary>The former member.</summary>
    [ProtoMember(2)] public string UserId { get; init; } = "";

    /// <summary>True when they left themselves; false when an owner removed them.</summary>
    [ProtoMember(3)] public bool Left { get; init; }

    string IDomainEvent.Subject => WorkspaceId;

    string IDomainEvent.AggregateType => "workspace";

    string IDomainEvent.EventWorkspaceId => WorkspaceId;
}

/// <summary>A member's level on a workspace changed.</summary>
[ProtoContract]
public sealed record MemberRoleChanged : IDomainEvent
{
    /// <summary>The workspace.</summary>
    [ProtoMember(1)] public string WorkspaceId { get; init; } = "";

    /// <summary>The member.</summary>
    [ProtoMember(2)] public string UserId { get; init; } = "";

    /// <summary>Their level now.</summary>
    [ProtoMember(3)] public PermissionLevel Level { get; init; }

    string IDomainEvent.Subject => WorkspaceId;

    string IDomainEvent.AggregateType => "workspace";

    string IDomainEvent.EventWorkspaceId => WorkspaceId;
}
