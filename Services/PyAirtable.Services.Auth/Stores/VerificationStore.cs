using Dapper;

namespace PyAirtable.Services.Auth.Stores;

/// <summary>E-mail verification codes (auth.email_verifications, one pending per account) and the verified mark on the account.</summary>
internal sealed class VerificationStore(AuthSession session)
{
    /// <summary>The account's address and whether it is verified; null when there is no such account.</summary>
    public Task<(string Email, bool Verified)?> AccountEmailAsync(Guid userId, CancellationToken ct) =>
        session.Connection.QuerySingleOrDefaultAsync<(string Email, bool Verified)?>(new CommandDefinition(
            "SELECT email, email_verified_at IS NOT NULL FROM auth.credentials WHERE user_id = @userId", new { userId },
            session.Transaction, cancellationToken: ct));

    /// <summary>Stores a new code for the account (replacing a pending one, its failed tries forgotten); when it expires.</summary>
    public Task<DateTime> ReplaceCodeAsync(Guid userId, string email, byte[] codeHash, TimeSpan lifetime, CancellationToken ct) =>
        session.Connection.QuerySingleAsync<DateTime>(new CommandDefinition(
            """
            INSERT INTO auth.email_verifications (user_id, email, code_hash, expires_at) VALUES (@userId, @email, @hash, now() + @lifetime)
            ON CONFLICT (user_id) DO UPDATE SET email = excluded.email, code_hash = excluded.code_hash, created_at = now(),
                   expires_at = excluded.expires_at, failed_attempts = 0, consumed_at = NULL
            RETURNING expires_at
            """, new { userId, email, hash = codeHash, lifetime }, session.Transaction, cancellationToken: ct));

    /// <summary>
    /// The account with its pending code (if any), the account locked FOR UPDATE so two tries of one code queue up;
    /// null when there is no such account.
    /// </summary>
    public Task<PendingCode?> LockAsync(Guid userId, CancellationToken ct) =>
        session.Connection.QuerySingleOrDefaultAsync<PendingCode?>(new CommandDefinition(
            """
            SELECT v.email AS Email, v.code_hash AS CodeHash, v.expires_at <= now() AS Expired, v.failed_attempts AS FailedAttempts,
                   v.consumed_at IS NOT NULL AS Consumed, c.email AS AccountEmail, c.email_verified_at AS VerifiedAt, c.roles AS Roles
              FROM auth.credentials c LEFT JOIN auth.email_verifications v ON v.user_id = c.user_id
             WHERE c.user_id = @userId
               FOR UPDATE OF c
            """, new { userId }, session.Transaction, cancellationToken: ct));

    /// <summary>Counts a wrong try of the pending code; how many there have been.</summary>
    public Task<int> CountFailureAsync(Guid userId, CancellationToken ct) =>
        session.Connection.ExecuteScalarAsync<int>(new CommandDefinition(
            "UPDATE auth.email_verifications SET failed_attempts = failed_attempts + 1 WHERE user_id = @userId RETURNING failed_attempts",
            new { userId }, session.Transaction, cancellationToken: ct));

    /// <summary>Spends the pending code and marks the account's address verified; when.</summary>
    public Task<DateTime> MarkVerifiedAsync(Guid userId, CancellationToken ct) =>
        session.Connection.QuerySingleAsync<DateTime>(new CommandDefinition(
            """
            UPDATE auth.email_verifications SET consumed_at = now() WHERE user_id = @userId;
            UPDATE auth.credentials SET email_verified_at = now(), updated_at = now() WHERE user_id = @userId RETURNING email_verified_at;
            """, new { userId }, session.Transaction, cancellationToken: ct));
}

/// <summary>An account with the code pending for it (the code's fields are empty when there is none).</summary>
internal sealed record PendingCode
{
    public string Email { get; init; } = "";
    public byte[]? CodeHash { get; init; }
    public bool Expired { get; init; }
    public int FailedAttempts { get; init; }
    public bool Consumed { get; init; }
    public string AccountEmail { get; init; } = "";
    public DateTime? VerifiedAt { get; init; }
    public string[] Roles { get; init; } = [];
}
