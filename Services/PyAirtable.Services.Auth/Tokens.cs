using System.Security.Claims;
using System.Security.Cryptography;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using PyAirtable.Contracts.Common;
using PyAirtable.Services.Infrastructure.Identity;
using PyAirtable.Services.Infrastructure.SharedState;

namespace PyAirtable.Services.Auth;

/// <summary>Issues and checks access tokens (RS256 JWTs) and makes opaque secrets.</summary>
internal sealed class TokenService(SigningKeyStore keys, IOptions<TokenOptions> options, TimeProvider time, RevocationList revocations)
{
    private readonly JsonWebTokenHandler _handler = new() { SetDefaultTimesOnTokenCreation = false, MapInboundClaims = false };

    public TokenOptions Options => options.Value;

    /// <summary>A signed access token for a user session, and when it expires.</summary>
    public async Task<(string Token, DateTime ExpiresAt)> IssueAsync(
        string userId, string email, bool emailVerified, IReadOnlyList<string> roles, string sessionId, CancellationToken cancellationToken)
    {
        var claims = new Dictionary<string, object>
        {
            [PlatformClaims.Email] = email,
            [PlatformClaims.EmailVerified] = emailVerified,
            [PlatformClaims.SessionId] = sessionId,
        };
        if (roles.Count > 0)
        {
            claims[PlatformClaims.Role] = roles.ToArray();
        }

        return await SignAsync(userId, claims, options.Value.AccessTokenLifetime, cancellationToken);
    }

    /// <summary>A token for the platform's own services calling each other (see <see cref="ServiceIdentity"/>).</summary>
    public Task<(string Token, DateTime ExpiresAt)> IssueServiceTokenAsync(string service, IReadOnlyList<string> scopes, TimeSpan lifetime, CancellationToken cancellationToken) =>
        SignAsync("service:" + service, new Dictionary<string, object>
        {
            [PlatformClaims.Role] = new[] { PlatformRoles.Service },
            [PlatformClaims.Scope] = string.Join(' ', scopes),
            [PlatformClaims.AuthMethod] = "service",
        }, lifetime, cancellationToken);

    private async Task<(string Token, DateTime ExpiresAt)> SignAsync(string subject, Dictionary<string, object> claims, TimeSpan lifetime, CancellationToken cancellationToken)
    {
        var keySet = await keys.GetAsync(cancellationToken);
        var now = time.GetUtcNow().UtcDateTime;
        var expires = now + lifetime;
        claims[PlatformClaims.Subject] = subject;
        claims[JwtRegisteredClaimNames.Jti] = Guid.NewGuid().ToString("N");
        var token = _handler.CreateToken(new SecurityTokenDescriptor
        {
            Issuer = options.Value.Issuer,
            Audience = options.Value.Audience,
            IssuedAt = now,
            NotBefore = now,
            Expires = expires,
            Claims = claims,
            SigningCredentials = keySet.Signing,
        });
        return (token, expires);
    }

    /// <summary>Validates an access token exactly as the gateway does (signature, issuer, audience, lifetime, RS256 only, revocation).</summary>
    public async Task<(ClaimsIdentity? Identity, DateTime? ExpiresAt, string Reason)> ValidateAsync(string token, CancellationToken cancellationToken)
    {
        var keySet = await keys.GetAsync(cancellationToken);
        var result = await _handler.ValidateTokenAsync(token, options.Value.CreateValidationParameters(keySet.Find));
        if (!result.IsValid)
        {
            return (null, null, result.Exception is SecurityTokenExpiredException ? "expired" : "invalid_token");
        }

        var identity = result.ClaimsIdentity;
        var sid = identity.FindFirst(PlatformClaims.SessionId)?.Value ?? "";
        var sub = identity.FindFirst(PlatformClaims.Subject)?.Value ?? "";
        if (await revocations.IsRevokedAsync(RevocationList.Session(sid), sub, cancellationToken))
        {
            return (null, null, "revoked");
        }

        return (identity, (result.SecurityToken as JsonWebToken)?.ValidTo, "");
    }

    /// <summary>A 256-bit random secret with a readable prefix, and the SHA-256 hash that is stored.</summary>
    public static (string Secret, byte[] Hash) NewSecret(string prefix)
    {
        var secret = prefix + System.Buffers.Text.Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(32));
        return (secret, Hash(secret));
    }

    public static byte[] Hash(string secret) => SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(secret));
}

/// <summary>
/// The Auth service's own identity for calls it makes to other services (creating the profile of a
/// new account). A short-lived service token, re-minted before it expires; in process the callee sees
/// the same principal the remote gateway would derive from the token.
/// </summary>
internal sealed class ServiceIdentity(IServiceTokenIssuer issuer)
{
    private static readonly string[] ServiceScopes = [PyAirtable.Contracts.Auth.Scopes.UsersProvision];

    public static UserContext Principal { get; } = ServicePrincipal.Of("auth", ServiceScopes);

    public Task<string> AuthorizationAsync(CancellationToken cancellationToken) => issuer.AuthorizationAsync("auth", ServiceScopes, cancellationToken);
}

/// <summary>
/// Service tokens for the platform's services on this host (5 minutes, re-minted a minute before they
/// expire), one per service and scope set.
/// </summary>
internal sealed class ServiceTokenIssuer(TokenService tokens, TimeProvider time) : IServiceTokenIssuer
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, (string Token, DateTime ExpiresAt)> _current = new(StringComparer.Ordinal);

    public async Task<string> AuthorizationAsync(string service, IReadOnlyList<string> scopes, CancellationToken cancellationToken)
    {
        var key = service + "|" + string.Join(' ', scopes);
        if (!_current.TryGetValue(key, out var current) || current.ExpiresAt - time.GetUtcNow().UtcDateTime < TimeSpan.FromMinutes(1))
        {
            current = await tokens.IssueServiceTokenAsync(service, scopes, TimeSpan.FromMinutes(5), cancellationToken);
            _current[key] = current;
        }

        return "Bearer " + current.Token;
    }
}
