using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using Grpc.Core;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;
using ProtoBuf.Grpc;
using PyAirtable.Contracts.Auth;
using PyAirtable.Contracts.Common;
using PyAirtable.Services.Infrastructure.Identity;
using PyAirtable.Services.Infrastructure.SharedState;

namespace PyAirtable.Host.Gateway.Authentication;

/// <summary>
/// Authenticates the <c>x-api-key</c> header. The key is validated by the Auth service (through its
/// contract, so in process or remote alike) and the verdict kept for
/// <see cref="TokenOptions.ApiKeyCacheDuration"/>; revocation of the key or its user is checked on
/// every call against the shared revocation list, so a revoke applies to the very next call.
/// </summary>
internal sealed class ApiKeyAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> schemeOptions,
    ILoggerFactory loggerFactory,
    UrlEncoder encoder,
    IAuthService auth,
    VerifiedApiKeyCache cache,
    RevocationList revocations,
    IOptions<TokenOptions> tokenOptions)
    : AuthenticationHandler<AuthenticationSchemeOptions>(schemeOptions, loggerFactory, encoder)
{
    public const string SchemeName = "ApiKey";
    public const string HeaderName = "x-api-key";
    private const int MaxKeyLength = 256;

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var header = Request.Headers[HeaderName];
        if (header.Count == 0)
        {
            return AuthenticateResult.NoResult();
        }

        var secret = header.Count == 1 ? header[0] : null;
        if (!LooksLikeApiKey(secret))
        {
            return Failed(AuthFailure.InvalidApiKey); // no database lookup for what cannot be a key
        }

        VerifiedCredential? verified;
        try
        {
            if (!cache.TryGet(secret, out verified))
            {
                // Forward the key itself: a remote Auth host authenticates this call with it.
                var call = new CallContext(new CallOptions(headers: new Metadata { { HeaderName, secret! } }, cancellationToken: Context.RequestAborted));
                var verdict = await auth.ValidateTokenAsync(new ValidateTokenRequest { ApiKey = secret! }, call);
                if (!verdict.Valid || verdict.User is null)
                {
                    return Failed(verdict.Reason switch
                    {
                        "revoked" => AuthFailure.Revoked,
                        "expired" => AuthFailure.Expired,
                        _ => AuthFailure.InvalidApiKey,
                    });
                }

                verified = Verified(verdict.User);
                var keptUntil = DateTimeOffset.UtcNow + tokenOptions.Value.ApiKeyCacheDuration;
                if (verdict.ExpiresAt is { } expires && new DateTimeOffset(DateTime.SpecifyKind(expires, DateTimeKind.Utc)) < keptUntil)
                {
                    keptUntil = new DateTimeOffset(DateTime.SpecifyKind(expires, DateTimeKind.Utc));
                }

                cache.Add(secret!, verified, keptUntil); // only good verdicts: random keys must not fill memory
            }

            if (await revocations.IsRevokedAsync(verified.CredentialKey, verified.Subject, Context.RequestAborted))
            {
                return Failed(AuthFailure.Revoked);
            }
        }
        catch (RpcException ex) when (ex.StatusCode == StatusCode.Unauthenticated)
        {
            // The Auth service runs on another host, whose gateway refused the key before ValidateToken ran.
            var cause = ex.GetRpcStatus()?.GetDetail<Google.Rpc.ErrorInfo>()?.Metadata.GetValueOrDefault("cause");
            return Failed(cause is AuthFailure.Revoked or AuthFailure.Expired ? cause : AuthFailure.InvalidApiKey);
        }
        catch (Exception ex) when (ex is RpcException || AuthFailure.IsUnavailable(ex, Context.RequestAborted))
        {
            AuthFailure.Unavailable(Context, ex);
            return AuthenticateResult.Fail(AuthFailure.UnavailableCause);
        }

        return AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(verified.Identity), SchemeName));
    }

    private static VerifiedCredential Verified(UserContext user)
    {
        var claims = new List<Claim>
        {
            new(PlatformClaims.Subject, user.UserId),
            new(PlatformClaims.Email, user.Email),
            new(PlatformClaims.AuthMethod, "api_key"),
            new(PlatformClaims.ApiKeyId, user.CredentialId),
            new(PlatformClaims.EmailVerified, user.EmailVerified ? "true" : "false"),
        };
        claims.AddRange(user.Roles.Select(r => new Claim(PlatformClaims.Role, r)));
        claims.AddRange(user.Scopes.Select(s => new Claim(PlatformClaims.Scope, s)));
        return new VerifiedCredential(new ReadOnlyClaimsIdentity(claims, SchemeName), user.UserId, RevocationList.ApiKey(user.CredentialId));
    }

    /// <summary>An API key as CreateApiKey makes them: <c>pat_</c> and 43 base64url characters.</summary>
    internal static bool LooksLikeApiKey(string? secret) =>
        secret is { Length: 47 } && secret.StartsWith("pat_", StringComparison.Ordinal)
        && secret.AsSpan(4).IndexOfAnyExcept(Base64UrlChars) < 0;

    private static readonly System.Buffers.SearchValues<char> Base64UrlChars =
        System.Buffers.SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_");

    private AuthenticateResult Failed(string cause)
    {
        Context.Items[AuthFailure.ItemKey] = cause;
        return AuthenticateResult.Fail(cause);
    }
}

/// <summary>Why authentication failed, told to the caller in ErrorInfo metadata <c>cause</c>.</summary>
internal static partial class AuthFailure
{
    /// <summary>Not a verdict on the credentials: what checks them (Auth service, PostgreSQL) is unreachable, or the caller left.</summary>
    public const string UnavailableCause = "unavailable";

    /// <summary>Failures that say nothing about the credentials: the checkers are unreachable, or the caller cancelled.</summary>
    public static bool IsUnavailable(Exception ex, CancellationToken requestAborted) =>
        ex is Npgsql.NpgsqlException or TimeoutException or System.Net.Sockets.SocketException
        || (ex is OperationCanceledException && requestAborted.IsCancellationRequested);

    /// <summary>Marks the call to be answered UNAVAILABLE (logged, except when the caller simply left).</summary>
    public static void Unavailable(HttpContext http, Exception ex)
    {
        if (!http.RequestAborted.IsCancellationRequested)
        {
            LogUnavailable(http.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger("PyAirtable.Gateway.Authentication"), ex.GetType().Name, ex.Message);
        }

        http.Items[ItemKey] = UnavailableCause;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Credentials could not be checked ({Kind}: {Error}); the call is answered UNAVAILABLE")]
    private static partial void LogUnavailable(ILogger logger, string kind, string error);

    public const string ItemKey = "pyairtable.auth.failure";
    public const string MissingCredentials = "missing_credentials";
    public const string InvalidToken = "invalid_token";
    public const string Expired = "expired";
    public const string Revoked = "revoked";
    public const string InvalidApiKey = "invalid_api_key";
}

/// <summary>
/// The verdicts kept for API keys this host has validated (<see cref="TokenOptions.ApiKeyCacheDuration"/>, never past the key's
/// expiry), found by the key's SHA-256 so that memory holds no secret.
/// </summary>
internal sealed class VerifiedApiKeyCache(TimeProvider time) : VerifiedCredentialCache(time)
{
    /// <summary>The kept verdict for <paramref name="secret"/>; false for anything else, including what cannot be a key.</summary>
    public bool TryGet(string? secret, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out VerifiedCredential? verified)
    {
        verified = null;
        if (!ApiKeyAuthenticationHandler.LooksLikeApiKey(secret))
        {
            return false;
        }

        // Every call with a key passes here: the hash and its hex form stay on the stack.
        Span<char> key = stackalloc char[KeyLength];
        WriteKey(secret!, key);
        if (!TryFind(key, out var found))
        {
            return false;
        }

        verified = found;
        return true;
    }

    public void Add(string secret, VerifiedCredential verified, DateTimeOffset keptUntil)
    {
        Span<char> key = stackalloc char[KeyLength];
        WriteKey(secret, key);
        Keep(new string(key), verified, keptUntil);
    }

    private const int KeyLength = SHA256.HashSizeInBytes * 2;

    private static void WriteKey(string secret, Span<char> key)
    {
        // A key is 47 ASCII characters (LooksLikeApiKey): its UTF-8 bytes are its characters.
        Span<byte> utf8 = stackalloc byte[secret.Length];
        Encoding.UTF8.GetBytes(secret, utf8);
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(utf8, hash);
        Convert.TryToHexString(hash, key, out _);
    }
}
