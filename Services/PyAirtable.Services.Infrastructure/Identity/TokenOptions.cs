using Microsoft.IdentityModel.Tokens;

namespace PyAirtable.Services.Infrastructure.Identity;

/// <summary>
/// What access tokens look like (section <c>Auth</c>): the Auth service issues them with these values
/// and every host's gateway validates against the same ones.
/// </summary>
public sealed class TokenOptions
{
    public const string Section = "Auth";

    /// <summary>The <c>iss</c> claim.</summary>
    public string Issuer { get; set; } = "https://pyairtable.dev/auth";

    /// <summary>The <c>aud</c> claim.</summary>
    public string Audience { get; set; } = "pyairtable-api";

    public TimeSpan AccessTokenLifetime { get; set; } = TimeSpan.FromMinutes(15);

    public TimeSpan RefreshTokenLifetime { get; set; } = TimeSpan.FromDays(30);

    /// <summary>Tolerance for clocks that differ between hosts when checking <c>exp</c> and <c>nbf</c>.</summary>
    public TimeSpan ClockSkew { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Shortest time between two JWKS refreshes caused by tokens with an unknown <c>kid</c>.</summary>
    public TimeSpan JwksMinRefreshInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How long the gateway keeps the JWKS before refreshing it anyway.</summary>
    public TimeSpan JwksRefreshInterval { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// The JWS algorithm of the signing keys the Auth service creates from now on: <c>ES256</c> (ECDSA P-256, the default: a
    /// token about 600 characters long) or <c>RS256</c> (RSA 2048, about 850, for verifiers that know nothing else). Existing
    /// keys keep theirs, so a change takes effect as rotations replace them; tokens of either kind verify everywhere.
    /// </summary>
    public string SigningAlgorithm { get; set; } = SecurityAlgorithms.EcdsaSha256;

    /// <summary>The algorithms platform keys sign with; a key verifies only tokens of its own algorithm.</summary>
    public static IReadOnlyList<string> SupportedAlgorithms { get; } = [SecurityAlgorithms.EcdsaSha256, SecurityAlgorithms.RsaSha256];

    /// <summary>How long the gateway keeps an API key's validation (revocation is checked on every call regardless).</summary>
    public TimeSpan ApiKeyCacheDuration { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How an access token is validated — by the gateway of every host and by the Auth service's
    /// ValidateToken alike: issuer, audience, lifetime with <see cref="ClockSkew"/>, ES256 or RS256 only ("none"
    /// and HMAC signed with the public key never verify), the key found by <c>kid</c> alone; a token must use its key's own
    /// algorithm (an EC key never checks an RS256 signature, nor an RSA key an ES256 one).
    /// </summary>
    public TokenValidationParameters CreateValidationParameters(Func<string?, SecurityKey?> findKey)
    {
        ArgumentNullException.ThrowIfNull(findKey);
        return new TokenValidationParameters
        {
            ValidIssuer = Issuer,
            ValidAudience = Audience,
            ValidAlgorithms = SupportedAlgorithms,
            RequireSignedTokens = true,
            RequireExpirationTime = true,
            ValidateLifetime = true,
            ClockSkew = ClockSkew,
            TryAllIssuerSigningKeys = false,
            IssuerSigningKeyResolver = (_, _, kid, _) => findKey(kid) is { } key ? [key] : [],
            NameClaimType = PlatformClaims.Subject,
            RoleClaimType = PlatformClaims.Role,
        };
    }
}
