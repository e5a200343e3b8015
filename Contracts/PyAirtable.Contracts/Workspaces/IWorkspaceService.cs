using ProtoBuf;
using ProtoBuf.Grpc;
using ProtoBuf.Grpc.Configuration;
using PyAirtable.Contracts.Common;
using PyAirtable.Contracts.Permissions;

namespace PyAirtable.Contracts.Workspaces;

/// <summary>
/// Workspaces, their members and their bases. Every call is checked with the Permission service: what
/// the caller cannot read does not exist for them (NOT_FOUND); what they can read but not change is
/// PERMISSION_DENIED. Deleting a workspace removes its bases, members and grants for good.
/// </summary>
[Service("pyairtable.workspaces.v1.WorkspaceService")]
public interface IWorkspaceService
{
    /// <summary>Creates a workspace; the caller becomes its owner.</summary>
    [HttpRoute("POST", "/v1/workspaces")]
    ValueTask<CreateWorkspaceResponse> CreateWorkspaceAsync(CreateWorkspaceRequest request, CallContext context = default);

    /// <summary>One workspace (read).</summary>
    [HttpRoute("GET", "/v1/workspaces/{workspace_id}")]
    ValueTask<GetWorkspaceResponse> GetWorkspaceAsync(GetWorkspaceRequest request, CallContext context = default);

    /// <summary>The workspaces the caller can read, by id.</summary>
    [HttpRoute("GET", "/v1/workspaces")]
    ValueTask<ListWorkspacesResponse> ListWorkspacesAsync(ListWorkspacesRequest request, CallContext context = default);

    /// <summary>Renames or redescribes a workspace (edit).</summary>
    [HttpRoute("PATCH", "/v1/workspaces/{workspace_id}")]
    ValueTask<UpdateWorkspaceResponse> UpdateWorkspaceAsync(UpdateWorkspaceRequest request, CallContext context = default);

    /// <summary>Deletes a workspace with its bases, members and grants (owner). Not recoverable.</summary>
    [HttpRoute("DELETE", "/v1/workspaces/{workspace_id}")]
    ValueTask<DeleteWorkspaceResponse> DeleteWorkspaceAsync(DeleteWorkspaceRequest request, CallContext context = default);

    /// <summary>
    /// Invites a user, by id, to a workspace at a level (owner). Nobody becomes a member without consent: this
    /// creates a pending invitation addressed to that user (response <c>pending</c> true, <c>invitation_id</c>),
    /// which they list with PermissionService.ListMyInvitations and accept (AcceptInvite, with a verified e-mail
    /// address) or decline. The user must exist (NOT_FOUND otherwise); the nil UUID is INVALID_ARGUMENT.
    /// To change the level of an existing member use ChangeMemberRole.
    /// </summary>
    [HttpRoute("POST", "/v1/workspaces/{workspace_id}/members")]
    ValueTask<AddMemberResponse> AddMemberAsync(AddMemberRequest request, CallContext context = default);

    /// <summary>Invites an e-mail address (owner); AcceptInvite by that user adds them.</summary>
    [HttpRoute("POST", "/v1/workspaces/{workspace_id}/invites")]
    ValueTask<InviteMemberResponse> InviteMemberAsync(InviteMemberRequest request, CallContext context = default);

    /// <summary>Accepts an invitation addressed to the caller (their e-mail address must be verified; see PermissionService.AcceptInvitation).</summary>
    [HttpRoute("POST", "/v1/invites/{invitation_id}:accept")]
    ValueTask<AcceptInviteResponse> AcceptInviteAsync(AcceptInviteRequest request, CallContext context = default);

    /// <summary>Removes a member (owner; the last owner stays).</summary>
    [HttpRoute("DELETE", "/v1/workspaces/{workspace_id}/members/{user_id}")]
    ValueTask<RemoveMemberResponse> RemoveMemberAsync(RemoveMemberRequest request, CallContext context = default);

    /// <summary>Changes a member's level (owner; the last owner cannot be demoted; a non-member is FAILED_PRECONDITION: invite them).</summary>
    [HttpRoute("PATCH", "/v1/workspaces/{workspace_id}/members/{user_id}")]
    ValueTask<ChangeMemberRoleResponse> ChangeMemberRoleAsync(ChangeMemberRoleRequest request, CallContext context = default);

    /// <summary>
    /// The caller leaves a workspace: every grant and role they hold in it goes. The last owner cannot leave
    /// (FAILED_PRECONDITION, as for RemoveMember).
    /// </summary>
    [HttpRoute("POST", "/v1/workspaces/{workspace_id}:leave")]
    ValueTask<LeaveWorkspaceResponse> LeaveWorkspaceAsync(LeaveWorkspaceRequest request, CallContext context = default);

    /// <summary>The members of a workspace (read), by user id.</summary>
    [HttpRoute("GET", "/v1/workspaces/{workspace_id}/members")]
    ValueTask<ListMembersResponse> ListMembersAsync(ListMembersRequest request, CallContext context = default);

    /// <summary>Creates a base in a workspace (create on the workspace).</summary>
    [HttpRoute("POST", "/v1/workspaces/{workspace_id}/bases")]
    ValueTask<CreateBaseResponse> CreateBaseAsync(CreateBaseRequest request, CallContext context = default);

    /// <summary>One base (read on it).</summary>
    [HttpRoute("GET", "/v1/bases/{base_id}")]
    ValueTask<GetBaseResponse> GetBaseAsync(GetBaseRequest request, CallContext context = default);

    /// <summary>The bases of a workspace the caller can read, by id.</summary>
    [HttpRoute("GET", "/v1/workspaces/{workspace_id}/bases")]
    ValueTask<ListBasesResponse> ListBasesAsync(ListBasesRequest request, CallContext context = default);

    /// <summary>Renames a base (edit on it).</summary>
    [HttpRoute("PATCH", "/v1/bases/{base_id}")]
    ValueTask<RenameBaseResponse> RenameBaseAsync(RenameBaseRequest request, CallContext context = default);

    /// <summary>Deletes a base and everything under it (owner of it).</summary>
    [HttpRoute("DELETE", "/v1/bases/{base_id}")]
    ValueTask<DeleteBaseResponse> DeleteBaseAsync(DeleteBaseRequest request, CallContext context = default);
}

/// <summary>A workspace.</summary>
[ProtoContract]
public sealed record Workspace
{
    /// <summary>Its id (a UUID).</summary>
    [ProtoMember(1)] public string Id { get; init; } = "";

    /// <summary>1 to 100 characters.</summary>
    [ProtoMember(2)] public string Name { get; init; } = "";

    /// <summary>At most 1,000 characters.</summary>
    [ProtoMember(3)] public string Description { get; init; } = "";

    /// <summary>Who created it.</summary>
    [ProtoMember(4)] public string CreatedBy { get; init; } = "";

    /// <summary>When (UTC).</summary>
    [ProtoMember(5)] public DateTime? CreatedAt { get; init; }

    /// <summary>When it last changed (UTC).</summary>
    [ProtoMember(6)] public DateTime? UpdatedAt { get; init; }

    /// <summary>The caller's level on it.</summary>
    [ProtoMember(7)] public PermissionLevel MyLevel { get; init; }
}

/// <summary>A base.</summary>
[ProtoContract]
public sealed record Base
{
    /// <summary>Its id (a UUID).</summary>
    [ProtoMember(1)] public string Id { get; init; } = "";

    /// <summary>Its workspace.</summary>
    [ProtoMember(2)] public string WorkspaceId { get; init; } = "";

    /// <summary>1 to 100 characters.</summary>
    [ProtoMember(3)] public string Name { get; init; } = "";

    /// <summary>Who created it.</summary>
    [ProtoMember(4)] public string CreatedBy { get; init; } = "";

    /// <summary>When (UTC).</summary>
    [ProtoMember(5)] public DateTime? CreatedAt { get; init; }

    /// <summary>When it last changed (UTC).</summary>
    [ProtoMember(6)] public DateTime? UpdatedAt { get; init; }
}

/// <summary>A member of a workspace.</summary>
[ProtoContract]
public sealed record Member
{
    /// <summary>The user.</summary>
    [ProtoMember(1)] public string UserId { get; init; } = "";

    /// <summary>Their level on the workspace.</summary>
    [ProtoMember(2)] public PermissionLevel Level { get; init; }

    /// <summary>Since when (UTC).</summary>
    [ProtoMember(3)] public DateTime? AddedAt { get; init; }
}

/// <summary>A new workspace.</summary>
[ProtoContract]
public sealed record CreateWorkspaceRequest
{
    /// <summary>1 to 100 characters.</summary>
    [ProtoMember(1)] public string Name { get; init; } = "";

    /// <summary>At most 1,000 characters.</summary>
    [ProtoMember(2)] public string Description { get; init; } = "";
}

/// <summary>The created workspace.</summary>
[ProtoContract]
public sealed record CreateWorkspaceResponse
{
    /// <summary>The workspace.</summary>
    [ProtoMember(1)] public Workspace? Workspace { get; init; }

    /// <summary>Pass to permission checks to see the new workspace.</summary>
    [ProtoMember(2)] public string ConsistencyToken { get; init; } = "";
}

/// <summary>Which workspace.</summary>
[ProtoContract]
public sealed record GetWorkspaceRequest
{
    /// <summary>Its id.</summary>
    [ProtoMember(1)] public string WorkspaceId { get; init; } = "";
}

/// <summary>The workspace.</summary>
[ProtoContract]
public sealed record GetWorkspaceResponse
{
    /// <summary>The workspace.</summary>
    [ProtoMember(1)] public Workspace? Workspace { get; init; }
}

/// <summary>A page of workspaces.</summary>
[ProtoContract]
public sealed record ListWorkspacesRequest
{
    /// <summary>page_size defaults to 50 and is capped at 500.</summary>
    [ProtoMember(1)] public PaginationRequest? Pagination { get; init; }
}

/// <summary>Workspaces the caller can read.</summary>
[ProtoContract]
public sealed record ListWorkspacesResponse
{
    /// <summary>The workspaces of this page.</summary>
    [ProtoMember(1)] public List<Workspace> Workspaces { get; init; } = [];

    /// <summary>Where the page is and how to get the next one.</summary>
    [ProtoMember(2)] public PaginationResponse? Pagination { get; init; }
}

/// <summary>Changes; unset fields stay.</summary>
[ProtoContract]
public sealed record UpdateWorkspaceRequest
{
    /// <summary>The workspace.</summary>
    [ProtoMember(1)] public string WorkspaceId { get; init; } = "";

    /// <summary>A new name.</summary>
    [ProtoMember(2)] public string? Name { get; init; }

    /// <summary>A new description.</summary>
    [ProtoMember(3)] public string? Description { get; init; }
}

/// <summary>The updated workspace.</summary>
[ProtoContract]
public sealed record UpdateWorkspaceResponse
{
    /// <summary>The workspace.</summary>
    [ProtoMember(1)] public Workspace? Workspace { get; init; }
}

/// <summary>Which workspace.</summary>
[ProtoContract]
public sealed record DeleteWorkspaceRequest
{
    /// <summary>Its id.</summary>
    [ProtoMember(1)] public string WorkspaceId { get; init; } = "";
}

/// <summary>Gone.</summary>
[ProtoContract]
public sealed record DeleteWorkspaceResponse
{
    /// <summary>Pass to permission checks to see the deletion.</summary>
    [ProtoMember(1)] public string ConsistencyToken { get; init; } = "";
}

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

/// <summary>A new base.</summary>
[ProtoContract]
public sealed record CreateBaseRequest
{
    /// <summary>The workspace.</summary>
    [ProtoMember(1)] public string WorkspaceId { get; init; } = "";

    /// <summary>1 to 100 characters.</summary>
    [ProtoMember(2)] public string Name { get; init; } = "";
}

/// <summary>The created base.</summary>
[ProtoContract]
public sealed record CreateBaseResponse
{
    /// <summary>The base.</summary>
    [ProtoMember(1)] public Base? Base { get; init; }

    /// <summary>Pass to permission checks to see the new base.</summary>
    [ProtoMember(2)] public string ConsistencyToken { get; init; } = "";
}

/// <summary>Which base.</summary>
[ProtoContract]
public sealed record GetBaseRequest
{
    /// <summary>Its id.</summary>
    [ProtoMember(1)] public string BaseId { get; init; } = "";
}

/// <summary>The base.</summary>
[ProtoContract]
public sealed record GetBaseResponse
{
    /// <summary>The base.</summary>
    [ProtoMember(1)] public Base? Base { get; init; }
}

/// <summary>Which workspace's bases.</summary>
[ProtoContract]
public sealed record ListBasesRequest
{
    /// <summary>The workspace.</summary>
    [ProtoMember(1)] public string WorkspaceId { get; init; } = "";

    /// <summary>page_size defaults to 50 and is capped at 500.</summary>
    [ProtoMember(2)] public PaginationRequest? Pagination { get; init; }
}

/// <summary>A page of bases.</summary>
[ProtoContract]
public sealed record ListBasesResponse
{
    /// <summary>The bases of this page.</summary>
    [ProtoMember(1)] public List<Base> Bases { get; init; } = [];

    /// <summary>Where the page is and how to get the next one (total_count counts the bases the caller can read).</summary>
    [ProtoMember(2)] public PaginationResponse? Pagination { get; init; }
}

/// <summary>A new name.</summary>
[ProtoContract]
public sealed record RenameBaseRequest
{
    /// <summary>The base.</summary>
    [ProtoMember(1)] public string BaseId { get; init; } = "";

    /// <summary>1 to 100 characters.</summary>
    [ProtoMember(2)] public string Name { get; init; } = "";
}

/// <summary>The renamed base.</summary>
[ProtoContract]
public sealed record RenameBaseResponse
{
    /// <summary>The base.</summary>
    [ProtoMember(1)] public Base? Base { get; init; }
}

/// <summary>Which base.</summary>
[ProtoContract]
public sealed record DeleteBaseRequest
{
    /// <summary>Its id.</summary>
    [ProtoMember(1)] public string BaseId { get; init; } = "";
}

/// <summary>Gone.</summary>
[ProtoContract]
public sealed record DeleteBaseResponse
{
    /// <summary>Pass to permission checks to see the deletion.</summary>
    [ProtoMember(1)] public string ConsistencyToken { get; init; } = "";
}
