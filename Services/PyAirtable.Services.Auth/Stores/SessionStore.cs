using Dapper;

namespace PyAirtable.Services.Auth.Stores;

/// <summary>Sessions (auth.sessions) and their refresh tokens (auth.refresh_tokens), kept as SHA-256 hashes and used once.</summary>
internal sealed class SessionStore(AuthSession session)
{
    /// <summary>Starts a session with its first refresh token; both expire at <paramref name="expiresAt"/>.</summary>
    public Task StartAsync(Guid sessionId, Guid userId, DateTime expiresAt, byte[] refreshHash, CancellationToken ct) =>
        session.Connection.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO auth.sessions (id, user_id, expires_at) VALUES (@sessionId, @userId, @expiresAt);
            INSERT INTO auth.refresh_tokens (token_hash, session_id, expires_at) VALUES (@refreshHash, @sessionId, @expiresAt);
            """, new { sessionId, userId, expiresAt, refreshHash }, session.Transaction, cancellationToken: ct));

    /// <summary>
    /// The refresh token with its session and account, the token and the session locked FOR UPDATE so two refreshes
    /// with one token queue up (the second then sees it used); null for an unknown token.
    /// </summary>
    public Task<RefreshRow?> LockRefreshTokenAsync(byte[] hash, CancellationToken ct) =>
        session.Connection.QuerySingleOrDefaultAsync<RefreshRow?>(new CommandDefinition(
            """
            SELECT rt.session_id AS SessionId, rt.expires_at AS ExpiresAt, rt.used_at AS UsedAt, s.revoked_at AS RevokedAt,
                   c.user_id AS UserId, c.email AS Email, c.roles AS Roles, c.disabled_at AS DisabledAt,
                   c.email_verified_at IS NOT NULL AS EmailVerified
              FROM auth.refresh_tokens rt
              JOIN auth.sessions s ON s.id = rt.session_id
              JOIN auth.credentials c ON c.user_id = s.user_id
             WHERE rt.token_hash = @hash
               FOR UPDATE OF rt, s
            """, new { hash }, session.Transaction, cancellationToken: ct));

    /// <summary>Spends the refresh token and gives its session a new one, both lasting until <paramref name="expiresAt"/>.</summary>
    public Task RotateRefreshTokenAsync(byte[] hash, byte[] newHash, Guid sessionId, DateTime expiresAt, CancellationToken ct) =>
        session.Connection.ExecuteAsync(new CommandDefinition(
            """
            UPDATE auth.refresh_tokens SET used_at = now() WHERE token_hash = @hash;
            INSERT INTO auth.refresh_tokens (token_hash, session_id, expires_at) VALUES (@newHash, @sessionId, @expiresAt);
            UPDATE auth.sessions SET expires_at = @expiresAt WHERE id = @sessionId;
            """, new { hash, newHash, sessionId, expiresAt }, session.Transaction, cancellationToken: ct));

    /// <summary>The session of a refresh token and its user, or null for an unknown token.</summary>
    public Task<(Guid SessionId, Guid UserId)?> FindByRefreshTokenAsync(byte[] hash, CancellationToken ct) =>
        session.Connection.QuerySingleOrDefaultAsync<(Guid SessionId, Guid UserId)?>(new CommandDefinition(
            "SELECT s.id, s.user_id FROM auth.refresh_tokens rt JOIN auth.sessions s ON s.id = rt.session_id WHERE rt.token_hash = @hash",
            new { hash }, session.Transaction, cancellationToken: ct));

    /// <summary>Ends the session (once: the first reason stays).</summary>
    public Task RevokeAsync(Guid sessionId, string reason, CancellationToken ct) =>
        session.Connection.ExecuteAsync(new CommandDefinition(
            "UPDATE auth.sessions SET revoked_at = now(), revoked_reason = @reason WHERE id = @sessionId AND revoked_at IS NULL",
            new { sessionId, reason }, session.Transaction, cancellationToken: ct));
}

/// <summary>A refresh token with its session and account.</summary>
internal sealed record RefreshRow
{
    public Guid SessionId { get; init; }
    public DateTime ExpiresAt { get; init; }
    public DateTime? UsedAt { get; init; }
    public DateTime? RevokedAt { get; init; }
    public Guid UserId { get; init; }
    public string Email { get; init; } = "";
    public string[] Roles { get; init; } = [];
    public DateTime? DisabledAt { get; init; }
    public bool EmailVerified { get; init; }
}
