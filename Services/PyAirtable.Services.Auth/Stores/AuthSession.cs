using Npgsql;
using PyAirtable.Services.Infrastructure.Database;

namespace PyAirtable.Services.Auth.Stores;

/// <summary>
/// A connection of the platform pool and, for an RPC that writes, its transaction, with the stores of the auth schema:
/// the row locks an RPC takes (a refresh token, an API key's ancestry) hold until what they guard commits.
/// </summary>
internal sealed class AuthSession(NpgsqlConnection connection, NpgsqlTransaction? transaction) : DatabaseSession(connection, transaction)
{
    private AccountStore? _accounts;
    private SessionStore? _sessions;
    private ApiKeyStore? _apiKeys;
    private VerificationStore? _verifications;

    public AccountStore Accounts => _accounts ??= new(this);

    public SessionStore Sessions => _sessions ??= new(this);

    public ApiKeyStore ApiKeys => _apiKeys ??= new(this);

    public VerificationStore Verifications => _verifications ??= new(this);

    /// <summary>A session without a transaction, for RPCs that only read (or write one statement).</summary>
    public static Task<AuthSession> OpenAsync(NpgsqlDataSource dataSource, CancellationToken ct) =>
        OpenAsync(dataSource, write: false, (c, t) => new AuthSession(c, t), ct);

    /// <summary>A session in a transaction: what an RPC locks and writes, its revocations and its outbox event commit together.</summary>
    public static Task<AuthSession> BeginAsync(NpgsqlDataSource dataSource, CancellationToken ct) =>
        OpenAsync(dataSource, write: true, (c, t) => new AuthSession(c, t), ct);
}
