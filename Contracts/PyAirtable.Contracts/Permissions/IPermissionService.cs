using ProtoBuf;
using ProtoBuf.Grpc;
using ProtoBuf.Grpc.Configuration;
using PyAirtable.Contracts.Common;

namespace PyAirtable.Contracts.Permissions;

/// <summary>
/// Who may do what. Resources form a tree (workspace → base → table; files and webhooks under their
/// owner); a user's level on a resource is the level of the nearest grant on it or an ancestor, else the
/// best level a role assigned in its workspace gives that resource type, else none. Levels are ordered
/// none &lt; read &lt; comment &lt; edit &lt; create &lt; owner; a check asks for at least a level.
/// Every write returns a consistency token; a check that passes one sees that write or newer.
/// </summary>
[Service("pyairtable.permissions.v1.PermissionService")]
public interface IPermissionService
{
    /// <summary>Whether a user (the caller when user_id is empty) holds at least a level on a resource.</summary>
    [HttpRoute("POST", "/v1/permissions:check")]
    ValueTask<CheckPermissionResponse> CheckPermissionAsync(CheckPermissionRequest request, CallContext context = default);

    /// <summary>Up to 5,000 checks in one call; results in request order, each with its own verdict.</summary>
    [HttpRoute("POST", "/v1/permissions:batchCheck")]
    ValueTask<BatchCheckPermissionResponse> BatchCheckPermissionAsync(BatchCheckPermissionRequest request, CallContext context = default);

    /// <summary>
    /// Adds a resource to the tree. A workspace has no parent and its creator becomes its owner; any
    /// other resource needs a parent on which the caller holds create.
    /// </summary>
    [HttpRoute("POST", "/v1/resources")]
    ValueTask<RegisterResourceResponse> RegisterResourceAsync(RegisterResourceRequest request, CallContext context = default);

    /// <summary>Removes a resource, its descendants and every grant on them (owner only).</summary>
    [HttpRoute("POST", "/v1/resources:delete")]
    ValueTask<DeleteResourceResponse> DeleteResourceAsync(DeleteResourceRequest request, CallContext context = default);

    /// <summary>
    /// Sets a user's level on a resource (callers need owner on it; the last owner of a workspace cannot be demoted).
    /// Nobody joins a workspace without consent: the user must already be a member of the resource's workspace
    /// (a grant of read or more in it, or a role) — FAILED_PRECONDITION (<c>rule</c> <c>not_a_member</c>) otherwise;
    /// invite them (CreateInvitation, or WorkspaceService.AddMember) and change their level once they accepted.
    /// Operators and the platform's services are exempt.
    /// </summary>
    [HttpRoute("POST", "/v1/permissions:grant")]
    ValueTask<GrantResponse> GrantAsync(GrantRequest request, CallContext context = default);

    /// <summary>Removes a user's grant on a resource (owner only; the last owner of a workspace cannot be removed).</summary>
    [HttpRoute("POST", "/v1/permissions:revoke")]
    ValueTask<RevokeResponse> RevokeAsync(RevokeRequest request, CallContext context = default);

    /// <summary>The grants on a resource (members may list a workspace's; deeper resources need owner) or of a user (the user themself), a page at a time.</summary>
    [HttpRoute("GET", "/v1/users/{user_id}/permissions")]
    ValueTask<ListPermissionsResponse> ListPermissionsAsync(ListPermissionsRequest request, CallContext context = default);

    /// <summary>Every resource of a type that a user reaches at a level or above, streamed in id order (after_id resumes a broken stream).</summary>
    [HttpRoute("POST", "/v1/permissions:lookupResources")]
    IAsyncEnumerable<LookupResourcesResponse> LookupResourcesAsync(LookupResourcesRequest request, CallContext context = default);

    /// <summary>Creates a role in a workspace (owner only).</summary>
    [HttpRoute("POST", "/v1/workspaces/{workspace_id}/roles")]
    ValueTask<CreateRoleResponse> CreateRoleAsync(CreateRoleRequest request, CallContext context = default);

    /// <summary>Renames a role or replaces its permissions (owner of its workspace only).</summary>
    [HttpRoute("PATCH", "/v1/roles/{role_id}")]
    ValueTask<UpdateRoleResponse> UpdateRoleAsync(UpdateRoleRequest request, CallContext context = default);

    /// <summary>Gives a user a role in the role's workspace (owner only; the user must be a member already, as for Grant).</summary>
    [HttpRoute("POST", "/v1/roles/{role_id}:assign")]
    ValueTask<AssignRoleResponse> AssignRoleAsync(AssignRoleRequest request, CallContext context = default);

    /// <summary>Takes a role from a user (owner only).</summary>
    [HttpRoute("POST", "/v1/roles/{role_id}:unassign")]
    ValueTask<UnassignRoleResponse> UnassignRoleAsync(UnassignRoleRequest request, CallContext context = default);

    /// <summary>The roles of a workspace (members may list them).</summary>
    [HttpRoute("GET", "/v1/workspaces/{workspace_id}/roles")]
    ValueTask<ListRolesResponse> ListRolesAsync(ListRolesRequest request, CallContext context = default);

    /// <summary>
    /// Invites an e-mail address or a user id to a workspace at a level (owner only); accepting it grants the level.
    /// The user id is not checked here (this service does not know users): WorkspaceService.AddMember checks it
    /// exists; an invitation to an unknown id can never be accepted and expires.
    /// </summary>
    [HttpRoute("POST", "/v1/workspaces/{workspace_id}/invitations")]
    ValueTask<CreateInvitationResponse> CreateInvitationAsync(CreateInvitationRequest request, CallContext context = default);

    /// <summary>
    /// Accepts an invitation addressed to the caller (their user id, or their e-mail address): the caller gets its
    /// level on its workspace. The caller's e-mail address must be verified (UserContext.email_verified; see
    /// AuthService.VerifyEmail). FAILED_PRECONDITION (ErrorInfo <c>rule</c>) when the address is not verified
    /// (<c>email_unverified</c>), the invitation was accepted or declined already, has expired
    /// (<c>invitation_expired</c>), or its inviter can no longer give that level (<c>inviter_not_owner</c>).
    /// </summary>
    [HttpRoute("POST", "/v1/invitations/{invitation_id}:accept")]
    ValueTask<AcceptInvitationResponse> AcceptInvitationAsync(AcceptInvitationRequest request, CallContext context = default);

    /// <summary>Of the given users, those who share a workspace with the caller (both members of it).</summary>
    [HttpRoute("POST", "/v1/users:filterShared")]
    ValueTask<FilterSharedWorkspaceUsersResponse> FilterSharedWorkspaceUsersAsync(FilterSharedWorkspaceUsersRequest request, CallContext context = default);

    /// <summary>
    /// The caller's pending invitations (neither accepted, declined nor expired), newest first: those addressed to
    /// their user id, and — once their e-mail address is verified — those addressed to that address.
    /// </summary>
    [HttpRoute("GET", "/v1/invitations")]
    ValueTask<ListMyInvitationsResponse> ListMyInvitationsAsync(ListMyInvitationsRequest request, CallContext context = default);

    /// <summary>Declines a pending invitation addressed to the caller; it can no longer be accepted.</summary>
    [HttpRoute("POST", "/v1/invitations/{invitation_id}:decline")]
    ValueTask<DeclineInvitationResponse> DeclineInvitationAsync(DeclineInvitationRequest request, CallContext context = default);

    /// <summary>
    /// The caller leaves a workspace: every grant and role they hold inside it goes. The last owner cannot leave
    /// (FAILED_PRECONDITION, <c>rule</c> <c>last_owner</c>): make someone else owner first, or delete the workspace.
    /// </summary>
    [HttpRoute("POST", "/v1/workspaces/{workspace_id}:resign")]
    ValueTask<ResignMembershipResponse> ResignMembershipAsync(ResignMembershipRequest request, CallContext context = default);
}

/// <summary>Kinds of resources in the tree.</summary>
[ProtoContract(Name = "ResourceType")]
public enum ResourceType
{
    /// <summary>Never valid in a request.</summary>
    [ProtoEnum(Name = "RESOURCE_TYPE_UNSPECIFIED")] Unspecified = 0,
    /// <summary>The root of a tree.</summary>
    [ProtoEnum(Name = "RESOURCE_TYPE_WORKSPACE")] Workspace = 1,
    /// <summary>Inside a workspace.</summary>
    [ProtoEnum(Name = "RESOURCE_TYPE_BASE")] Base = 2,
    /// <summary>Inside a base.</summary>
    [ProtoEnum(Name = "RESOURCE_TYPE_TABLE")] Table = 3,
    /// <summary>Under the resource that owns it.</summary>
    [ProtoEnum(Name = "RESOURCE_TYPE_FILE")] File = 4,
    /// <summary>Under the resource that owns it.</summary>
    [ProtoEnum(Name = "RESOURCE_TYPE_WEBHOOK")] Webhook = 5,
}

/// <summary>Permission levels, each including the ones before it.</summary>
[ProtoContract(Name = "PermissionLevel")]
public enum PermissionLevel
{
    /// <summary>Never valid in a request.</summary>
    [ProtoEnum(Name = "PERMISSION_LEVEL_UNSPECIFIED")] Unspecified = 0,
    /// <summary>No access; as a grant it overrides what a parent grants.</summary>
    [ProtoEnum(Name = "PERMISSION_LEVEL_NONE")] None = 1,
    /// <summary>See the resource and its contents.</summary>
    [ProtoEnum(Name = "PERMISSION_LEVEL_READ")] Read = 2,
    /// <summary>Read and comment.</summary>
    [ProtoEnum(Name = "PERMISSION_LEVEL_COMMENT")] Comment = 3,
    /// <summary>Change contents.</summary>
    [ProtoEnum(Name = "PERMISSION_LEVEL_EDIT")] Edit = 4,
    /// <summary>Edit and create children (bases in a workspace, tables in a base).</summary>
    [ProtoEnum(Name = "PERMISSION_LEVEL_CREATE")] Create = 5,
    /// <summary>Everything, including managing grants, roles and deletion.</summary>
    [ProtoEnum(Name = "PERMISSION_LEVEL_OWNER")] Owner = 6,
}

/// <summary>A resource in the tree.</summary>
[ProtoContract]
public sealed record ResourceRef
{
    /// <summary>Its kind.</summary>
    [ProtoMember(1)] public ResourceType Type { get; init; }

    /// <summary>Its id (a UUID).</summary>
    [ProtoMember(2)] public string Id { get; init; } = "";
}

/// <summary>One check.</summary>
[ProtoContract]
public sealed record CheckPermissionRequest
{
    /// <summary>Whose permission; empty for the caller. Checking another user needs owner on the resource.</summary>
    [ProtoMember(1)] public string UserId { get; init; } = "";

    /// <summary>The resource.</summary>
    [ProtoMember(2)] public ResourceRef? Resource { get; init; }

    /// <summary>The least level that allows.</summary>
    [ProtoMember(3)] public PermissionLevel Level { get; init; }

    /// <summary>From a write: the check reflects that write or newer state.</summary>
    [ProtoMember(4)] public string ConsistencyToken { get; init; } = "";
}

/// <summary>The verdict.</summary>
[ProtoContract]
public sealed record CheckPermissionResponse
{
    /// <summary>True when the effective level is at least the level asked.</summary>
    [ProtoMember(1)] public bool Allowed { get; init; }

    /// <summary>The user's level on the resource.</summary>
    [ProtoMember(2)] public PermissionLevel EffectiveLevel { get; init; }

    /// <summary>Where the level comes from, e.g. "grant on RESOURCE_TYPE_WORKSPACE 1f…", "role editors", "no grant", "no such resource".</summary>
    [ProtoMember(3)] public string Reason { get; init; } = "";

    /// <summary>The state the verdict was computed at.</summary>
    [ProtoMember(4)] public string ConsistencyToken { get; init; } = "";
}

/// <summary>One check of a batch.</summary>
[ProtoContract]
public sealed record CheckItem
{
    /// <summary>Whose permission; empty for the caller.</summary>
    [ProtoMember(1)] public string UserId { get; init; } = "";

    /// <summary>The resource.</summary>
    [ProtoMember(2)] public ResourceRef? Resource { get; init; }

    /// <summary>The least level that allows.</summary>
    [ProtoMember(3)] public PermissionLevel Level { get; init; }
}

/// <summary>Checks to answer together.</summary>
[ProtoContract]
public sealed record BatchCheckPermissionRequest
{
    /// <summary>1 to 5,000 checks.</summary>
    [ProtoMember(1)] public List<CheckItem> Checks { get; init; } = [];

    /// <summary>From a write: every result reflects that write or newer state.</summary>
    [ProtoMember(2)] public string ConsistencyToken { get; init; } = "";
}

/// <summary>The verdict of one check of a batch.</summary>
[ProtoContract]
public sealed record CheckResult
{
    /// <summary>True when the effective level is at least the level asked.</summary>
    [ProtoMember(1)] public bool Allowed { get; init; }

    /// <summary>The user's level on the resource.</summary>
    [ProtoMember(2)] public PermissionLevel EffectiveLevel { get; init; }

    /// <summary>Where the level comes from.</summary>
    [ProtoMember(3)] public string Reason { get; init; } = "";
}

/// <summary>The verdicts, in request order.</summary>
[ProtoContract]
public sealed record BatchCheckPermissionResponse
{
    /// <summary>One per check, in request order.</summary>
    [ProtoMember(1)] public List<CheckResult> Results { get; init; } = [];

    /// <summary>The state the verdicts were computed at.</summary>
    [ProtoMember(2)] public string ConsistencyToken { get; init; } = "";
}

/// <summary>A new resource.</summary>
[ProtoContract]
public sealed record RegisterResourceRequest
{
    /// <summary>The resource (its id is chosen by the service that owns it).</summary>
    [ProtoMember(1)] public ResourceRef? Resource { get; init; }

    /// <summary>Its parent; none for a workspace.</summary>
    [ProtoMember(2)] public ResourceRef? Parent { get; init; }
}

/// <summary>The resource is in the tree.</summary>
[ProtoContract]
public sealed record RegisterResourceResponse
{
    /// <summary>The state after the write.</summary>
    [ProtoMember(1)] public string ConsistencyToken { get; init; } = "";
}

/// <summary>The resource to remove.</summary>
[ProtoContract]
public sealed record DeleteResourceRequest
{
    /// <summary>The resource; its descendants go with it.</summary>
    [ProtoMember(1)] public ResourceRef? Resource { get; init; }
}

/// <summary>The resource and its subtree are gone.</summary>
[ProtoContract]
public sealed record DeleteResourceResponse
{
    /// <summary>The state after the write.</summary>
    [ProtoMember(1)] public string ConsistencyToken { get; init; } = "";

    /// <summary>How many resources were removed, the resource included.</summary>
    [ProtoMember(2)] public int ResourcesRemoved { get; init; }
}

/// <summary>A level to give.</summary>
[ProtoContract]
public sealed record GrantRequest
{
    /// <summary>The resource.</summary>
    [ProtoMember(1)] public ResourceRef? Resource { get; init; }

    /// <summary>The user.</summary>
    [ProtoMember(2)] public string UserId { get; init; } = "";

    /// <summary>The level; none blocks what a parent grants.</summary>
    [ProtoMember(3)] public PermissionLevel Level { get; init; }
}

/// <summary>A user's grant on a resource.</summary>
[ProtoContract]
public sealed record Grant
{
    /// <summary>The resource.</summary>
    [ProtoMember(1)] public ResourceRef? Resource { get; init; }

    /// <summary>The user.</summary>
    [ProtoMember(2)] public string UserId { get; init; } = "";

    /// <summary>The level granted.</summary>
    [ProtoMember(3)] public PermissionLevel Level { get; init; }

    /// <summary>When (UTC).</summary>
    [ProtoMember(4)] public DateTime? GrantedAt { get; init; }

    /// <summary>Who granted it.</summary>
    [ProtoMember(5)] public string GrantedBy { get; init; } = "";
}

/// <summary>The grant as stored.</summary>
[ProtoContract]
public sealed record GrantResponse
{
    /// <summary>The grant.</summary>
    [ProtoMember(1)] public Grant? Grant { get; init; }

    /// <summary>The state after the write.</summary>
    [ProtoMember(2)] public string ConsistencyToken { get; init; } = "";
}

/// <summary>A grant to remove.</summary>
[ProtoContract]
public sealed record RevokeRequest
{
    /// <summary>The resource.</summary>
    [ProtoMember(1)] public ResourceRef? Resource { get; init; }

    /// <summary>The user.</summary>
    [ProtoMember(2)] public string UserId { get; init; } = "";

    /// <summary>For a workspace: also every grant and role of the user on anything inside it (removing a member).</summary>
    [ProtoMember(3)] public bool WholeWorkspace { get; init; }
}

/// <summary>The grant is gone (or was not there).</summary>
[ProtoContract]
public sealed record RevokeResponse
{
    /// <summary>The state after the write.</summary>
    [ProtoMember(1)] public string ConsistencyToken { get; init; } = "";

    /// <summary>False when the user had no grant on the resource (nothing changed).</summary>
    [ProtoMember(2)] public bool Removed { get; init; }
}

/// <summary>Grants by resource or by user: set exactly one of resource and user_id.</summary>
[ProtoContract]
public sealed record ListPermissionsRequest
{
    /// <summary>The grants on this resource.</summary>
    [ProtoMember(1)] public ResourceRef? Resource { get; init; }

    /// <summary>The grants of this user.</summary>
    [ProtoMember(2)] public string UserId { get; init; } = "";

    /// <summary>page_size defaults to 50 and is capped at 500.</summary>
    [ProtoMember(3)] public PaginationRequest? Pagination { get; init; }
}

/// <summary>A page of grants.</summary>
[ProtoContract]
public sealed record ListPermissionsResponse
{
    /// <summary>The grants of this page.</summary>
    [ProtoMember(1)] public List<Grant> Permissions { get; init; } = [];

    /// <summary>Where the page is and how to get the next one.</summary>
    [ProtoMember(2)] public PaginationResponse? Pagination { get; init; }
}

/// <summary>What to look up.</summary>
[ProtoContract]
public sealed record LookupResourcesRequest
{
    /// <summary>Whose resources; empty for the caller (others need the admin role).</summary>
    [ProtoMember(1)] public string UserId { get; init; } = "";

    /// <summary>The kind of resource.</summary>
    [ProtoMember(2)] public ResourceType Type { get; init; }

    /// <summary>The least level.</summary>
    [ProtoMember(3)] public PermissionLevel Level { get; init; }

    /// <summary>From a write: the answer reflects that write or newer state.</summary>
    [ProtoMember(4)] public string ConsistencyToken { get; init; } = "";

    /// <summary>Resume a broken stream: only resources with ids after this one (the last id received).</summary>
    [ProtoMember(5)] public string AfterId { get; init; } = "";
}

/// <summary>One resource the user reaches.</summary>
[ProtoContract]
public sealed record LookupResourcesResponse
{
    /// <summary>The resource.</summary>
    [ProtoMember(1)] public ResourceRef? Resource { get; init; }

    /// <summary>The user's level on it.</summary>
    [ProtoMember(2)] public PermissionLevel Level { get; init; }
}

/// <summary>Users to test.</summary>
[ProtoContract]
public sealed record FilterSharedWorkspaceUsersRequest
{
    /// <summary>At most 500 user ids.</summary>
    [ProtoMember(1)] public List<string> UserIds { get; init; } = [];
}

/// <summary>The users sharing a workspace with the caller, in request order.</summary>
[ProtoContract]
public sealed record FilterSharedWorkspaceUsersResponse
{
    /// <summary>The subset of the request's ids.</summary>
    [ProtoMember(1)] public List<string> UserIds { get; init; } = [];
}
