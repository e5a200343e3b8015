using Microsoft.AspNetCore.Authorization;
using PyAirtable.Contracts.Auth;
using PyAirtable.Contracts.Common;
using PyAirtable.Services.Auth.Stores;
using PyAirtable.Services.Infrastructure.Errors;
using PyAirtable.Services.Infrastructure.Identity;
using PyAirtable.Services.Infrastructure.SharedState;
using CallContext = ProtoBuf.Grpc.CallContext;

namespace PyAirtable.Services.Auth;

/// <summary>Credentials checked for other services and gateways (access tokens, API keys), and the keys tokens are signed with.</summary>
public sealed partial class AuthService
{
    public async ValueTask<ValidateTokenResponse> ValidateTokenAsync(ValidateTokenRequest request, CallContext context = default)
    {
        var hasToken = !string.IsNullOrEmpty(request.AccessToken);
        var hasKey = !string.IsNullOrEmpty(request.ApiKey);
        if (hasToken == hasKey)
        {
            throw new ValidationException("access_token", "set exactly one of access_token and api_key");
        }

        if ((request.AccessToken?.Length ?? 0) > 8192 || (request.ApiKey?.Length ?? 0) > 256)
        {
            return new ValidateTokenResponse { Reason = "invalid_token" };
        }

        var ct = context.CancellationToken;
        if (hasToken)
        {
            var (identity, expires, reason) = await _tokens.ValidateAsync(request.AccessToken!, ct);
            return identity is null
                ? new ValidateTokenResponse { Reason = reason }
                : new ValidateTokenResponse { Valid = true, User = PlatformClaims.ToUserContext(identity.Claims), ExpiresAt = expires };
        }

        await using var db = await AuthSession.OpenAsync(_dataSource, ct);
        var key = await db.ApiKeys.FindBySecretAsync(TokenService.Hash(request.ApiKey!), ct);
        var now = _time.GetUtcNow().UtcDateTime;
        if (key is null)
        {
            return new ValidateTokenResponse { Reason = "invalid_api_key" };
        }

        if (key.RevokedAt is not null || key.DisabledAt is not null || await _revocations.IsRevokedAsync(
                RevocationList.ApiKey(key.Id.ToString()), key.UserId.ToString(), db.Connection, db.Transaction, ct))
        {
            return new ValidateTokenResponse { Reason = "revoked" };
        }

        if (key.ExpiresAt is { } expiresAt && expiresAt <= now)
        {
            return new ValidateTokenResponse { Reason = "expired" };
        }

        if (key.LastUsedAt is null || now - key.LastUsedAt > TimeSpan.FromMinutes(1))
        {
            await db.ApiKeys.MarkUsedAsync(key.Id, ct);
        }

        return new ValidateTokenResponse
        {
            Valid = true,
            ExpiresAt = key.ExpiresAt,
            User = new UserContext
            {
                UserId = key.UserId.ToString(),
                Email = key.Email,
                Roles = [.. key.Roles],
                Scopes = [.. key.Scopes],
                AuthMethod = AuthMethod.ApiKey,
                CredentialId = key.Id.ToString(),
                EmailVerified = key.EmailVerified, // from the account now, not from when the key was made
            },
        };
    }

    [AllowAnonymous]
    public async ValueTask<GetJwksResponse> GetJwksAsync(GetJwksRequest request, CallContext context = default)
    {
        var keys = await _keys.GetAsync(context.CancellationToken);
        var jwks = keys.Published.Select(k => k.Jwk).ToList();
        return new GetJwksResponse
        {
            Keys = jwks,
            JwksJson = SigningKeyStore.ToJson(jwks),
            Issuer = _tokens.Options.Issuer,
            Audience = _tokens.Options.Audience,
        };
    }

    public async ValueTask<RotateSigningKeyResponse> RotateSigningKeyAsync(RotateSigningKeyRequest request, CallContext context = default)
    {
        var caller = context.RequireCaller();
        // An operator in person: an API key, even an admin's, cannot rotate keys whatever its scopes.
        if (!caller.HasRole(PlatformRoles.Admin) || caller.AuthMethod != AuthMethod.Jwt)
        {
            Fail.PermissionDenied("Rotating signing keys needs the admin role and an access token (not an API key).");
        }

        return new RotateSigningKeyResponse { Kid = await _keys.RotateAsync(context.CancellationToken) };
    }
}
