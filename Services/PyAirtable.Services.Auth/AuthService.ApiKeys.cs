using Dapper;
using PyAirtable.Contracts.Auth;
using PyAirtable.Contracts.Common;
using PyAirtable.Services.Infrastructure.Errors;
using PyAirtable.Services.Infrastructure.Identity;
using PyAirtable.Contracts.Events;
using PyAirtable.Services.Infrastructure.Events;
using PyAirtable.Services.Infrastructure.Pagination;
using PyAirtable.Services.Infrastructure.Requests;
using PyAirtable.Services.Infrastructure.SharedState;
using CallContext = ProtoBuf.Grpc.CallContext;

namespace PyAirtable.Services.Auth;

public sealed partial class AuthService
{
    private const int MaxApiKeyScopes = 10;
    private const string ApiKeysAreUsers = "API keys belong to users; call with a user's credentials.";

    [RequiresScope(Scopes.ApiKeysManage)]
    public async ValueTask<CreateApiKeyResponse> CreateApiKeyAsync(CreateApiKeyRequest request, CallContext context = default)
    {
        var caller = context.RequireUser(ApiKeysAreUsers);
        var validator = new RequestValidator().Name("name", request.Name);
        var scopes = request.Scopes.Distinct(StringComparer.Ordinal).ToList();
        if (scopes.Count == 0 || scopes.Count > MaxApiKeyScopes)
        {
            validator.Add("scopes", $"must name 1 to {MaxApiKeyScopes} scopes");
        }

        for (var i = 0; i < request.Scopes.Count; i++)
        {
            if (!Scopes.Grantable.Contains(request.Scopes[i], StringComparer.Ordinal))
            {
                validator.Add($"scopes[{i}]", $"is not a scope; grantable scopes are {string.Join(", ", Scopes.Grantable)}");
            }
            else if (!caller.HasScope(request.Scopes[i]))
            {
                // A key cannot mint a key with more rights than itself.
                validator.Add($"scopes[{i}]", "is not held by the credentials creating the key");
            }
        }

        var now = _time.GetUtcNow().UtcDateTime;
        var ct = context.CancellationToken;
        if (request.ExpiresAt is { } expires && expires <= now)
        {
            validator.Add("expires_at", "must be in the future");
        }
        else if (caller.AuthMethod == AuthMethod.ApiKey && Guid.TryParse(caller.CredentialId, out var callerKeyId))
        {
            // A key cannot outlive the key that made it.
            await using var lookup = await _db.OpenConnectionAsync(ct);
            var callerExpires = await lookup.ExecuteScalarAsync<DateTime?>(new CommandDefinition(
                "SELECT expires_at FROM auth.api_keys WHERE id = @callerKeyId", new { callerKeyId }, cancellationToken: ct));
            if (callerExpires is { } limit && (request.ExpiresAt is null || request.ExpiresAt > limit))
            {
                validator.Add("expires_at", $"must be set and not after {limit:O}, when the API key making this call expires");
            }
        }

        validator.ThrowIfInvalid();
        var id = Guid.CreateVersion7();
        var (secret, hash) = TokenService.NewSecret(ApiKeyPrefix);
        var key = new ApiKey
        {
            Id = id.ToString(),
            Name = request.Name.Trim(),
            Prefix = secret[..VisiblePrefixLength],
            Scopes = scopes,
            ExpiresAt = request.ExpiresAt,
        };
        Guid? parentKeyId = caller.AuthMethod == AuthMethod.ApiKey && Guid.TryParse(caller.CredentialId, out var parent) ? parent : null;
        await using var connection = await _db.OpenConnectionAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        if (parentKeyId is { } parentId && !await LockLiveAncestryAsync(connection, tx, parentId, ct))
        {
            throw new PlatformException(ErrorCode.Unauthenticated, "The credentials have been revoked.", new Dictionary<string, string> { ["cause"] = "revoked" });
        }

        var created = await connection.QuerySingleAsync<DateTime>(new CommandDefinition(
            """
            INSERT INTO auth.api_keys (id, user_id, name, prefix, secret_hash, scopes, expires_at, parent_key_id)
            VALUES (@id, @userId, @Name, @Prefix, @hash, @scopes, @ExpiresAt, @parentKeyId)
            RETURNING created_at
            """, new { id, userId = Guid.Parse(caller.UserId), key.Name, key.Prefix, hash, scopes = scopes.ToArray(), key.ExpiresAt, parentKeyId },
            tx, cancellationToken: ct));

        key = key with { CreatedAt = created };
        await Outbox.EnqueueAsync(tx, new ApiKeyCreated
        {
            KeyId = key.Id, UserId = caller.UserId, Name = key.Name, Prefix = key.Prefix, Scopes = [.. key.Scopes], ExpiresAt = key.ExpiresAt,
        }, EventOrigin.Of<IAuthService>(context), ct);
        await tx.CommitAsync(ct);
        return new CreateApiKeyResponse { ApiKey = key, Secret = secret };
    }

    [RequiresScope(Scopes.ApiKeysManage)]
    public async ValueTask<ListApiKeysResponse> ListApiKeysAsync(ListApiKeysRequest request, CallContext context = default)
    {
        var caller = context.RequireUser(ApiKeysAreUsers);
        var scope = "auth.api_keys:" + caller.UserId;
        var page = PageRequest.From(request.Pagination, _cursors, scope, defaultPageSize: 50, maxPageSize: 200);
        var ct = context.CancellationToken;
        var userId = Guid.Parse(caller.UserId);
        DateTime? afterCreated = page.After is { Count: 2 } ? DateTime.Parse(page.After[0], System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.RoundtripKind) : null;
        Guid? afterId = page.After is { Count: 2 } ? Guid.Parse(page.After[1]) : null;
        await using var connection = await _db.OpenConnectionAsync(ct);
        var rows = (await connection.QueryAsync<ApiKeyRow>(new CommandDefinition(
            """
            SELECT id AS Id, name AS Name, prefix AS Prefix, scopes AS Scopes, created_at AS CreatedAt,
                   last_used_at AS LastUsedAt, expires_at AS ExpiresAt, revoked_at AS RevokedAt
              FROM auth.api_keys
             WHERE user_id = @userId AND (@afterId::uuid IS NULL OR (created_at, id) < (@afterCreated, @afterId))
             ORDER BY created_at DESC, id DESC
             LIMIT @limit
            """, new { userId, afterCreated, afterId, limit = page.PageSize + 1 }, cancellationToken: ct))).ToList();
        var total = await connection.ExecuteScalarAsync<long>(new CommandDefinition(
            "SELECT count(*) FROM auth.api_keys WHERE user_id = @userId", new { userId }, cancellationToken: ct));
        var (items, pagination) = page.Complete(rows, total,
            r => [r.CreatedAt.ToString("O", System.Globalization.CultureInfo.InvariantCulture), r.Id.ToString()], _cursors, scope);
        return new ListApiKeysResponse { ApiKeys = items.Select(r => r.ToContract()).ToList(), Pagination = pagination };
    }

    [RequiresScope(Scopes.ApiKeysManage)]
    public async ValueTask<RevokeApiKeyResponse> RevokeApiKeyAsync(RevokeApiKeyRequest request, CallContext context = default)
    {
        var caller = context.RequireUser(ApiKeysAreUsers);
        var id = Validation.Id("id", request.Id);
        var ct = context.CancellationToken;
        await using var connection = await _db.OpenConnectionAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        var row = await connection.QuerySingleOrDefaultAsync<ApiKeyRow>(new CommandDefinition(
            """
            UPDATE auth.api_keys SET revoked_at = coalesce(revoked_at, now())
             WHERE id = @id AND user_id = @userId
            RETURNING id AS Id, name AS Name, prefix AS Prefix, scopes AS Scopes, created_at AS CreatedAt,
                      last_used_at AS LastUsedAt, expires_at AS ExpiresAt, revoked_at AS RevokedAt
            """, new { id, userId = Guid.Parse(caller.UserId) }, tx, cancellationToken: ct));
        if (row is null)
        {
            Fail.NotFound("api_key", request.Id);
        }

        // Every key minted by this one, and by those, goes with it.
        var descendants = (await connection.QueryAsync<Guid>(new CommandDefinition(
            """
            WITH RECURSIVE tree AS (
                SELECT id FROM auth.api_keys WHERE parent_key_id = @id
                UNION
                SELECT k.id FROM auth.api_keys k JOIN tree t ON k.parent_key_id = t.id
            )
            UPDATE auth.api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE id IN (SELECT id FROM tree) RETURNING id
            """, new { id }, tx, cancellationToken: ct))).ToList();
        var key = row.ToContract();
        string[] revoked = [RevocationList.ApiKey(key.Id), .. descendants.Select(d => RevocationList.ApiKey(d.ToString()))];
        await _revocations.RecordAsync(tx, revoked, ct);
        await Outbox.EnqueueAsync(tx, new ApiKeyRevoked
        {
            KeyId = key.Id, UserId = caller.UserId, DescendantKeyIds = [.. descendants.Select(d => d.ToString())],
        }, EventOrigin.Of<IAuthService>(context), ct);
        await tx.CommitAsync(ct);
        await _revocations.PublishAsync(revoked);
        return new RevokeApiKeyResponse { ApiKey = key };
    }

    /// <summary>
    /// Locks the minting key and every key above it FOR SHARE, and says whether all are live. A concurrent
    /// RevokeApiKey of any of them either committed first (the lock then reads the row revoked: no child is
    /// made) or waits for this transaction, after which its descendant sweep — a later statement, with a new
    /// snapshot — sees the child and revokes it too. Either way no key outlives a revoked ancestor.
    /// </summary>
    private static async Task<bool> LockLiveAncestryAsync(Npgsql.NpgsqlConnection connection, Npgsql.NpgsqlTransaction tx, Guid keyId, CancellationToken ct)
    {
        var ancestry = (await connection.QueryAsync<Guid>(new CommandDefinition(
            """
            WITH RECURSIVE chain AS (
                SELECT id, parent_key_id FROM auth.api_keys WHERE id = @keyId
                UNION
                SELECT k.id, k.parent_key_id FROM auth.api_keys k JOIN chain c ON k.id = c.parent_key_id
            )
            SELECT id FROM chain
            """, new { keyId }, tx, cancellationToken: ct))).ToArray();
        var live = (await connection.QueryAsync<Guid>(new CommandDefinition(
            "SELECT id FROM auth.api_keys WHERE id = ANY(@ancestry) AND revoked_at IS NULL ORDER BY id FOR SHARE",
            new { ancestry }, tx, cancellationToken: ct))).Count();
        return ancestry.Length > 0 && live == ancestry.Length;
    }

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
}
