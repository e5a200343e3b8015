using ProtoBuf;
using PyAirtable.Contracts.Common;
using PyAirtable.Contracts.Permissions;

namespace PyAirtable.Contracts.Workspaces;

// The requests and responses of membership: invitations, accepting, removing, leaving, levels and listing members.

/// <summary>A user to invite.</summary>
[ProtoContract]
public sealed record AddMemberRequest
{
    /// <summary>The workspace.</summary>
    [ProtoMember(1)] public string WorkspaceId { get; init; } = "";

    /// <summary>The user.</summary>
    [ProtoMember(2)] public string UserId { get; init; } = "";

    /// <summary>Read to owner.</summary>
    [ProtoMember(3)] public PermissionLevel Level { get; init; }
}

/// <summary>The invitation made for the user (they are not a member until they accept it).</summary>
[ProtoContract]
public sealed record AddMemberResponse
{
    /// <summary>Unset since members join by accepting (see pending); it was the new member when owners added people directly.</summary>
    [ProtoMember(1)] public Member? Member { get; init; }

    /// <summary>Empty: nothing changed in the permissions until the invitee accepts.</summary>
    [ProtoMember(2)] public string ConsistencyToken { get; init; } = "";

    /// <summary>The invitation the user has to accept (PermissionService.AcceptInvitation or AcceptInvite).</summary>
    [ProtoMember(3)] public string InvitationId { get; init; } = "";

    /// <summary>True: the user becomes a member only when they accept the invitation.</summary>
    [ProtoMember(4)] public bool Pending { get; init; }

    /// <summary>The invitation.</summary>
    [ProtoMember(5)] public Invitation? Invitation { get; init; }
}

/// <summary>An e-mail address to invite.</summary>
[ProtoContract]
public sealed record InviteMemberRequest
{
    /// <summary>The workspace.</summary>
    [ProtoMember(1)] public string WorkspaceId { get; init; } = "";

    /// <summary>The invitee.</summary>
    [ProtoMember(2)] public string Email { get; init; } = "";

    /// <summary>Read to owner.</summary>
    [ProtoMember(3)] public PermissionLevel Level { get; init; }
}

/// <summary>The invitation.</summary>
[ProtoContract]
public sealed record InviteMemberResponse
{
    /// <summary>The invitation; send its id to the invitee.</summary>
    [ProtoMember(1)] public Invitation? Invitation { get; init; }
}

/// <summary>The invitation to accept.</summary>
[ProtoContract]
public sealed record AcceptInviteRequest
{
    /// <summary>Its id.</summary>
    [ProtoMember(1)] public string InvitationId { get; init; } = "";
}

/// <summary>The caller's membership.</summary>
[ProtoContract]
public sealed record AcceptInviteResponse
{
    /// <summary>The workspace.</summary>
    [ProtoMember(1)] public string WorkspaceId { get; init; } = "";

    /// <summary>The caller as a member.</summary>
    [ProtoMember(2)] public Member? Member { get; init; }

    /// <summary>Pass to permission checks to see the change.</summary>
    [ProtoMember(3)] public string ConsistencyToken { get; init; } = "";
}

/// <summary>A member to remove.</summary>
[ProtoContract]
public sealed record RemoveMemberRequest
{
    /// <summary>The workspace.</summary>
    [ProtoMember(1)] public string WorkspaceId { get; init; } = "";

    /// <summary>The user.</summary>
    [ProtoMember(2)] public string UserId { get; init; } = "";
}

/// <summary>Removed.</summary>
[ProtoContract]
public sealed record RemoveMemberResponse
{
    /// <summary>Pass to permission checks to see the change.</summary>
    [ProtoMember(1)] public string ConsistencyToken { get; init; } = "";
}

/// <summary>The workspace to leave.</summary>
[ProtoContract]
public sealed record LeaveWorkspaceRequest
{
    /// <summary>The workspace.</summary>
    [ProtoMember(1)] public string WorkspaceId { get; init; } = "";
}

/// <summary>The caller left.</summary>
[ProtoContract]
public sealed record LeaveWorkspaceResponse
{
    /// <summary>Pass to permission checks to see the change.</summary>
    [ProtoMember(1)] public string ConsistencyToken { get; init; } = "";
}

/// <summary>A new level for a member.</summary>
[ProtoContract]
public sealed record ChangeMemberRoleRequest
{
    /// <summary>The workspace.</summary>
    [ProtoMember(1)] public string WorkspaceId { get; init; } = "";

    /// <summary>The member.</summary>
    [ProtoMember(2)] public string UserId { get; init; } = "";

    /// <summary>Read to owner.</summary>
    [ProtoMember(3)] public PermissionLevel Level { get; init; }
}

/// <summary>The member.</summary>
[ProtoContract]
public sealed record ChangeMemberRoleResponse
{
    /// <summary>The member.</summary>
    [ProtoMember(1)] public Member? Member { get; init; }

    /// <summary>Pass to permission checks to see the change.</summary>
    [ProtoMember(2)] public string ConsistencyToken { get; init; } = "";
}

/// <summary>Which workspace's members.</summary>
[ProtoContract]
public sealed record ListMembersRequest
{
    /// <summary>The workspace.</summary>
    [ProtoMember(1)] public string WorkspaceId { get; init; } = "";

    /// <summary>page_size defaults to 50 and is capped at 500.</summary>
    [ProtoMember(2)] public PaginationRequest? Pagination { get; init; }
}

/// <summary>A page of members.</summary>
[ProtoContract]
public sealed record ListMembersResponse
{
    /// <summary>The members of this page.</summary>
    [ProtoMember(1)] public List<Member> Members { get; init; } = [];

    /// <summary>Where the page is and how to get the next one.</summary>
    [ProtoMember(2)] public PaginationResponse? Pagination { get; init; }
}
