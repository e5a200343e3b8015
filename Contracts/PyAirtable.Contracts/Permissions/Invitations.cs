using ProtoBuf;
using PyAirtable.Contracts.Common;

namespace PyAirtable.Contracts.Permissions;

/// <summary>An invitation to a workspace.</summary>
[ProtoContract]
public sealed record Invitation
{
    /// <summary>Its id, for AcceptInvitation.</summary>
    [ProtoMember(1)] public string Id { get; init; } = "";

    /// <summary>The workspace.</summary>
    [ProtoMember(2)] public string WorkspaceId { get; init; } = "";

    /// <summary>Who may accept it (lower case); empty when it is addressed to a user id.</summary>
    [ProtoMember(3)] public string Email { get; init; } = "";

    /// <summary>The level accepting gives.</summary>
    [ProtoMember(4)] public PermissionLevel Level { get; init; }

    /// <summary>Who invited.</summary>
    [ProtoMember(5)] public string InvitedBy { get; init; } = "";

    /// <summary>When (UTC).</summary>
    [ProtoMember(6)] public DateTime? CreatedAt { get; init; }

    /// <summary>When it was accepted (UTC), if it was.</summary>
    [ProtoMember(7)] public DateTime? AcceptedAt { get; init; }

    /// <summary>After this (UTC, 7 days after it was made) it can no longer be accepted.</summary>
    [ProtoMember(8)] public DateTime? ExpiresAt { get; init; }

    /// <summary>The user it is addressed to; empty when it is addressed to an e-mail address.</summary>
    [ProtoMember(9)] public string UserId { get; init; } = "";

    /// <summary>When the invitee declined it (UTC), if they did.</summary>
    [ProtoMember(10)] public DateTime? DeclinedAt { get; init; }
}

/// <summary>A new invitation.</summary>
[ProtoContract]
public sealed record CreateInvitationRequest
{
    /// <summary>The workspace.</summary>
    [ProtoMember(1)] public string WorkspaceId { get; init; } = "";

    /// <summary>The invitee's e-mail address; set exactly one of email and user_id.</summary>
    [ProtoMember(2)] public string Email { get; init; } = "";

    /// <summary>The level (read to owner).</summary>
    [ProtoMember(3)] public PermissionLevel Level { get; init; }

    /// <summary>The invitee's user id; set exactly one of email and user_id.</summary>
    [ProtoMember(4)] public string UserId { get; init; } = "";
}

/// <summary>The invitation.</summary>
[ProtoContract]
public sealed record CreateInvitationResponse
{
    /// <summary>The invitation.</summary>
    [ProtoMember(1)] public Invitation? Invitation { get; init; }
}

/// <summary>The invitation to accept.</summary>
[ProtoContract]
public sealed record AcceptInvitationRequest
{
    /// <summary>Its id.</summary>
    [ProtoMember(1)] public string InvitationId { get; init; } = "";
}

/// <summary>The caller is a member now.</summary>
[ProtoContract]
public sealed record AcceptInvitationResponse
{
    /// <summary>The grant the caller received.</summary>
    [ProtoMember(1)] public Grant? Grant { get; init; }

    /// <summary>The state after the write.</summary>
    [ProtoMember(2)] public string ConsistencyToken { get; init; } = "";
}

/// <summary>A page of the caller's pending invitations.</summary>
[ProtoContract]
public sealed record ListMyInvitationsRequest
{
    /// <summary>page_size defaults to 50 and is capped at 500.</summary>
    [ProtoMember(1)] public PaginationRequest? Pagination { get; init; }
}

/// <summary>Pending invitations, newest first.</summary>
[ProtoContract]
public sealed record ListMyInvitationsResponse
{
    /// <summary>The invitations of this page.</summary>
    [ProtoMember(1)] public List<Invitation> Invitations { get; init; } = [];

    /// <summary>Where the page is and how to get the next one.</summary>
    [ProtoMember(2)] public PaginationResponse? Pagination { get; init; }
}

/// <summary>The invitation to decline.</summary>
[ProtoContract]
public sealed record DeclineInvitationRequest
{
    /// <summary>Its id.</summary>
    [ProtoMember(1)] public string InvitationId { get; init; } = "";
}

/// <summary>The declined invitation.</summary>
[ProtoContract]
public sealed record DeclineInvitationResponse
{
    /// <summary>The invitation, declined_at set.</summary>
    [ProtoMember(1)] public Invitation? Invitation { get; init; }
}

/// <summary>The workspace to leave.</summary>
[ProtoContract]
public sealed record ResignMembershipRequest
{
    /// <summary>The workspace.</summary>
    [ProtoMember(1)] public string WorkspaceId { get; init; } = "";
}

/// <summary>The caller is no longer a member.</summary>
[ProtoContract]
public sealed record ResignMembershipResponse
{
    /// <summary>The state after the write.</summary>
    [ProtoMember(1)] public string ConsistencyToken { get; init; } = "";

    /// <summary>False when the caller held nothing in the workspace (nothing changed).</summary>
    [ProtoMember(2)] public bool Removed { get; init; }
}
