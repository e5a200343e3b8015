using PyAirtable.Contracts.Common;
using PyAirtable.Contracts.Permissions;
using PyAirtable.Services.Infrastructure.Errors;
using PyAirtable.Services.Infrastructure.Identity;
using PyAirtable.Services.Permissions.Stores;

namespace PyAirtable.Services.Permissions;

/// <summary>The authorization rules the RPCs share; each runs in the RPC's session, so the locks it takes guard the write.</summary>
public sealed partial class PermissionService
{
    private const string UsersOnly = "Resources are registered by users.";

    /// <summary>
    /// Refuses unless the caller holds <paramref name="level"/> on the resource: NOT_FOUND when they cannot
    /// even read it (so ids do not leak), PERMISSION_DENIED when they can read it but not do this.
    /// </summary>
    private static async Task RequireAsync(
        PermissionSession db, UserContext caller, ResourceKey resource, PermissionLevel level, string action, CancellationToken ct)
    {
        if (caller.HasRole(PlatformRoles.Admin))
        {
            if (!await db.Resources.ExistsAsync(resource, ct))
            {
                Fail.NotFound(Names.Of(resource.Type), resource.Id.ToString());
            }

            return;
        }

        if (!Guid.TryParse(caller.UserId, out var user))
        {
            Fail.PermissionDenied("Only users hold permissions.");
        }

        var decision = (await db.Checks.EvaluateAsync([new Query(user, resource.Type, resource.Id)], ct))[0];
        if (!decision.Exists || decision.Level < PermissionLevel.Read)
        {
            Fail.NotFound(Names.Of(resource.Type), resource.Id.ToString());
        }

        if (decision.Level < level)
        {
            Fail.PermissionDenied(
                $"{Names.Of(level)} on the {Names.Of(resource.Type)} is needed for {action}; you have {Names.Of(decision.Level)}.");
        }
    }

    /// <summary>Refuses to remove or demote a workspace's last owner (the owners' rows are locked: two demotions cannot race).</summary>
    private static async Task EnsureNotLastOwnerAsync(PermissionSession db, ResourceKey resource, Guid user, CancellationToken ct)
    {
        if (resource.Type != ResourceType.Workspace)
        {
            return;
        }

        var owners = await db.Grants.LockOwnersAsync(resource.Id, ct);
        if (owners.Count == 1 && owners[0] == user)
        {
            Fail.FailedPrecondition("A workspace keeps at least one owner: make someone else owner first.", Rule("last_owner"));
        }
    }

    /// <summary>
    /// Refuses (FAILED_PRECONDITION) to give anything in a workspace to a user who is not in it: joining needs
    /// their consent (an accepted invitation). Operators and the platform's services may still add people directly.
    /// </summary>
    private static async Task EnsureMemberAsync(PermissionSession db, UserContext caller, Guid workspace, Guid user, CancellationToken ct)
    {
        await db.Membership.LockAsync(workspace, user, ct);
        if (caller.IsPrivileged() || await db.Membership.IsMemberAsync(workspace, user, ct))
        {
            return;
        }

        Fail.FailedPrecondition("The user is not a member of the workspace, and nobody joins a workspace without consent: invite them " +
            "(WorkspaceService.AddMember or CreateInvitation); once they accept, change their level.", Rule("not_a_member"));
    }

    /// <summary>Below read, a missing resource and one without access read the same, so checks do not reveal which ids exist.</summary>
    private static string ReasonFor(UserContext caller, Decision decision) =>
        decision.Level >= PermissionLevel.Read || caller.IsPrivileged() ? decision.Reason : "no access";

    private static Dictionary<string, string> Rule(string rule) => new() { ["rule"] = rule };
}
