using ProtoBuf;
using ProtoBuf.Grpc;
using ProtoBuf.Grpc.Configuration;
using PyAirtable.Contracts.Common;

namespace PyAirtable.Contracts.Auth;

/// <summary>
/// Accounts, sessions and credentials. Register, Login, Refresh and GetJwks are public; every other
/// RPC needs a bearer access token (<c>authorization: Bearer …</c>) or an API key (<c>x-api-key</c>).
/// Access tokens are JWTs (ES256, or RS256 where configured) whose keys GetJwks publishes, so any language can verify them.
/// </summary>
[Service("pyairtable.auth.v1.AuthService")]
public interface IAuthService
{
    /// <summary>Creates an account. The e-mail address must not be registered yet (ALREADY_EXISTS). Public.</summary>
    [HttpRoute("POST", "/v1/auth:register")]
    ValueTask<RegisterResponse> RegisterAsync(RegisterRequest request, CallContext context = default);

    /// <summary>
    /// Exchanges e-mail and password for an access token and a refresh token. Public. Repeated failures
    /// for one account or from one client address are slowed, then refused with RESOURCE_EXHAUSTED and
    /// a RetryInfo saying when to try again.
    /// </summary>
    [HttpRoute("POST", "/v1/auth:login")]
    ValueTask<LoginResponse> LoginAsync(LoginRequest request, CallContext context = default);

    /// <summary>
    /// Exchanges a refresh token for a new pair; the old refresh token is spent. Presenting a spent
    /// refresh token again revokes the whole session (every token descended from the same login). Public.
    /// </summary>
    [HttpRoute("POST", "/v1/auth:refresh")]
    ValueTask<RefreshResponse> RefreshAsync(RefreshRequest request, CallContext context = default);

    /// <summary>Ends the caller's session: its refresh token and its access tokens stop working at once.</summary>
    [HttpRoute("POST", "/v1/auth:logout")]
    ValueTask<LogoutResponse> LogoutAsync(LogoutRequest request, CallContext context = default);

    /// <summary>Says whether an access token or API key is valid now, and whose it is (for hosts that cannot verify locally).</summary>
    [HttpRoute("POST", "/v1/auth:validateToken")]
    ValueTask<ValidateTokenResponse> ValidateTokenAsync(ValidateTokenRequest request, CallContext context = default);

    /// <summary>The public keys that verify access tokens, as a JSON Web Key Set (RFC 7517). Public.</summary>
    [HttpRoute("GET", "/v1/auth/jwks")]
    ValueTask<GetJwksResponse> GetJwksAsync(GetJwksRequest request, CallContext context = default);

    /// <summary>
    /// Starts signing new access tokens with a fresh key. Tokens signed with earlier keys stay valid until
    /// they expire: earlier keys stay in the JWKS for the access-token lifetime. Needs the admin role.
    /// </summary>
    [HttpRoute("POST", "/v1/auth/signingKeys:rotate")]
    ValueTask<RotateSigningKeyResponse> RotateSigningKeyAsync(RotateSigningKeyRequest request, CallContext context = default);

    /// <summary>Creates an API key for the caller. The secret is in this response only; the platform keeps a hash.</summary>
    [HttpRoute("POST", "/v1/apiKeys")]
    ValueTask<CreateApiKeyResponse> CreateApiKeyAsync(CreateApiKeyRequest request, CallContext context = default);

    /// <summary>The caller's API keys, newest first (never their secrets).</summary>
    [HttpRoute("GET", "/v1/apiKeys")]
    ValueTask<ListApiKeysResponse> ListApiKeysAsync(ListApiKeysRequest request, CallContext context = default);

    /// <summary>Revokes one of the caller's API keys; calls with it fail from the moment this returns.</summary>
    [HttpRoute("DELETE", "/v1/apiKeys/{id}")]
    ValueTask<RevokeApiKeyResponse> RevokeApiKeyAsync(RevokeApiKeyRequest request, CallContext context = default);

    /// <summary>
    /// Mails a verification code to the caller's own e-mail address (the one of the account; no other address
    /// can be given). The code expires after 15 minutes and dies after 5 wrong tries; a new one replaces the
    /// previous one. At most one mail per 60 seconds and 10 per day per account: RESOURCE_EXHAUSTED with a
    /// RetryInfo beyond that. Needs a user session (an access token), not an API key.
    /// </summary>
    [HttpRoute("POST", "/v1/auth/verification:send")]
    ValueTask<SendVerificationEmailResponse> SendVerificationEmailAsync(SendVerificationEmailRequest request, CallContext context = default);

    /// <summary>
    /// Marks the caller's e-mail address verified with the code SendVerificationEmail mailed. A wrong code is
    /// INVALID_ARGUMENT (field <c>code</c>); an expired code, one tried 5 times wrongly, or none pending is
    /// FAILED_PRECONDITION (ErrorInfo <c>rule</c>: <c>code_expired</c>, <c>code_exhausted</c>, <c>no_code</c>).
    /// Access tokens issued before say <c>email_verified</c> false: use the access token this returns, or call
    /// Refresh. Needs a user session (an access token), not an API key.
    /// </summary>
    [HttpRoute("POST", "/v1/auth/verification:verify")]
    ValueTask<VerifyEmailResponse> VerifyEmailAsync(VerifyEmailRequest request, CallContext context = default);
}

/// <summary>A new account.</summary>
[ProtoContract]
public sealed record RegisterRequest
{
    /// <summary>The login e-mail address; at most 254 characters; compared case-insensitively.</summary>
    [ProtoMember(1)] public string Email { get; init; } = "";

    /// <summary>At least 10 and at most 128 characters. Never stored, logged or returned.</summary>
    [ProtoMember(2)] public string Password { get; init; } = "";

    /// <summary>The name shown to other users; 1 to 100 characters.</summary>
    [ProtoMember(3)] public string DisplayName { get; init; } = "";
}

/// <summary>The created account.</summary>
[ProtoContract]
public sealed record RegisterResponse
{
    /// <summary>The new user's id (a UUID).</summary>
    [ProtoMember(1)] public string UserId { get; init; } = "";

    /// <summary>The e-mail address as stored (lower case).</summary>
    [ProtoMember(2)] public string Email { get; init; } = "";
}

/// <summary>Credentials to exchange for tokens.</summary>
[ProtoContract]
public sealed record LoginRequest
{
    /// <summary>The registered e-mail address (any case).</summary>
    [ProtoMember(1)] public string Email { get; init; } = "";

    /// <summary>The account's password. Never logged.</summary>
    [ProtoMember(2)] public string Password { get; init; } = "";
}

/// <summary>An access token and the refresh token that renews it.</summary>
[ProtoContract]
public sealed record TokenSet
{
    /// <summary>The JWT to send as <c>authorization: Bearer &lt;access_token&gt;</c>.</summary>
    [ProtoMember(1)] public string AccessToken { get; init; } = "";

    /// <summary>Always <c>Bearer</c>.</summary>
    [ProtoMember(2)] public string TokenType { get; init; } = "";

    /// <summary>When the access token stops being accepted (UTC).</summary>
    [ProtoMember(3)] public DateTime? AccessTokenExpiresAt { get; init; }

    /// <summary>An opaque token for Refresh; single use.</summary>
    [ProtoMember(4)] public string RefreshToken { get; init; } = "";

    /// <summary>When the refresh token expires (UTC).</summary>
    [ProtoMember(5)] public DateTime? RefreshTokenExpiresAt { get; init; }
}

/// <summary>A new session.</summary>
[ProtoContract]
public sealed record LoginResponse
{
    /// <summary>The new session's tokens.</summary>
    [ProtoMember(1)] public TokenSet? Tokens { get; init; }

    /// <summary>The logged-in user's id.</summary>
    [ProtoMember(2)] public string UserId { get; init; } = "";
}

/// <summary>A refresh token to spend.</summary>
[ProtoContract]
public sealed record RefreshRequest
{
    /// <summary>The refresh token from Login or the previous Refresh.</summary>
    [ProtoMember(1)] public string RefreshToken { get; init; } = "";
}

/// <summary>The renewed pair.</summary>
[ProtoContract]
public sealed record RefreshResponse
{
    /// <summary>The new pair; the refresh token sent is now spent.</summary>
    [ProtoMember(1)] public TokenSet? Tokens { get; init; }
}

/// <summary>Which session to end.</summary>
[ProtoContract]
public sealed record LogoutRequest
{
    /// <summary>Optional: a refresh token of the caller's to revoke; empty ends the session of the access token making the call.</summary>
    [ProtoMember(1)] public string RefreshToken { get; init; } = "";
}

/// <summary>Nothing: the session is over.</summary>
[ProtoContract]
public sealed record LogoutResponse
{
}

/// <summary>A credential to check; set exactly one.</summary>
[ProtoContract]
public sealed record ValidateTokenRequest
{
    /// <summary>A JWT access token.</summary>
    [ProtoMember(1)] public string AccessToken { get; init; } = "";

    /// <summary>An API key secret.</summary>
    [ProtoMember(2)] public string ApiKey { get; init; } = "";
}

/// <summary>The verdict on a credential.</summary>
[ProtoContract]
public sealed record ValidateTokenResponse
{
    /// <summary>True when the credential is accepted now.</summary>
    [ProtoMember(1)] public bool Valid { get; init; }

    /// <summary>Whose credential it is, when valid.</summary>
    [ProtoMember(2)] public UserContext? User { get; init; }

    /// <summary>When it stops being valid, if it expires (UTC).</summary>
    [ProtoMember(3)] public DateTime? ExpiresAt { get; init; }

    /// <summary>Why it was refused (for example <c>expired</c>, <c>revoked</c>, <c>invalid_signature</c>); empty when valid.</summary>
    [ProtoMember(4)] public string Reason { get; init; } = "";
}

/// <summary>No parameters.</summary>
[ProtoContract]
public sealed record GetJwksRequest
{
}

/// <summary>One public key (RFC 7517/7518 members): an EC P-256 key for ES256 (<c>crv</c>, <c>x</c>, <c>y</c>) or an RSA key for
/// RS256 (<c>n</c>, <c>e</c>); the members of the other type are empty.</summary>
[ProtoContract]
public sealed record JsonWebKey
{
    /// <summary>Key type: <c>EC</c> or <c>RSA</c>.</summary>
    [ProtoMember(1)] public string Kty { get; init; } = "";

    /// <summary>Key id, matching the <c>kid</c> header of the tokens it verifies.</summary>
    [ProtoMember(2)] public string Kid { get; init; } = "";

    /// <summary>Always <c>sig</c>.</summary>
    [ProtoMember(3)] public string Use { get; init; } = "";

    /// <summary>The only algorithm the key is used with: <c>ES256</c> (type <c>EC</c>) or <c>RS256</c> (type <c>RSA</c>).</summary>
    [ProtoMember(4)] public string Alg { get; init; } = "";

    /// <summary>RSA: the modulus, base64url.</summary>
    [ProtoMember(5)] public string N { get; init; } = "";

    /// <summary>RSA: the public exponent, base64url.</summary>
    [ProtoMember(6)] public string E { get; init; } = "";

    /// <summary>EC: the curve, <c>P-256</c>.</summary>
    [ProtoMember(7)] public string Crv { get; init; } = "";

    /// <summary>EC: the x coordinate of the public point, base64url (32 bytes).</summary>
    [ProtoMember(8)] public string X { get; init; } = "";

    /// <summary>EC: the y coordinate of the public point, base64url (32 bytes).</summary>
    [ProtoMember(9)] public string Y { get; init; } = "";
}

/// <summary>The verification keys, newest first.</summary>
[ProtoContract]
public sealed record GetJwksResponse
{
    /// <summary>Every key that may have signed a still-valid token, the signing key first.</summary>
    [ProtoMember(1)] public List<JsonWebKey> Keys { get; init; } = [];

    /// <summary>The same keys as a JWKS JSON document, ready for any JOSE library.</summary>
    [ProtoMember(2)] public string JwksJson { get; init; } = "";

    /// <summary>The issuer (<c>iss</c>) access tokens carry.</summary>
    [ProtoMember(3)] public string Issuer { get; init; } = "";

    /// <summary>The audience (<c>aud</c>) access tokens carry.</summary>
    [ProtoMember(4)] public string Audience { get; init; } = "";
}

/// <summary>No parameters.</summary>
[ProtoContract]
public sealed record RotateSigningKeyRequest
{
}

/// <summary>The key now signing.</summary>
[ProtoContract]
public sealed record RotateSigningKeyResponse
{
    /// <summary>The id of the key that signs from now on.</summary>
    [ProtoMember(1)] public string Kid { get; init; } = "";
}

/// <summary>A new API key.</summary>
[ProtoContract]
public sealed record CreateApiKeyRequest
{
    /// <summary>What the key is for; 1 to 100 characters.</summary>
    [ProtoMember(1)] public string Name { get; init; } = "";

    /// <summary>What the key may call (see <see cref="Scopes"/>); at least one.</summary>
    [ProtoMember(2)] public List<string> Scopes { get; init; } = [];

    /// <summary>Optional expiry (UTC, in the future).</summary>
    [ProtoMember(3)] public DateTime? ExpiresAt { get; init; }
}

/// <summary>An API key as listed (never its secret).</summary>
[ProtoContract]
public sealed record ApiKey
{
    /// <summary>The key's id (a UUID), for RevokeApiKey.</summary>
    [ProtoMember(1)] public string Id { get; init; } = "";

    /// <summary>What the key is for.</summary>
    [ProtoMember(2)] public string Name { get; init; } = "";

    /// <summary>The first characters of the secret, to recognise it (<c>pat_xxxxxxxx</c>).</summary>
    [ProtoMember(3)] public string Prefix { get; init; } = "";

    /// <summary>What the key may call.</summary>
    [ProtoMember(4)] public List<string> Scopes { get; init; } = [];

    /// <summary>When the key was created (UTC).</summary>
    [ProtoMember(5)] public DateTime? CreatedAt { get; init; }

    /// <summary>Last time a call used the key (updated at most once a minute).</summary>
    [ProtoMember(6)] public DateTime? LastUsedAt { get; init; }

    /// <summary>When the key stops working, if it expires (UTC).</summary>
    [ProtoMember(7)] public DateTime? ExpiresAt { get; init; }

    /// <summary>When the key was revoked (UTC), if it was.</summary>
    [ProtoMember(8)] public DateTime? RevokedAt { get; init; }
}

/// <summary>The created key and its secret, shown this once.</summary>
[ProtoContract]
public sealed record CreateApiKeyResponse
{
    /// <summary>The key as ListApiKeys will show it.</summary>
    [ProtoMember(1)] public ApiKey? ApiKey { get; init; }

    /// <summary>Send as the <c>x-api-key</c> header. Not retrievable later.</summary>
    [ProtoMember(2)] public string Secret { get; init; } = "";
}

/// <summary>A page of the caller's keys.</summary>
[ProtoContract]
public sealed record ListApiKeysRequest
{
    /// <summary>page_size defaults to 50 and is capped at 200.</summary>
    [ProtoMember(1)] public PaginationRequest? Pagination { get; init; }
}

/// <summary>The caller's keys, newest first.</summary>
[ProtoContract]
public sealed record ListApiKeysResponse
{
    /// <summary>The keys of this page, revoked ones included.</summary>
    [ProtoMember(1)] public List<ApiKey> ApiKeys { get; init; } = [];

    /// <summary>Where the page is and how to get the next one.</summary>
    [ProtoMember(2)] public PaginationResponse? Pagination { get; init; }
}

/// <summary>The key to revoke.</summary>
[ProtoContract]
public sealed record RevokeApiKeyRequest
{
    /// <summary>The key's id.</summary>
    [ProtoMember(1)] public string Id { get; init; } = "";
}

/// <summary>The revoked key.</summary>
[ProtoContract]
public sealed record RevokeApiKeyResponse
{
    /// <summary>The key, with revoked_at set.</summary>
    [ProtoMember(1)] public ApiKey? ApiKey { get; init; }
}

/// <summary>
/// The scopes an API key can hold. A key may call an RPC only if it holds the scope the RPC requires;
/// user access tokens are not limited by scope.
/// </summary>
public static class Scopes
{
    /// <summary>GetUser, GetUsers, ListUsers.</summary>
    public const string UsersRead = "users:read";

    /// <summary>UpdateUser, DeactivateUser.</summary>
    public const string UsersWrite = "users:write";

    /// <summary>CreateApiKey, ListApiKeys, RevokeApiKey.</summary>
    public const string ApiKeysManage = "api_keys:manage";

    /// <summary>Reading workspaces, bases, members, roles and permission checks.</summary>
    public const string WorkspacesRead = "workspaces:read";

    /// <summary>Creating, changing and deleting workspaces, bases, members, grants, roles and invitations.</summary>
    public const string WorkspacesWrite = "workspaces:write";

    /// <summary>QueryMetrics and TailMetrics of the Analytics service.</summary>
    public const string AnalyticsRead = "analytics:read";

    /// <summary>IngestMetrics of the Analytics service.</summary>
    public const string AnalyticsWrite = "analytics:write";

    /// <summary>Creating user profiles: held only by the platform's own service tokens.</summary>
    public const string UsersProvision = "users:provision";

    /// <summary>Scopes a user may put on an API key.</summary>
    public static IReadOnlyList<string> Grantable { get; } = [UsersRead, UsersWrite, ApiKeysManage, WorkspacesRead, WorkspacesWrite, AnalyticsRead, AnalyticsWrite];
}

/// <summary>Mail a code to the caller's own address.</summary>
[ProtoContract]
public sealed record SendVerificationEmailRequest
{
}

/// <summary>Where the code went.</summary>
[ProtoContract]
public sealed record SendVerificationEmailResponse
{
    /// <summary>The address the code was mailed to (the account's).</summary>
    [ProtoMember(1)] public string Email { get; init; } = "";

    /// <summary>When the code stops being accepted (UTC); unset when nothing was sent.</summary>
    [ProtoMember(2)] public DateTime? ExpiresAt { get; init; }

    /// <summary>True when the address was verified already: nothing was sent.</summary>
    [ProtoMember(3)] public bool AlreadyVerified { get; init; }
}

/// <summary>The code from the mail.</summary>
[ProtoContract]
public sealed record VerifyEmailRequest
{
    /// <summary>The 8 digits of the mail (spaces and dashes are ignored).</summary>
    [ProtoMember(1)] public string Code { get; init; } = "";
}

/// <summary>The address is verified.</summary>
[ProtoContract]
public sealed record VerifyEmailResponse
{
    /// <summary>The verified address.</summary>
    [ProtoMember(1)] public string Email { get; init; } = "";

    /// <summary>When it was verified (UTC).</summary>
    [ProtoMember(2)] public DateTime? VerifiedAt { get; init; }

    /// <summary>
    /// When this call verified the address: a fresh access token of the caller's session carrying
    /// <c>email_verified</c> true (the refresh token the caller holds stays valid, and Refresh issues verified
    /// tokens from now on). Empty when the address was verified before: use Refresh.
    /// </summary>
    [ProtoMember(3)] public string AccessToken { get; init; } = "";

    /// <summary>When that access token expires (UTC).</summary>
    [ProtoMember(4)] public DateTime? AccessTokenExpiresAt { get; init; }
}
