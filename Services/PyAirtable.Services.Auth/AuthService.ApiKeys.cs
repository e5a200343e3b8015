using System.Globalization;
using PyAirtable.Contracts.Auth;
using PyAirtable.Contracts.Common;
using PyAirtable.Contracts.Events;
using PyAirtable.Services.Auth.Stores;
using PyAirtable.Services.Infrastructure.Errors;
using PyAirtable.Services.Infrastructure.Events;
using PyAirtable.Services.Infrastructure.Identity;
using PyAirtable.Services.Infrastructure.Pagination;
using PyAirtable.Services.Infrastructure.SharedState;
using CallContext = ProtoBuf.Grpc.CallContext;

namespace PyAirtable.Services.Auth;

/// <summary>API keys: a user's, never with more rights or a longer life than the credentials that made them; revoked as a tree.</summary>
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
            await using var lookup = await AuthSession.OpenAsync(_dataSource, ct);
            var callerExpires = await lookup.ApiKeys.ExpiryOfAsync(callerKeyId, ct);
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
            // As PostgreSQL keeps it (microseconds), so that this response and every later read tell the same expiry.
            ExpiresAt = request.ExpiresAt is { } e ? new DateTime(e.Ticks - e.Ticks % TimeSpan.TicksPerMicrosecond, e.Kind) : null,
        };
        Guid? parentKeyId = caller.AuthMethod == AuthMethod.ApiKey && Guid.TryParse(caller.CredentialId, out var parent) ? parent : null;
        await using var db = await AuthSession.BeginAsync(_dataSource, ct);
        if (parentKeyId is { } parentId && !await db.ApiKeys.LockLiveAncestryAsync(parentId, ct))
        {
            throw Unauthenticated("The credentials have been revoked.", "revoked");
        }

        var created = await db.ApiKeys.InsertAsync(id, Guid.Parse(caller.UserId), key, hash, parentKeyId, ct);
        key = key with { CreatedAt = created };
        await Outbox.EnqueueAsync(db.WriteTransaction, new ApiKeyCreated
        {
            KeyId = key.Id, UserId = caller.UserId, Name = key.Name, Prefix = key.Prefix, Scopes = [.. key.Scopes],
            ExpiresAt = key.ExpiresAt,
        }, EventOrigin.Of<IAuthService>(context), ct);
        await db.CommitAsync(ct);
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
        DateTime? afterCreated = page.After is { Count: 2 }
            ? DateTime.Parse(page.After[0], CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind)
            : null;
        Guid? afterId = page.After is { Count: 2 } ? Guid.Parse(page.After[1]) : null;
        await using var db = await AuthSession.OpenAsync(_dataSource, ct);
        var rows = await db.ApiKeys.ListAsync(userId, afterCreated, afterId, page.PageSize + 1, ct);
        var total = await db.ApiKeys.CountAsync(userId, ct);
        var (items, pagination) = page.Complete(rows, total,
            r => [r.CreatedAt.ToString("O", CultureInfo.InvariantCulture), r.Id.ToString()], _cursors, scope);
        return new ListApiKeysResponse { ApiKeys = items.Select(r => r.ToContract()).ToList(), Pagination = pagination };
    }

    [RequiresScope(Scopes.ApiKeysManage)]
    public async ValueTask<RevokeApiKeyResponse> RevokeApiKeyAsync(RevokeApiKeyRequest request, CallContext context = default)
    {
        var caller = context.RequireUser(ApiKeysAreUsers);
        var id = Validation.Id("id", request.Id);
        var ct = context.CancellationToken;
        await using var db = await AuthSession.BeginAsync(_dataSource, ct);
        var row = await db.ApiKeys.RevokeAsync(id, Guid.Parse(caller.UserId), ct);
        if (row is null)
        {
            Fail.NotFound("api_key", request.Id);
        }

        // Every key minted by this one, and by those, goes with it.
        var descendants = await db.ApiKeys.RevokeDescendantsAsync(id, ct);
        var key = row.ToContract();
        string[] revoked = [RevocationList.ApiKey(key.Id), .. descendants.Select(d => RevocationList.ApiKey(d.ToString()))];
        await _revocations.RecordAsync(db.WriteTransaction, revoked, ct);
        await Outbox.EnqueueAsync(db.WriteTransaction, new ApiKeyRevoked
        {
            KeyId = key.Id, UserId = caller.UserId, DescendantKeyIds = [.. descendants.Select(d => d.ToString())],
        }, EventOrigin.Of<IAuthService>(context), ct);
        await db.CommitAsync(ct);
        await _revocations.PublishAsync(revoked);
        return new RevokeApiKeyResponse { ApiKey = key };
    }
}
