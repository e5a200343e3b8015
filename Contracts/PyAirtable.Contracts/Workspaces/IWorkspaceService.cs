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
