using Dapper;
using PyAirtable.Contracts.Permissions;

namespace PyAirtable.Services.Permissions.Stores;

/// <summary>Invitations (permissions.invitations): addressed to a user id or an e-mail address, accepted, declined or expired.</summary>
internal sealed class InvitationStore(PermissionSession session)
{
    private const string Columns =
        """
        id AS Id, workspace_id AS WorkspaceId, email AS Email, invitee_id AS InviteeId, level AS Level, invited_by AS InvitedBy,
        created_at AS CreatedAt, accepted_at AS AcceptedAt, declined_at AS DeclinedAt, expires_at AS ExpiresAt,
        expires_at <= now() AS Expired
        """;

    /// <summary>Addressed to the user by id, or to the address they verified; neither accepted, declined nor expired.</summary>
    private const string Pending =
        "(invitee_id = @user OR email = @email) AND accepted_at IS NULL AND declined_at IS NULL AND expires_at > now()";

    /// <summary>How many invitations <paramref name="inviter"/> sent in the last hour, and when the oldest of them was.</summary>
    public Task<(long Sent, DateTime? Oldest)> SentInLastHourAsync(Guid inviter, CancellationToken ct) =>
        session.Connection.QuerySingleAsync<(long Sent, DateTime? Oldest)>(new CommandDefinition(
            """
            SELECT count(*), min(created_at) FROM permissions.invitations
             WHERE invited_by = @by AND created_at > now() - interval '1 hour'
            """,
            new { by = inviter }, session.Transaction, cancellationToken: ct));

    public Task<InvitationRow> InsertAsync(
        Guid id, Guid workspace, string? email, Guid? invitee, PermissionLevel level, Guid inviter, CancellationToken ct) =>
        session.Connection.QuerySingleAsync<InvitationRow>(new CommandDefinition(
            $"""
            INSERT INTO permissions.invitations (id, workspace_id, email, invitee_id, level, invited_by)
            VALUES (@id, @workspace, @email, @invitee, @level, @by)
            RETURNING {Columns}
            """, new { id, workspace, email, invitee, level = (short)level, by = inviter }, session.Transaction, cancellationToken: ct));

    /// <summary>The invitation locked FOR UPDATE (an acceptance and a decline of it queue up), or null.</summary>
    public Task<InvitationRow?> LockAsync(Guid id, CancellationToken ct) =>
        session.Connection.QuerySingleOrDefaultAsync<InvitationRow?>(new CommandDefinition(
            $"SELECT {Columns} FROM permissions.invitations WHERE id = @id FOR UPDATE", new { id },
            session.Transaction, cancellationToken: ct));

    public Task MarkAcceptedAsync(Guid id, Guid user, CancellationToken ct) =>
        session.Connection.ExecuteAsync(new CommandDefinition(
            "UPDATE permissions.invitations SET accepted_at = now(), accepted_by = @user WHERE id = @id", new { id, user },
            session.Transaction, cancellationToken: ct));

    public Task<InvitationRow> MarkDeclinedAsync(Guid id, CancellationToken ct) =>
        session.Connection.QuerySingleAsync<InvitationRow>(new CommandDefinition(
            $"UPDATE permissions.invitations SET declined_at = now() WHERE id = @id RETURNING {Columns}", new { id },
            session.Transaction, cancellationToken: ct));

    /// <summary>Pending invitations of a user, newest first, before <paramref name="before"/> (an id; null for the first page).</summary>
    public async Task<List<InvitationRow>> ListPendingAsync(Guid user, string? email, Guid? before, int limit, CancellationToken ct) =>
        (await session.Connection.QueryAsync<InvitationRow>(new CommandDefinition(
            $"""
            SELECT {Columns} FROM permissions.invitations
             WHERE {Pending} AND (@before::uuid IS NULL OR id < @before) ORDER BY id DESC LIMIT @limit
            """,
            new { user, email, before, limit }, session.Transaction, cancellationToken: ct))).ToList();

    public Task<long> CountPendingAsync(Guid user, string? email, CancellationToken ct) =>
        session.Connection.ExecuteScalarAsync<long>(new CommandDefinition(
            $"SELECT count(*) FROM permissions.invitations WHERE {Pending}", new { user, email },
            session.Transaction, cancellationToken: ct));
}

/// <summary>A row of permissions.invitations, with whether it has expired by the database's clock.</summary>
internal sealed record InvitationRow
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
