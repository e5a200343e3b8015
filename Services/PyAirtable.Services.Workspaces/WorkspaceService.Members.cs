using PyAirtable.Contracts.Auth;
using PyAirtable.Contracts.Common;
using PyAirtable.Contracts.Permissions;
using PyAirtable.Contracts.Users;
using PyAirtable.Contracts.Workspaces;
using PyAirtable.Services.Infrastructure.Errors;
using PyAirtable.Services.Infrastructure.Identity;
using PyAirtable.Contracts.Events;
using PyAirtable.Services.Infrastructure.Requests;
using CallContext = ProtoBuf.Grpc.CallContext;

namespace PyAirtable.Services.Workspaces;

/// <summary>Membership: invitations (nobody joins without consent), leaving, removal, levels and the member list.</summary>
public sealed partial class WorkspaceService
{
    [RequiresScope(Scopes.WorkspacesWrite)]
    public async ValueTask<AddMemberResponse> AddMemberAsync(AddMemberRequest request, CallContext context = default)
    {
        context.RequireUser(WorkspacesAreUsers);
        var id = Validation.Id("workspace_id", request.WorkspaceId);
        var user = Validation.UserId("user_id", request.UserId);
        MemberLevel(request.Level);
        // Owners only, before the user id is looked at: nobody else learns whether an id is a user.
        await RequireAsync(context, ResourceType.Workspace, id, PermissionLevel.Owner);
        await EnsureUserExistsAsync(context, user);
        var invitation = await WithEventAsync(context, async () =>
        {
            var created = await permissions.CreateInvitationAsync(
                new CreateInvitationRequest { WorkspaceId = id.ToString(), UserId = user.ToString(), Level = request.Level }, context);
            return (created.Invitation!, Invited(created.Invitation!));
        });
        return new AddMemberResponse { InvitationId = invitation.Id, Pending = true, Invitation = invitation };
    }

    [RequiresScope(Scopes.WorkspacesWrite)]
    public async ValueTask<LeaveWorkspaceResponse> LeaveWorkspaceAsync(LeaveWorkspaceRequest request, CallContext context = default)
    {
        var caller = context.RequireUser(WorkspacesAreUsers);
        var id = Validation.Id("workspace_id", request.WorkspaceId);
        var resigned = await WithEventAsync(context, async () =>
        {
            var r = await permissions.ResignMembershipAsync(new ResignMembershipRequest { WorkspaceId = id.ToString() }, context);
            return (r, r.Removed ? new MemberRemoved { WorkspaceId = id.ToString(), UserId = caller.UserId, Left = true } : null);
        });
        return new LeaveWorkspaceResponse { ConsistencyToken = resigned.ConsistencyToken };
    }

    [RequiresScope(Scopes.WorkspacesWrite)]
    public async ValueTask<InviteMemberResponse> InviteMemberAsync(InviteMemberRequest request, CallContext context = default)
    {
        context.RequireUser(WorkspacesAreUsers);
        var id = Validation.Id("workspace_id", request.WorkspaceId);
        MemberLevel(request.Level);
        await ExistsAsync(context, id);
        var invitation = await WithEventAsync(context, async () =>
        {
            var created = await permissions.CreateInvitationAsync(
                new CreateInvitationRequest { WorkspaceId = id.ToString(), Email = request.Email, Level = request.Level }, context);
            return (created.Invitation!, Invited(created.Invitation!));
        });
        return new InviteMemberResponse { Invitation = invitation };
    }

    [RequiresScope(Scopes.WorkspacesWrite)]
    public async ValueTask<AcceptInviteResponse> AcceptInviteAsync(AcceptInviteRequest request, CallContext context = default)
    {
        context.RequireUser(WorkspacesAreUsers);
        Validation.Id("invitation_id", request.InvitationId);
        var accepted = await WithEventAsync(context, async () =>
        {
            var a = await permissions.AcceptInvitationAsync(new AcceptInvitationRequest { InvitationId = request.InvitationId }, context);
            return (a, new MemberAdded { WorkspaceId = a.Grant!.Resource!.Id, UserId = a.Grant.UserId, Level = a.Grant.Level });
        });
        var member = new Member { UserId = accepted.Grant!.UserId, Level = accepted.Grant.Level, AddedAt = accepted.Grant.GrantedAt };
        return new AcceptInviteResponse
        {
            WorkspaceId = accepted.Grant.Resource!.Id, Member = member, ConsistencyToken = accepted.ConsistencyToken,
        };
    }

    [RequiresScope(Scopes.WorkspacesWrite)]
    public async ValueTask<RemoveMemberResponse> RemoveMemberAsync(RemoveMemberRequest request, CallContext context = default)
    {
        context.RequireUser(WorkspacesAreUsers);
        var id = Validation.Id("workspace_id", request.WorkspaceId);
        var user = Validation.Id("user_id", request.UserId);
        var revoked = await WithEventAsync(context, async () =>
        {
            // Everything the member held inside the workspace goes: grants on bases they created, roles.
            var r = await permissions.RevokeAsync(
                new RevokeRequest { Resource = Ref(ResourceType.Workspace, id), UserId = user.ToString(), WholeWorkspace = true }, context);
            // no event when nobody was removed
            return (r, r.Removed ? new MemberRemoved { WorkspaceId = id.ToString(), UserId = user.ToString() } : null);
        });
        return new RemoveMemberResponse { ConsistencyToken = revoked.ConsistencyToken };
    }

    [RequiresScope(Scopes.WorkspacesWrite)]
    public async ValueTask<ChangeMemberRoleResponse> ChangeMemberRoleAsync(ChangeMemberRoleRequest request, CallContext context = default)
    {
        context.RequireUser(WorkspacesAreUsers);
        var id = Validation.Id("workspace_id", request.WorkspaceId);
        var user = Validation.Id("user_id", request.UserId);
        MemberLevel(request.Level);
        var granted = await WithEventAsync(context, async () =>
        {
            var g = await permissions.GrantAsync(
                new GrantRequest { Resource = Ref(ResourceType.Workspace, id), UserId = user.ToString(), Level = request.Level }, context);
            return (g, new MemberRoleChanged { WorkspaceId = id.ToString(), UserId = user.ToString(), Level = request.Level });
        });
        var member = new Member { UserId = user.ToString(), Level = request.Level, AddedAt = granted.Grant!.GrantedAt };
        return new ChangeMemberRoleResponse { Member = member, ConsistencyToken = granted.ConsistencyToken };
    }

    [RequiresScope(Scopes.WorkspacesRead)]
    public async ValueTask<ListMembersResponse> ListMembersAsync(ListMembersRequest request, CallContext context = default)
    {
        context.RequireUser(WorkspacesAreUsers);
        var id = Validation.Id("workspace_id", request.WorkspaceId);
        var page = await permissions.ListPermissionsAsync(
            new ListPermissionsRequest { Resource = Ref(ResourceType.Workspace, id), Pagination = request.Pagination }, context);
        return new ListMembersResponse
        {
            Members = page.Permissions.Select(g => new Member { UserId = g.UserId, Level = g.Level, AddedAt = g.GrantedAt }).ToList(),
            Pagination = page.Pagination,
        };
    }

    /// <summary>
    /// NOT_FOUND unless <paramref name="user"/> is a user. Asked of the User service as this service (a caller may only
    /// read profiles of people they share a workspace with, which an invitee usually is not).
    /// </summary>
    private async Task EnsureUserExistsAsync(CallContext context, Guid user)
    {
        var http = (context.ServerCallContext is { } call ? Grpc.Core.ServerCallContextExtensions.GetHttpContext(call) : null)
            ?? throw new InvalidOperationException("AddMember is served over gRPC only.");
        if (serviceTokens is null)
        {
            // A deployment limit, not a bug or the caller's error: hosts without a local Auth service have no service identity yet.
            throw new PlatformException(ErrorCode.Unimplemented, "AddMember is not available on this host: " +
                "it checks user ids with a service token of an Auth service running on the same host.");
        }

        var authorization = await serviceTokens.AuthorizationAsync(ServiceName, ServiceScopes, context.CancellationToken);
        GetUsersResponse found;
        using (CallerImpersonation.ActAs(http, ServicePrincipal.Of(ServiceName, ServiceScopes), authorization))
        {
            found = await users.GetUsersAsync(new GetUsersRequest { UserIds = [user.ToString()] }, context);
        }

        if (found.Users.Count == 0)
        {
            Fail.NotFound("user", user.ToString());
        }
    }

    private static void MemberLevel(PermissionLevel level)
    {
        if (level is < PermissionLevel.Read or > PermissionLevel.Owner)
        {
            throw new ValidationException("level", "must be read, comment, edit, create or owner");
        }
    }

    private static MemberInvited Invited(Invitation invitation) => new()
    {
        WorkspaceId = invitation.WorkspaceId, InvitationId = invitation.Id, UserId = invitation.UserId, Email = invitation.Email,
        Level = invitation.Level, InvitedBy = invitation.InvitedBy,
    };
}
