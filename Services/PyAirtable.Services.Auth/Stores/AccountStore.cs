using Dapper;

namespace PyAirtable.Services.Auth.Stores;

/// <summary>Accounts (auth.credentials): an e-mail address, a password hash, platform roles, and whether it is disabled.</summary>
internal sealed class AccountStore(AuthSession session)
{
    /// <summary>False when an account already has the address.</summary>
    public async Task<bool> InsertAsync(Guid userId, string email, string passwordHash, CancellationToken ct) =>
        await session.Connection.ExecuteAsync(new CommandDefinition(
            "INSERT INTO auth.credentials (user_id, email, password_hash) VALUES (@userId, @email, @hash) ON CONFLICT (email) DO NOTHING",
            new { userId, email, hash = passwordHash }, session.Transaction, cancellationToken: ct)) > 0;

    public Task DeleteAsync(Guid userId, CancellationToken ct) =>
        session.Connection.ExecuteAsync(new CommandDefinition(
            "DELETE FROM auth.credentials WHERE user_id = @userId", new { userId }, session.Transaction, cancellationToken: ct));

    public Task<AccountRow?> FindByEmailAsync(string email, CancellationToken ct) =>
        session.Connection.QuerySingleOrDefaultAsync<AccountRow?>(new CommandDefinition(
            """
            SELECT user_id AS UserId, email AS Email, password_hash AS PasswordHash, roles AS Roles, disabled_at AS DisabledAt,
                   email_verified_at IS NOT NULL AS EmailVerified
              FROM auth.credentials WHERE email = @email
            """,
            new { email }, session.Transaction, cancellationToken: ct));

    public Task UpdatePasswordHashAsync(Guid userId, string passwordHash, CancellationToken ct) =>
        session.Connection.ExecuteAsync(new CommandDefinition(
            "UPDATE auth.credentials SET password_hash = @hash, updated_at = now() WHERE user_id = @userId",
            new { hash = passwordHash, userId }, session.Transaction, cancellationToken: ct));

    /// <summary>Disables the account (logins refused from now on) and ends every session and API key of it.</summary>
    public Task DisableAsync(Guid userId, CancellationToken ct) =>
        session.Connection.ExecuteAsync(new CommandDefinition(
            """
            UPDATE auth.credentials SET disabled_at = coalesce(disabled_at, now()), updated_at = now() WHERE user_id = @userId;
            UPDATE auth.sessions SET revoked_at = now(), revoked_reason = 'user_deactivated' WHERE user_id = @userId AND revoked_at IS NULL;
            UPDATE auth.api_keys SET revoked_at = now() WHERE user_id = @userId AND revoked_at IS NULL;
            """, new { userId }, session.Transaction, cancellationToken: ct));
}

/// <summary>What a login needs of an account.</summary>
internal sealed record AccountRow
{
    public Guid UserId { get; init; }
    public string Email { get; init; } = "";
    public string PasswordHash { get; init; } = "";
    public string[] Roles { get; init; } = [];
    public DateTime? DisabledAt { get; init; }
    public bool EmailVerified { get; init; }
}
