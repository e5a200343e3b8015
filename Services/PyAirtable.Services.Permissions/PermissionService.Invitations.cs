using PyAirtable.Contracts.Auth;
using PyAirtable.Contracts.Common;
using PyAirtable.Contracts.Permissions;
using PyAirtable.Services.Infrastructure.Errors;
using PyAirtable.Services.Infrastructure.Identity;
using PyAirtable.Services.Infrastructure.Pagination;
using PyAirtable.Services.Permissions.Stores;
using CallContext = ProtoBuf.Grpc.CallContext;

namespace PyAirtable.Services.Permissions;

/// <summary>
/// Invitations: the only way into a workspace one did not create is accepting one (addressed to a user id or an
/// e-mail address) with a verified e-mail address. Grant and AssignRole only adjust people already in the
/// workspace (<see cref="EnsureMemberAsync"/>).
/// </summary>
public sealed partial class PermissionService
{
    /// <summary>Invitations one person may send in an hour (AddMember included).</summary>
    internal const int MaxInvitationsPerHour = 100;

    [RequiresScope(Scopes.WorkspacesWrite)]
    public async ValueTask<CreateInvitationResponse> CreateInvitationAsync(CreateInvitationRequest request, CallContext context = default)
    {
        var caller = context.RequireUser(UsersOnly);
        var workspace = Validation.Id("workspace_id", request.WorkspaceId);
        var byEmail = !string.IsNullOrEmpty(request.Email);
        if (byEmail == !string.IsNullOrEmpty(request.UserId))
        {
            throw new ValidationException("email", "set exactly one of email and user_id");
        }

        var email = byEmail ? Validation.NormalizeEmail(request.Email) : null;
        Guid? invitee = byEmail ? null : Validation.UserId("user_id", request.UserId);
        var validator = new RequestValidator();
        if (email is not null)
        {
            validator.Email("email", email);
        }

        if (request.Level is < PermissionLevel.Read or > PermissionLevel.Owner)
        {
            validator.Add("level", "must be read, comment, edit, create or owner");
        }

        validator.ThrowIfInvalid();
        var inviter = Guid.Parse(caller.UserId);
        var ct = context.CancellationToken;
        await using var db = await database.BeginAsync(ct);
        await RequireAsync(db, caller, new ResourceKey(ResourceType.Workspace, workspace), PermissionLevel.Owner, "inviting to it", ct);
        if (!await db.Grants.LockOwnerGrantAsync(workspace, inviter, ct))
        {
            // An invitation is only as good as its inviter's ownership, re-checked at acceptance.
            Fail.PermissionDenied("Invitations are sent by owners of the workspace; operators add members directly.");
        }

        // Inviting costs the inviter nothing and fills someone else's list: at most MaxInvitationsPerHour an hour
        // (counted in PostgreSQL, so every host agrees and a Redis restart does not reset it).
        var (sent, oldest) = await db.Invitations.SentInLastHourAsync(inviter, ct);
        if (sent >= MaxInvitationsPerHour)
        {
            var retry = oldest is { } first ? first.AddHours(1) - DateTime.UtcNow : TimeSpan.FromMinutes(1);
            throw new PlatformException(ErrorCode.ResourceExhausted,
                $"At most {MaxInvitationsPerHour} invitations an hour are sent by one person.",
                new Dictionary<string, string> { ["limit"] = "invitations_per_hour" })
            {
                RetryAfter = retry > TimeSpan.Zero ? retry : TimeSpan.FromSeconds(1),
            };
        }

        var row = await db.Invitations.InsertAsync(Guid.CreateVersion7(), workspace, email, invitee, request.Level, inviter, ct);
        await db.Checks.NextTokenAsync(ct);
        await db.CommitAsync(ct);
        return new CreateInvitationResponse { Invitation = row.ToContract() };
    }

    [RequiresScope(Scopes.WorkspacesWrite)]
    public async ValueTask<AcceptInvitationResponse> AcceptInvitationAsync(AcceptInvitationRequest request, CallContext context = default)
    {
        var caller = context.RequireUser(UsersOnly);
        var id = Validation.Id("invitation_id", request.InvitationId);
        var ct = context.CancellationToken;
        await using var db = await database.BeginAsync(ct);
        var invitation = await LockOwnInvitationAsync(db, caller, id, request.InvitationId, ct);
        if (!caller.EmailVerified)
        {
            // Consent is only worth something from an account whose owner is known to read its mail.
            Fail.FailedPrecondition("Verify your e-mail address before joining a workspace: call AuthService.SendVerificationEmail " +
                "and VerifyEmail, then use the access token VerifyEmail returns (or Refresh).", Rule("email_unverified"));
        }

        EnsurePending(invitation);

        // Only as good as the inviter's rights now: an owner who was removed cannot still bring people in. The
        // grant is locked so a concurrent demotion waits for this acceptance (or this one sees it).
        if (!await db.Grants.LockOwnerGrantAsync(invitation.WorkspaceId, invitation.InvitedBy, ct))
        {
            Fail.FailedPrecondition("Whoever invited you can no longer add members; ask an owner for a new invitation.",
                Rule("inviter_not_owner"));
        }

        var user = Guid.Parse(caller.UserId);
        var granted = await db.Grants.RaiseOnWorkspaceAsync(
            invitation.WorkspaceId, user, invitation.Level, invitation.InvitedBy.ToString(), ct);
        await db.Invitations.MarkAcceptedAsync(id, user, ct);
        var token = await db.Checks.NextTokenAsync(ct);
        await db.CommitAsync(ct);
        return new AcceptInvitationResponse
        {
            ConsistencyToken = token,
            Grant = new Grant
            {
                Resource = new ResourceRef { Type = ResourceType.Workspace, Id = invitation.WorkspaceId.ToString() },
                UserId = caller.UserId,
                Level = (PermissionLevel)granted.Level,
                GrantedAt = granted.GrantedAt,
                GrantedBy = invitation.InvitedBy.ToString(),
            },
        };
    }

    [RequiresScope(Scopes.WorkspacesRead)]
    public async ValueTask<ListMyInvitationsResponse> ListMyInvitationsAsync(ListMyInvitationsRequest request, CallContext context = default)
    {
        var caller = context.RequireUser(UsersOnly);
        var user = Guid.Parse(caller.UserId);
        // Invitations to an address reach its account only once the account proved it reads that address.
        var email = caller.EmailVerified && caller.Email.Length > 0 ? Validation.NormalizeEmail(caller.Email) : null;
        var scope = $"permissions.my-invitations:{user}:{email}";
        var page = PageRequest.From(request.Pagination, cursors, scope, defaultPageSize: 50, maxPageSize: 500);
        var before = page.After is { Count: 1 } a ? Guid.Parse(a[0]) : (Guid?)null;
        var ct = context.CancellationToken;
        await using var db = await database.OpenAsync(ct);
        var rows = await db.Invitations.ListPendingAsync(user, email, before, page.PageSize + 1, ct);
        var total = await db.Invitations.CountPendingAsync(user, email, ct);
        var (items, pagination) = page.Complete(rows, total, r => [r.Id.ToString()], cursors, scope);
        return new ListMyInvitationsResponse { Invitations = items.Select(r => r.ToContract()).ToList(), Pagination = pagination };
    }

    [RequiresScope(Scopes.WorkspacesWrite)]
    public async ValueTask<DeclineInvitationResponse> DeclineInvitationAsync(DeclineInvitationRequest request, CallContext context = default)
    {
        var caller = context.RequireUser(UsersOnly);
        var id = Validation.Id("invitation_id", request.InvitationId);
        var ct = context.CancellationToken;
        await using var db = await database.BeginAsync(ct);
        var invitation = await LockOwnInvitationAsync(db, caller, id, request.InvitationId, ct);
        if (invitation.Email is not null && !caller.EmailVerified)
        {
            Fail.NotFound("invitation", request.InvitationId); // as for listing: an address is yours once verified
        }

        EnsurePending(invitation);
        var row = await db.Invitations.MarkDeclinedAsync(id, ct);
        await db.CommitAsync(ct);
        return new DeclineInvitationResponse { Invitation = row.ToContract() };
    }

    /// <summary>The invitation, locked, if it is addressed to the caller (by id or by address); NOT_FOUND otherwise.</summary>
    private static async Task<InvitationRow> LockOwnInvitationAsync(
        PermissionSession db, UserContext caller, Guid id, string rawId, CancellationToken ct)
    {
        var row = await db.Invitations.LockAsync(id, ct);
        var mine = row is not null && (row.InviteeId is { } invitee
            ? invitee.ToString() == caller.UserId
            : string.Equals(row.Email, caller.Email, StringComparison.OrdinalIgnoreCase));
        if (!mine)
        {
            Fail.NotFound("invitation", rawId); // someone else's invitation does not exist for the caller
        }

        return row!;
    }

    private static void EnsurePending(InvitationRow invitation)
    {
        if (invitation.AcceptedAt is not null)
        {
            Fail.FailedPrecondition("The invitation has been accepted already.", Rule("invitation_accepted"));
        }

        if (invitation.DeclinedAt is not null)
        {
            Fail.FailedPrecondition("The invitation has been declined; ask for a new one.", Rule("invitation_declined"));
        }

        if (invitation.Expired)
        {
            Fail.FailedPrecondition("The invitation has expired; ask for a new one.", Rule("invitation_expired"));
        }
    }
}
