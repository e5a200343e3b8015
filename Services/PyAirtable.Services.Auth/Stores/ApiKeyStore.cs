using Dapper;
using PyAirtable.Contracts.Auth;

namespace PyAirtable.Services.Auth.Stores;

/// <summary>API keys (auth.api_keys): a user's, kept as a SHA-256 hash, each minted by a session or by another key (its parent).</summary>
internal sealed class ApiKeyStore(AuthSession session)
{
    private const string Columns =
        """
        id AS Id, name AS Name, prefix AS Prefix, scopes AS Scopes, created_at AS CreatedAt,
        last_used_at AS LastUsedAt, expires_at AS ExpiresAt, revoked_at AS RevokedAt
        """;

    /// <summary>When the key expires; null when it does not (or does not exist).</summary>
    public Task<DateTime?> ExpiryOfAsync(Guid keyId, CancellationToken ct) =>
        session.Connection.ExecuteScalarAsync<DateTime?>(new CommandDefinition(
            "SELECT expires_at FROM auth.api_keys WHERE id = @keyId", new { keyId }, session.Transaction, cancellationToken: ct));

    /// <summary>
    /// Locks the minting key and every key above it FOR SHARE, and says whether all are live. A concurrent
    /// RevokeApiKey of any of them either committed first (the lock then reads the row revoked: no child is
    /// made) or waits for this transaction, after which its descendant sweep — a later statement, with a new
    /// snapshot — sees the child and revokes it too. Either way no key outlives a revoked ancestor.
    /// </summary>
    public async Task<bool> LockLiveAncestryAsync(Guid keyId, CancellationToken ct)
    {
        var ancestry = (await session.Connection.QueryAsync<Guid>(new CommandDefinition(
            """
            WITH RECURSIVE chain AS (
                SELECT id, parent_key_id FROM auth.api_keys WHERE id = @keyId
                UNION
                SELECT k.id, k.parent_key_id FROM auth.api_keys k JOIN chain c ON k.id = c.parent_key_id
            )
            SELECT id FROM chain
            """, new { keyId }, session.Transaction, cancellationToken: ct))).ToArray();
        var live = (await session.Connection.QueryAsync<Guid>(new CommandDefinition(
            "SELECT id FROM auth.api_keys WHERE id = ANY(@ancestry) AND revoked_at IS NULL ORDER BY id FOR SHARE",
            new { ancestry }, session.Transaction, cancellationToken: ct))).Count();
        return ancestry.Length > 0 && live == ancestry.Length;
    }

    /// <summary>Stores a new key of <paramref name="userId"/> (<paramref name="parentKeyId"/>: the key that made it); when it was made.</summary>
    public Task<DateTime> InsertAsync(Guid id, Guid userId, ApiKey key, byte[] secretHash, Guid? parentKeyId, CancellationToken ct) =>
        session.Connection.QuerySingleAsync<DateTime>(new CommandDefinition(
            """
            INSERT INTO auth.api_keys (id, user_id, name, prefix, secret_hash, scopes, expires_at, parent_key_id)
            VALUES (@id, @userId, @Name, @Prefix, @hash, @scopes, @ExpiresAt, @parentKeyId)
            RETURNING created_at
            """, new { id, userId, key.Name, key.Prefix, hash = secretHash, scopes = key.Scopes.ToArray(), key.ExpiresAt, parentKeyId },
            session.Transaction, cancellationToken: ct));

    /// <summary>A user's keys, newest first, after (<paramref name="afterCreated"/>, <paramref name="afterId"/>) when given.</summary>
    public async Task<List<ApiKeyRow>> ListAsync(Guid userId, DateTime? afterCreated, Guid? afterId, int limit, CancellationToken ct) =>
        (await session.Connection.QueryAsync<ApiKeyRow>(new CommandDefinition(
            $"""
            SELECT {Columns}
              FROM auth.api_keys
             WHERE user_id = @userId AND (@afterId::uuid IS NULL OR (created_at, id) < (@afterCreated, @afterId))
             ORDER BY created_at DESC, id DESC
             LIMIT @limit
            """, new { userId, afterCreated, afterId, limit }, session.Transaction, cancellationToken: ct))).ToList();

    public Task<long> CountAsync(Guid userId, CancellationToken ct) =>
        session.Connection.ExecuteScalarAsync<long>(new CommandDefinition(
            "SELECT count(*) FROM auth.api_keys WHERE user_id = @userId", new { userId }, session.Transaction, cancellationToken: ct));

    /// <summary>Revokes the user's key (a revoked key keeps its first revocation time); null when the user has no such key.</summary>
    public Task<ApiKeyRow?> RevokeAsync(Guid id, Guid userId, CancellationToken ct) =>
        session.Connection.QuerySingleOrDefaultAsync<ApiKeyRow?>(new CommandDefinition(
            $"""
            UPDATE auth.api_keys SET revoked_at = coalesce(revoked_at, now())
             WHERE id = @id AND user_id = @userId
            RETURNING {Columns}
            """, new { id, userId }, session.Transaction, cancellationToken: ct));

    /// <summary>Revokes every key minted by the key, and by those, down the tree; their ids.</summary>
    public async Task<List<Guid>> RevokeDescendantsAsync(Guid id, CancellationToken ct) =>
        (await session.Connection.QueryAsync<Guid>(new CommandDefinition(
            """
            WITH RECURSIVE tree AS (
                SELECT id FROM auth.api_keys WHERE parent_key_id = @id
                UNION
                SELECT k.id FROM auth.api_keys k JOIN tree t ON k.parent_key_id = t.id
            )
            UPDATE auth.api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE id IN (SELECT id FROM tree) RETURNING id
            """, new { id }, session.Transaction, cancellationToken: ct))).ToList();

    /// <summary>The key with that secret and what its account says now, or null.</summary>
    public Task<ApiKeyAuthRow?> FindBySecretAsync(byte[] secretHash, CancellationToken ct) =>
        session.Connection.QuerySingleOrDefaultAsync<ApiKeyAuthRow?>(new CommandDefinition(
            """
            SELECT k.id AS Id, k.user_id AS UserId, k.scopes AS Scopes, k.expires_at AS ExpiresAt, k.revoked_at AS RevokedAt,
                   k.last_used_at AS LastUsedAt, c.email AS Email, c.roles AS Roles, c.disabled_at AS DisabledAt,
                   c.email_verified_at IS NOT NULL AS EmailVerified
              FROM auth.api_keys k JOIN auth.credentials c ON c.user_id = k.user_id
             WHERE k.secret_hash = @hash
            """, new { hash = secretHash }, session.Transaction, cancellationToken: ct));

    public Task MarkUsedAsync(Guid id, CancellationToken ct) =>
        session.Connection.ExecuteAsync(new CommandDefinition(
            "UPDATE auth.api_keys SET last_used_at = now() WHERE id = @id", new { id }, session.Transaction, cancellationToken: ct));
}

/// <summary>A row of auth.api_keys as its owner sees it (never the secret).</summary>
internal sealed record ApiKeyRow
{
    public Guid Id { get; init; }
    public string Name { get; init; } = "";
    public string Prefix { get; init; } = "";
    public string[] Scopes { get; init; } = [];
    public DateTime CreatedAt { get; init; }
    public DateTime? LastUsedAt { get; init; }
    public DateTime? ExpiresAt { get; init; }
    public DateTime? RevokedAt { get; init; }

    public ApiKey ToContract() => new()
    {
        Id = Id.ToString(),
        Name = Name,
        Prefix = Prefix,
        Scopes = [.. Scopes],
        CreatedAt = CreatedAt,
        LastUsedAt = LastUsedAt,
        ExpiresAt = ExpiresAt,
        RevokedAt = RevokedAt,
    };
}

/// <summary>An API key with what its account says now, to validate a call made with it.</summary>
internal sealed record ApiKeyAuthRow
{
    public Guid Id { get; init; }
    public Guid UserId { get; init; }
    public string[] Scopes { get; init; } = [];
    public DateTime? ExpiresAt { get; init; }
    public DateTime? RevokedAt { get; init; }
    public DateTime? LastUsedAt { get; init; }
    public string Email { get; init; } = "";
    public string[] Roles { get; init; } = [];
    public DateTime? DisabledAt { get; init; }
    public bool EmailVerified { get; init; }
}
