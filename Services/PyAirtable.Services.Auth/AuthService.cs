using System.Security.Claims;
using Dapper;
using Grpc.Core;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Identity;
using Npgsql;
using PyAirtable.Contracts.Auth;
using PyAirtable.Contracts.Common;
using PyAirtable.Contracts.Users;
using PyAirtable.Services.Infrastructure.Errors;
using PyAirtable.Services.Infrastructure.Identity;
using PyAirtable.Services.Infrastructure.Pagination;
using PyAirtable.Services.Infrastructure.Requests;
using PyAirtable.Services.Infrastructure.SharedState;
using CallContext = ProtoBuf.Grpc.CallContext;

namespace PyAirtable.Services.Auth;

/// <summary>pyairtable.auth.v1.AuthService over the <c>auth</c> schema.</summary>
public sealed partial class AuthService : IAuthService
{
    internal const string RefreshTokenPrefix = "rt_";
    internal const string ApiKeyPrefix = "pat_";
    private const int VisiblePrefixLength = 12;

    private readonly NpgsqlDataSource _db;
    private readonly TokenService _tokens;
    private readonly SigningKeyStore _keys;
    private readonly LoginThrottle _throttle;
    private readonly ServiceIdentity _serviceIdentity;
    private readonly IUserService _users;
    private readonly RevocationList _revocations;
    private readonly CursorCodec _cursors;
    private readonly IPasswordHasher<Account> _hasher;
    private readonly TimeProvider _time;
    private readonly Lazy<string> _dummyHash;
    private readonly EmailVerification _verification;

    internal AuthService(
        NpgsqlDataSource db, TokenService tokens, SigningKeyStore keys, LoginThrottle throttle, ServiceIdentity serviceIdentity,
        IUserService users, RevocationList revocations, CursorCodec cursors, IPasswordHasher<Account> hasher, TimeProvider time,
        EmailVerification verification)
    {
        _verification = verification;
        _db = db;
        _tokens = tokens;
        _keys = keys;
        _throttle = throttle;
        _serviceIdentity = serviceIdentity;
        _users = users;
        _revocations = revocations;
        _cursors = cursors;
        _hasher = hasher;
        _time = time;
        // Unknown e-mail addresses are checked against this, so they cost as much time as wrong passwords.
        _dummyHash = new Lazy<string>(() => hasher.HashPassword(Account.Instance, Guid.NewGuid().ToString()));
    }

    /// <summary>The user type of ASP.NET Core Identity's password hasher (it does not use it).</summary>
    public sealed class Account
    {
        public static Account Instance { get; } = new();
    }

    [AllowAnonymous]
    public async ValueTask<RegisterResponse> RegisterAsync(RegisterRequest request, CallContext context = default)
    {
        var email = Validation.NormalizeEmail(request.Email);
        new RequestValidator()
            .Email("email", email)
            .Password("password", request.Password)
            .Name("display_name", request.DisplayName)
            .ThrowIfInvalid();
        var http = context.ServerCallContext?.GetHttpContext()
            ?? throw new InvalidOperationException("Register is served over gRPC only.");

        var ct = context.CancellationToken;
        var userId = Guid.CreateVersion7();
        var hash = _hasher.HashPassword(Account.Instance, request.Password);
        await using (var connection = await _db.OpenConnectionAsync(ct))
        {
            var inserted = await connection.ExecuteAsync(new CommandDefinition(
                "INSERT INTO auth.credentials (user_id, email, password_hash) VALUES (@userId, @email, @hash) ON CONFLICT (email) DO NOTHING",
                new { userId, email, hash }, cancellationToken: ct));
            if (inserted == 0)
            {
                Fail.AlreadyExists("account", "An account with this e-mail address already exists.");
            }
        }

        try
        {
            // The profile belongs to the User service: create it through its contract, as the Auth service.
            using (CallerImpersonation.ActAs(http, ServiceIdentity.Principal, await _serviceIdentity.AuthorizationAsync(ct)))
            {
                await _users.CreateUserAsync(new CreateUserRequest { UserId = userId.ToString(), Email = email, DisplayName = request.DisplayName.Trim() }, context);
            }
        }
        catch
        {
            // No account without a profile: undo, so the address can be registered again.
            await using var connection = await _db.OpenConnectionAsync(CancellationToken.None);
            await connection.ExecuteAsync("DELETE FROM auth.credentials WHERE user_id = @userId", new { userId });
            throw;
        }

        return new RegisterResponse { UserId = userId.ToString(), Email = email };
    }

    [AllowAnonymous]
    public async ValueTask<LoginResponse> LoginAsync(LoginRequest request, CallContext context = default)
    {
        var email = Validation.NormalizeEmail(request.Email);
        var validator = new RequestValidator().Email("email", email);
        if (string.IsNullOrEmpty(request.Password) || request.Password.Length > Validation.MaxPasswordLength)
        {
            validator.Add("password", $"must be 1 to {Validation.MaxPasswordLength} characters");
        }

        validator.ThrowIfInvalid();
        var ct = context.CancellationToken;
        var clientIp = context.ServerCallContext is null ? "" : context.GetRequestMetadata().ClientIp;
        await _throttle.BeforeAttemptAsync(email, clientIp, ct);

        await using var connection = await _db.OpenConnectionAsync(ct);
        var account = await connection.QuerySingleOrDefaultAsync<AccountRow>(new CommandDefinition(
            """
            SELECT user_id AS UserId, email AS Email, password_hash AS PasswordHash, roles AS Roles, disabled_at AS DisabledAt,
                   email_verified_at IS NOT NULL AS EmailVerified
              FROM auth.credentials WHERE email = @email
            """,
            new { email }, cancellationToken: ct));
        var verdict = _hasher.VerifyHashedPassword(Account.Instance, account?.PasswordHash ?? _dummyHash.Value, request.Password);
        if (account is null || verdict == PasswordVerificationResult.Failed)
        {
            Fail.Unauthenticated("The e-mail address or the password is wrong.");
        }

        await EnsureActiveAsync(account, connection, null, ct);
        await _throttle.SucceededAsync(connection, account.UserId, email, clientIp, ct);
        if (verdict == PasswordVerificationResult.SuccessRehashNeeded)
        {
            await connection.ExecuteAsync(new CommandDefinition(
                "UPDATE auth.credentials SET password_hash = @hash, updated_at = now() WHERE user_id = @UserId",
                new { hash = _hasher.HashPassword(Account.Instance, request.Password), account.UserId }, cancellationToken: ct));
        }

        var sessionId = Guid.CreateVersion7();
        var (refresh, refreshHash) = TokenService.NewSecret(RefreshTokenPrefix);
        var refreshExpires = _time.GetUtcNow().UtcDateTime + _tokens.Options.RefreshTokenLifetime;
        await connection.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO auth.sessions (id, user_id, expires_at) VALUES (@sessionId, @UserId, @refreshExpires);
            INSERT INTO auth.refresh_tokens (token_hash, session_id, expires_at) VALUES (@refreshHash, @sessionId, @refreshExpires);
            """, new { sessionId, account.UserId, refreshExpires, refreshHash }, cancellationToken: ct));
        var (access, accessExpires) = await _tokens.IssueAsync(account.UserId.ToString(), account.Email, account.EmailVerified, account.Roles, sessionId.ToString(), ct);
        return new LoginResponse
        {
            UserId = account.UserId.ToString(),
            Tokens = Tokens(access, accessExpires, refresh, refreshExpires),
        };
    }

    [AllowAnonymous]
    public async ValueTask<RefreshResponse> RefreshAsync(RefreshRequest request, CallContext context = default)
    {
        if (string.IsNullOrEmpty(request.RefreshToken) || request.RefreshToken.Length > 200)
        {
            throw new ValidationException("refresh_token", "must be the refresh token of a Login or Refresh response");
        }

        var ct = context.CancellationToken;
        var hash = TokenService.Hash(request.RefreshToken);
        await using var connection = await _db.OpenConnectionAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        var row = await connection.QuerySingleOrDefaultAsync<RefreshRow>(new CommandDefinition(
            """
            SELECT rt.session_id AS SessionId, rt.expires_at AS ExpiresAt, rt.used_at AS UsedAt, s.revoked_at AS RevokedAt,
                   c.user_id AS UserId, c.email AS Email, c.roles AS Roles, c.disabled_at AS DisabledAt,
                   c.email_verified_at IS NOT NULL AS EmailVerified
              FROM auth.refresh_tokens rt
              JOIN auth.sessions s ON s.id = rt.session_id
              JOIN auth.credentials c ON c.user_id = s.user_id
             WHERE rt.token_hash = @hash
               FOR UPDATE OF rt, s
            """, new { hash }, tx, cancellationToken: ct));
        if (row is null)
        {
            throw Unauthenticated("The refresh token is not valid.", "invalid_refresh_token");
        }

        if (row.RevokedAt is not null)
        {
            throw Unauthenticated("The session has ended; log in again.", "revoked");
        }

        if (row.UsedAt is not null)
        {
            // A spent token came back: it was stolen or replayed. End the whole session.
            var revoked = RevocationList.Session(row.SessionId.ToString());
            await RevokeSessionAsync(connection, tx, row.SessionId, "refresh_token_reuse", ct);
            await _revocations.RecordAsync(tx, revoked, ct);
            await tx.CommitAsync(ct);
            await _revocations.PublishAsync(revoked);
            throw Unauthenticated("The refresh token was already used; the session has been ended. Log in again.", "refresh_token_reused");
        }

        if (row.ExpiresAt <= _time.GetUtcNow().UtcDateTime)
        {
            throw Unauthenticated("The refresh token has expired; log in again.", "expired");
        }

        await EnsureActiveAsync(new AccountRow { UserId = row.UserId, Email = row.Email, Roles = row.Roles, DisabledAt = row.DisabledAt }, connection, tx, ct);
        var (refresh, refreshHash) = TokenService.NewSecret(RefreshTokenPrefix);
        var refreshExpires = _time.GetUtcNow().UtcDateTime + _tokens.Options.RefreshTokenLifetime;
        await connection.ExecuteAsync(new CommandDefinition(
            """
            UPDATE auth.refresh_tokens SET used_at = now() WHERE token_hash = @hash;
            INSERT INTO auth.refresh_tokens (token_hash, session_id, expires_at) VALUES (@refreshHash, @SessionId, @refreshExpires);
            UPDATE auth.sessions SET expires_at = @refreshExpires WHERE id = @SessionId;
            """, new { hash, refreshHash, row.SessionId, refreshExpires }, tx, cancellationToken: ct));
        await tx.CommitAsync(ct);
        var (access, accessExpires) = await _tokens.IssueAsync(row.UserId.ToString(), row.Email, row.EmailVerified, row.Roles, row.SessionId.ToString(), ct);
        return new RefreshResponse { Tokens = Tokens(access, accessExpires, refresh, refreshExpires) };
    }

    public async ValueTask<LogoutResponse> LogoutAsync(LogoutRequest request, CallContext context = default)
    {
        var caller = context.RequireCaller();
        var ct = context.CancellationToken;
        await using var connection = await _db.OpenConnectionAsync(ct);
        Guid sessionId;
        if (!string.IsNullOrEmpty(request.RefreshToken))
        {
            var found = await connection.QuerySingleOrDefaultAsync<(Guid SessionId, Guid UserId)?>(new CommandDefinition(
                "SELECT s.id, s.user_id FROM auth.refresh_tokens rt JOIN auth.sessions s ON s.id = rt.session_id WHERE rt.token_hash = @hash",
                new { hash = TokenService.Hash(request.RefreshToken) }, cancellationToken: ct));
            if (found is null || found.Value.UserId.ToString() != caller.UserId)
            {
                throw new ValidationException("refresh_token", "is not a refresh token of the caller");
            }

            sessionId = found.Value.SessionId;
        }
        else if (caller.AuthMethod == AuthMethod.Jwt && Guid.TryParse(caller.CredentialId, out var current))
        {
            sessionId = current;
        }
        else
        {
            Fail.FailedPrecondition("Only a session can log out; revoke an API key with RevokeApiKey.");
            return null!;
        }

        var revoked = RevocationList.Session(sessionId.ToString());
        await using (var tx = await connection.BeginTransactionAsync(ct))
        {
            await RevokeSessionAsync(connection, tx, sessionId, "logout", ct);
            await _revocations.RecordAsync(tx, revoked, ct);
            await tx.CommitAsync(ct);
        }

        await _revocations.PublishAsync(revoked);
        return new LogoutResponse();
    }

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

        await using var connection = await _db.OpenConnectionAsync(ct);
        var key = await connection.QuerySingleOrDefaultAsync<ApiKeyAuthRow>(new CommandDefinition(
            """
            SELECT k.id AS Id, k.user_id AS UserId, k.scopes AS Scopes, k.expires_at AS ExpiresAt, k.revoked_at AS RevokedAt,
                   k.last_used_at AS LastUsedAt, c.email AS Email, c.roles AS Roles, c.disabled_at AS DisabledAt,
                   c.email_verified_at IS NOT NULL AS EmailVerified
              FROM auth.api_keys k JOIN auth.credentials c ON c.user_id = k.user_id
             WHERE k.secret_hash = @hash
            """, new { hash = TokenService.Hash(request.ApiKey!) }, cancellationToken: ct));
        var now = _time.GetUtcNow().UtcDateTime;
        if (key is null)
        {
            return new ValidateTokenResponse { Reason = "invalid_api_key" };
        }

        if (key.RevokedAt is not null || key.DisabledAt is not null
            || await _revocations.IsRevokedAsync(RevocationList.ApiKey(key.Id.ToString()), key.UserId.ToString(), connection, null, ct))
        {
            return new ValidateTokenResponse { Reason = "revoked" };
        }

        if (key.ExpiresAt is { } expiresAt && expiresAt <= now)
        {
            return new ValidateTokenResponse { Reason = "expired" };
        }

        if (key.LastUsedAt is null || now - key.LastUsedAt > TimeSpan.FromMinutes(1))
        {
            await connection.ExecuteAsync(new CommandDefinition(
                "UPDATE auth.api_keys SET last_used_at = now() WHERE id = @Id", new { key.Id }, cancellationToken: ct));
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

    private async Task EnsureActiveAsync(AccountRow account, NpgsqlConnection connection, NpgsqlTransaction? tx, CancellationToken ct)
    {
        // disabled_at is set when the user.deactivated event is delivered; the revocation list covers the moments before.
        var userId = account.UserId.ToString();
        if (account.DisabledAt is not null || await _revocations.IsRevokedAsync(RevocationList.User(userId), userId, connection, tx, ct))
        {
            throw Unauthenticated("The account is deactivated.", "account_deactivated");
        }
    }

    private static async Task RevokeSessionAsync(NpgsqlConnection connection, NpgsqlTransaction tx, Guid sessionId, string reason, CancellationToken ct) =>
        await connection.ExecuteAsync(new CommandDefinition(
            "UPDATE auth.sessions SET revoked_at = now(), revoked_reason = @reason WHERE id = @sessionId AND revoked_at IS NULL",
            new { sessionId, reason }, tx, cancellationToken: ct));

    private static PlatformException Unauthenticated(string message, string cause) =>
        new(ErrorCode.Unauthenticated, message, new Dictionary<string, string> { ["cause"] = cause });

    private static TokenSet Tokens(string access, DateTime accessExpires, string refresh, DateTime refreshExpires) => new()
    {
        AccessToken = access,
        TokenType = "Bearer",
        AccessTokenExpiresAt = accessExpires,
        RefreshToken = refresh,
        RefreshTokenExpiresAt = refreshExpires,
    };

    internal sealed record AccountRow
    {
        public Guid UserId { get; init; }
        public string Email { get; init; } = "";
        public string PasswordHash { get; init; } = "";
        public string[] Roles { get; init; } = [];
        public DateTime? DisabledAt { get; init; }
        public bool EmailVerified { get; init; }
    }

    internal sealed record RefreshRow
    {
        public Guid SessionId { get; init; }
        public DateTime ExpiresAt { get; init; }
        public DateTime? UsedAt { get; init; }
        public DateTime? RevokedAt { get; init; }
        public Guid UserId { get; init; }
        public string Email { get; init; } = "";
        public string[] Roles { get; init; } = [];
        public DateTime? DisabledAt { get; init; }
        public bool EmailVerified { get; init; }
    }

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
}
