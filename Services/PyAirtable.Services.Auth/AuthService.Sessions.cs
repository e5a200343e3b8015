using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Identity;
using PyAirtable.Contracts.Auth;
using PyAirtable.Contracts.Common;
using PyAirtable.Services.Auth.Stores;
using PyAirtable.Services.Infrastructure.Errors;
using PyAirtable.Services.Infrastructure.Identity;
using PyAirtable.Services.Infrastructure.Requests;
using PyAirtable.Services.Infrastructure.SharedState;
using CallContext = ProtoBuf.Grpc.CallContext;

namespace PyAirtable.Services.Auth;

/// <summary>Sessions: a login starts one, each refresh spends its refresh token for a new one, a logout ends it.</summary>
public sealed partial class AuthService
{
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

        await using var db = await AuthSession.OpenAsync(_dataSource, ct);
        var account = await db.Accounts.FindByEmailAsync(email, ct);
        var verdict = _hasher.VerifyHashedPassword(Account.Instance, account?.PasswordHash ?? _dummyHash.Value, request.Password);
        if (account is null || verdict == PasswordVerificationResult.Failed)
        {
            Fail.Unauthenticated("The e-mail address or the password is wrong.");
        }

        await EnsureActiveAsync(account, db, ct);
        await _throttle.SucceededAsync(db.Connection, account.UserId, email, clientIp, ct);
        if (verdict == PasswordVerificationResult.SuccessRehashNeeded)
        {
            await db.Accounts.UpdatePasswordHashAsync(account.UserId, _hasher.HashPassword(Account.Instance, request.Password), ct);
        }

        var sessionId = Guid.CreateVersion7();
        var (refresh, refreshHash) = TokenService.NewSecret(RefreshTokenPrefix);
        var refreshExpires = _time.GetUtcNow().UtcDateTime + _tokens.Options.RefreshTokenLifetime;
        await db.Sessions.StartAsync(sessionId, account.UserId, refreshExpires, refreshHash, ct);
        var (access, accessExpires) = await _tokens.IssueAsync(
            account.UserId.ToString(), account.Email, account.EmailVerified, account.Roles, sessionId.ToString(), ct);
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
        await using var db = await AuthSession.BeginAsync(_dataSource, ct);
        var row = await db.Sessions.LockRefreshTokenAsync(hash, ct);
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
            await db.Sessions.RevokeAsync(row.SessionId, "refresh_token_reuse", ct);
            await _revocations.RecordAsync(db.WriteTransaction, revoked, ct);
            await db.CommitAsync(ct);
            await _revocations.PublishAsync(revoked);
            throw Unauthenticated("The refresh token was already used; the session has been ended. Log in again.", "refresh_token_reused");
        }

        if (row.ExpiresAt <= _time.GetUtcNow().UtcDateTime)
        {
            throw Unauthenticated("The refresh token has expired; log in again.", "expired");
        }

        var account = new AccountRow { UserId = row.UserId, Email = row.Email, Roles = row.Roles, DisabledAt = row.DisabledAt };
        await EnsureActiveAsync(account, db, ct);
        var (refresh, refreshHash) = TokenService.NewSecret(RefreshTokenPrefix);
        var refreshExpires = _time.GetUtcNow().UtcDateTime + _tokens.Options.RefreshTokenLifetime;
        await db.Sessions.RotateRefreshTokenAsync(hash, refreshHash, row.SessionId, refreshExpires, ct);
        await db.CommitAsync(ct);
        var (access, accessExpires) = await _tokens.IssueAsync(
            row.UserId.ToString(), row.Email, row.EmailVerified, row.Roles, row.SessionId.ToString(), ct);
        return new RefreshResponse { Tokens = Tokens(access, accessExpires, refresh, refreshExpires) };
    }

    public async ValueTask<LogoutResponse> LogoutAsync(LogoutRequest request, CallContext context = default)
    {
        var caller = context.RequireCaller();
        var ct = context.CancellationToken;
        await using var db = await AuthSession.BeginAsync(_dataSource, ct);
        Guid sessionId;
        if (!string.IsNullOrEmpty(request.RefreshToken))
        {
            var found = await db.Sessions.FindByRefreshTokenAsync(TokenService.Hash(request.RefreshToken), ct);
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
        await db.Sessions.RevokeAsync(sessionId, "logout", ct);
        await _revocations.RecordAsync(db.WriteTransaction, revoked, ct);
        await db.CommitAsync(ct);
        await _revocations.PublishAsync(revoked);
        return new LogoutResponse();
    }

    private async Task EnsureActiveAsync(AccountRow account, AuthSession db, CancellationToken ct)
    {
        // disabled_at is set when the user.deactivated event is delivered; the revocation list covers the moments before.
        var userId = account.UserId.ToString();
        if (account.DisabledAt is not null
            || await _revocations.IsRevokedAsync(RevocationList.User(userId), userId, db.Connection, db.Transaction, ct))
        {
            throw Unauthenticated("The account is deactivated.", "account_deactivated");
        }
    }

    private static TokenSet Tokens(string access, DateTime accessExpires, string refresh, DateTime refreshExpires) => new()
    {
        AccessToken = access,
        TokenType = "Bearer",
        AccessTokenExpiresAt = accessExpires,
        RefreshToken = refresh,
        RefreshTokenExpiresAt = refreshExpires,
    };
}
