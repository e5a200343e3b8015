using Dapper;
using Npgsql;
using PyAirtable.Contracts.Auth;
using PyAirtable.Contracts.Common;
using PyAirtable.Contracts.Permissions;
using PyAirtable.Services.Infrastructure.Errors;
using PyAirtable.Services.Infrastructure.Identity;
using PyAirtable.Services.Infrastructure.Pagination;
using CallContext = ProtoBuf.Grpc.CallContext;

namespace PyAirtable.Services.Permissions;

/// <summary>
/// Membership by consent: the only way into a workspace one did not create is accepting an invitation
/// (addressed to a user id or an e-mail address) with a verified e-mail address; every member can leave.
/// Grant and AssignRole only adjust people already in the workspace (<see cref="EnsureMemberAsync"/>).
/// </summary>
public sealed partial class PermissionService
{
    private const string InvitationColumns =
        """
        id AS Id, workspace_id AS WorkspaceId, email AS Email, invitee_id AS InviteeId, level AS Level, invited_by AS InvitedBy,
        created_at AS CreatedAt, accepted_at AS AcceptedAt, declined_at AS DeclinedAt, expires_at AS ExpiresAt, expires_at <= now() AS Expired
        """;

    /// <summary>Invitations one person may send in an hour (AddMember included).</summary>
    internal const int MaxInvitationsPerHour = 100;

    [RequiresScope(Scopes.WorkspacesWrite)]
    public async ValueTask<CreateInvitationResponse> CreateInvitationAsync(CreateInvitationRequest request, CallContext context = default)
    {
        var caller = context.RequireUser(Scopes.WorkspacesWrite, UsersOnly);
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
        var ct = context.CancellationToken;
        await using var connection = await db.OpenConnectionAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        await RequireAsync(connection, tx, caller, (ResourceType.Workspace, workspace), PermissionLevel.Owner, "inviting to it", ct);
        if (!await HoldsOwnerGrantAsync(connection, tx, workspace, Guid.Parse(caller.UserId), ct))
        {
            // An invitation is only as good as its inviter's ownership, re-checked at acceptance.
            Fail.PermissionDenied("Invitations are sent by owners of the workspace; operators add members directly.");
        }

        // Inviting costs the inviter nothing and fills someone else's list: at most MaxInvitationsPerHour an hour
        // (counted in PostgreSQL, so every host agrees and a Redis restart does not reset it).
        var (sent, oldest) = await connection.QuerySingleAsync<(long Sent, DateTime? Oldest)>(new CommandDefinition(
            "SELECT count(*), min(created_at) FROM permissions.invitations WHERE invited_by = @by AND created_at > now() - interval '1 hour'",
            new { by = Guid.Parse(caller.UserId) }, tx, cancellationToken: ct));
        if (sent >= MaxInvitationsPerHour)
        {
            var retry = oldest is { } first ? first.AddHours(1) - DateTime.UtcNow : TimeSpan.FromMinutes(1);
            throw new PlatformException(ErrorCode.ResourceExhausted, $"At most {MaxInvitationsPerHour} invitations an hour are sent by one person.",
                new Dictionary<string, string> { ["limit"] = "invitations_per_hour" }) { RetryAfter = retry > TimeSpan.Zero ? retry : TimeSpan.FromSeconds(1) };
        }

        var id = Guid.CreateVersion7();
        var row = await connection.QuerySingleAsync<InvitationRow>(new CommandDefinition(
            $"""
            INSERT INTO permissions.invitations (id, workspace_id, email, invitee_id, level, invited_by) VALUES (@id, @workspace, @email, @invitee, @level, @by)
            RETURNING {InvitationColumns}
            """, new { id, workspace, email, invitee, level = (short)request.Level, by = Guid.Parse(caller.UserId) }, tx, cancellationToken: ct));
        await NextTokenAsync(connection, tx, ct);
        await tx.CommitAsync(ct);
        return new CreateInvitationResponse { Invitation = row.ToContract() };
    }

    [RequiresScope(Scopes.WorkspacesWrite)]
    public async ValueTask<AcceptInvitationResponse> AcceptInvitationAsync(AcceptInvitationRequest request, CallContext context = default)
    {
        var caller = context.RequireUser(Scopes.WorkspacesWrite, UsersOnly);
        var id = Validation.Id("invitation_id", request.InvitationId);
        var ct = context.CancellationToken;
        await using var connection = await db.OpenConnectionAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        var invitation = await ReadOwnInvitationAsync(connection, tx, caller, id, request.InvitationId, ct);
        if (!caller.EmailVerified)
        {
            // Consent is only worth something from an account whose owner is known to read its mail.
            Fail.FailedPrecondition("Verify your e-mail address before joining a workspace: call AuthService.SendVerificationEmail and VerifyEmail, " +
                "then use the access token VerifyEmail returns (or Refresh).", Rule("email_unverified"));
        }

        EnsurePending(invitation);

        // Only as good as the inviter's rights now: an owner who was removed cannot still bring people in. The
        // grant is locked so a concurrent demotion waits for this acceptance (or this one sees it).
        if (!await HoldsOwnerGrantAsync(connection, tx, invitation.WorkspaceId, invitation.InvitedBy, ct))
        {
            Fail.FailedPrecondition("Whoever invited you can no longer add members; ask an owner for a new invitation.", Rule("inviter_not_owner"));
        }

        var user = Guid.Parse(caller.UserId);
        // Never lowers what the user has already: accepting a read invitation as an owner keeps owner.
        var granted = await connection.QuerySingleAsync<(short Level, DateTime GrantedAt)>(new CommandDefinition(
            """
            INSERT INTO permissions.grants (resource_type, resource_id, user_id, level, granted_by)
            VALUES (@type, @workspace, @user, @level, @by)
            ON CONFLICT (resource_type, resource_id, user_id) DO UPDATE SET level = greatest(permissions.grants.level, excluded.level)
            RETURNING level, granted_at
            """, new { type = (short)ResourceType.Workspace, workspace = invitation.WorkspaceId, user, level = invitation.Level, by = invitation.InvitedBy.ToString() },
            tx, cancellationToken: ct));
        await connection.ExecuteAsync(new CommandDefinition(
            "UPDATE permissions.invitations SET accepted_at = now(), accepted_by = @user WHERE id = @id", new { id, user }, tx, cancellationToken: ct));
        var token = await NextTokenAsync(connection, tx, ct);
        await tx.CommitAsync(ct);
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
        var caller = context.RequireUser(Scopes.WorkspacesRead, UsersOnly);
        var user = Guid.Parse(caller.UserId);
        // Invitations to an address reach its account only once the account proved it reads that address.
        var email = caller.EmailVerified && caller.Email.Length > 0 ? Validation.NormalizeEmail(caller.Email) : null;
        var scope = $"permissions.my-invitations:{user}:{email}";
        var page = PageRequest.From(request.Pagination, cursors, scope, defaultPageSize: 50, maxPageSize: 500);
        var before = page.After is { Count: 1 } a ? Guid.Parse(a[0]) : (Guid?)null;
        const string Pending = "(invitee_id = @user OR email = @email) AND accepted_at IS NULL AND declined_at IS NULL AND expires_at > now()";
        var ct = context.CancellationToken;
        await using var connection = await db.OpenConnectionAsync(ct);
        var rows = (await connection.QueryAsync<InvitationRow>(new CommandDefinition(
            $"SELECT {InvitationColumns} FROM permissions.invitations WHERE {Pending} AND (@before::uuid IS NULL OR id < @before) ORDER BY id DESC LIMIT @limit",
            new { user, email, before, limit = page.PageSize + 1 }, cancellationToken: ct))).ToList();
        var total = await connection.ExecuteScalarAsync<long>(new CommandDefinition(
            $"SELECT count(*) FROM permissions.invitations WHERE {Pending}", new { user, email }, cancellationToken: ct));
        var (items, pagination) = page.Complete(rows, total, r => [r.Id.ToString()], cursors, scope);
        return new ListMyInvitationsResponse { Invitations = items.Select(r => r.ToContract()).ToList(), Pagination = pagination };
    }

    [RequiresScope(Scopes.WorkspacesWrite)]
    public async ValueTask<DeclineInvitationResponse> DeclineInvitationAsync(DeclineInvitationRequest request, CallContext context = default)
    {
        var caller = context.RequireUser(Scopes.WorkspacesWrite, UsersOnly);
        var id = Validation.Id("invitation_id", request.InvitationId);
        var ct = context.CancellationToken;
        await using var connection = await db.OpenConnectionAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        var invitation = await ReadOwnInvitationAsync(connection, tx, caller, id, request.InvitationId, ct);
        if (invitation.Email is not null && !caller.EmailVerified)
        {
            Fail.NotFound("invitation", request.InvitationId); // as for listing: an address is yours once verified
        }

        EnsurePending(invitation);
        var row = await connection.QuerySingleAsync<InvitationRow>(new CommandDefinition(
            $"UPDATE permissions.invitations SET declined_at = now() WHERE id = @id RETURNING {InvitationColumns}", new { id }, tx, cancellationToken: ct));
        await tx.CommitAsync(ct);
        return new DeclineInvitationResponse { Invitation = row.ToContract() };
    }

    [RequiresScope(Scopes.WorkspacesWrite)]
    public async ValueTask<ResignMembershipResponse> ResignMembershipAsync(ResignMembershipRequest request, CallContext context = default)
    {
        var caller = context.RequireUser(Scopes.WorkspacesWrite, UsersOnly);
        var workspace = Validation.Id("workspace_id", request.WorkspaceId);
        var user = Guid.Parse(caller.UserId);
        var ct = context.CancellationToken;
        await using var connection = await db.OpenConnectionAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        await LockMembershipAsync(connection, tx, workspace, user, ct);
        if (!await IsMemberAsync(connection, tx, workspace, user, ct))
        {
            Fail.NotFound("workspace", workspace.ToString()); // not a member: nothing of it is visible to you
        }

        await EnsureNotLastOwnerAsync(connection, tx, (ResourceType.Workspace, workspace), user, ct);
        var removed = await connection.ExecuteAsync(new CommandDefinition(
            """
            DELETE FROM permissions.grants g USING permissions.resources r
             WHERE r.type = g.resource_type AND r.id = g.resource_id AND r.workspace_id = @workspace AND g.user_id = @user;
            DELETE FROM permissions.role_assignments WHERE workspace_id = @workspace AND user_id = @user;
            """, new { workspace, user }, tx, cancellationToken: ct));
        var token = await NextTokenAsync(connection, tx, ct);
        await tx.CommitAsync(ct);
        return new ResignMembershipResponse { ConsistencyToken = token, Removed = removed > 0 };
    }

    /// <summary>
    /// Refuses (FAILED_PRECONDITION) to give anything in a workspace to a user who is not in it: joining needs
    /// their consent (an accepted invitation). Operators and the platform's services may still add people directly.
    /// </summary>
    private static async Task EnsureMemberAsync(NpgsqlConnection connection, NpgsqlTransaction tx, UserContext caller, Guid workspace, Guid user, CancellationToken ct)
    {
        await LockMembershipAsync(connection, tx, workspace, user, ct);
        if (caller.IsPrivileged() || await IsMemberAsync(connection, tx, workspace, user, ct))
        {
            return;
        }

        Fail.FailedPrecondition("The user is not a member of the workspace, and nobody joins a workspace without consent: invite them " +
            "(WorkspaceService.AddMember or CreateInvitation); once they accept, change their level.", Rule("not_a_member"));
    }

    /// <summary>
    /// Serializes "is this user in the workspace?" decisions with leaving it, until the transaction ends: without it a
    /// Grant that checked membership could commit after the user left, putting them back in without consent.
    /// </summary>
    private static Task<int> LockMembershipAsync(NpgsqlConnection connection, NpgsqlTransaction tx, Guid workspace, Guid user, CancellationToken ct) =>
        connection.ExecuteAsync(new CommandDefinition(
            "SELECT pg_advisory_xact_lock(hashtextextended(@key, 0))", new { key = $"membership:{workspace:N}:{user:N}" }, tx, cancellationToken: ct));

    /// <summary>In the workspace: a grant of read or more on anything in it, or a role in it (the same rule as sharing a workspace).</summary>
    private static async Task<bool> IsMemberAsync(NpgsqlConnection connection, NpgsqlTransaction tx, Guid workspace, Guid user, CancellationToken ct) =>
        await connection.ExecuteScalarAsync<bool>(new CommandDefinition(
            """
            SELECT EXISTS (SELECT 1 FROM permissions.grants g JOIN permissions.resources r ON r.type = g.resource_type AND r.id = g.resource_id
                            WHERE r.workspace_id = @workspace AND g.user_id = @user AND g.level >= @read)
                OR EXISTS (SELECT 1 FROM permissions.role_assignments WHERE workspace_id = @workspace AND user_id = @user)
            """, new { workspace, user, read = (short)PermissionLevel.Read }, tx, cancellationToken: ct));

    /// <summary>The invitation, locked, if it is addressed to the caller (by id or by address); NOT_FOUND otherwise.</summary>
    private static async Task<InvitationRow> ReadOwnInvitationAsync(
        NpgsqlConnection connection, NpgsqlTransaction tx, UserContext caller, Guid id, string rawId, CancellationToken ct)
    {
        var row = await connection.QuerySingleOrDefaultAsync<InvitationRow>(new CommandDefinition(
            $"SELECT {InvitationColumns} FROM permissions.invitations WHERE id = @id FOR UPDATE", new { id }, tx, cancellationToken: ct));
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

    private static Dictionary<string, string> Rule(string rule) => new() { ["rule"] = rule };

    private sealed record InvitationRow
    {
        public Guid Id { get; init; }
        public Guid WorkspaceId { get; init; }
        public string? Email { get; init; }
        public Guid? InviteeId { get; init; }
        public short Level { get; init; }
        public Guid InvitedBy { get; init; }
        public DateTime CreatedAt { get; init; }
        public DateTime? AcceptedAt { get; init; }
        public DateTime? DeclinedAt { get; init; }
        public DateTime ExpiresAt { get; init; }
        public bool Expired { get; init; }

        public Invitation ToContract() => new()
        {
            Id = Id.ToString(),
            WorkspaceId = WorkspaceId.ToString(),
            Email = Email ?? "",
            UserId = InviteeId?.ToString() ?? "",
            Level = (PermissionLevel)Level,
            InvitedBy = InvitedBy.ToString(),
            CreatedAt = Utc(CreatedAt),
            AcceptedAt = AcceptedAt is { } a ? Utc(a) : null,
            DeclinedAt = DeclinedAt is { } d ? Utc(d) : null,
            ExpiresAt = Utc(ExpiresAt),
        };

        private static DateTime Utc(DateTime t) => DateTime.SpecifyKind(t, DateTimeKind.Utc);
    }
}
