using PyAirtable.Contracts.Auth;
using PyAirtable.Services.Infrastructure.Errors;
using PyAirtable.Services.Infrastructure.Identity;
using CallContext = ProtoBuf.Grpc.CallContext;

namespace PyAirtable.Services.Auth;

public sealed partial class AuthService
{
    public async ValueTask<SendVerificationEmailResponse> SendVerificationEmailAsync(SendVerificationEmailRequest request, CallContext context = default)
    {
        var caller = context.RequireSession("Verifying an e-mail address");
        var (email, expires) = await _verification.SendAsync(Guid.Parse(caller.UserId), context.CancellationToken);
        return new SendVerificationEmailResponse { Email = email, ExpiresAt = expires, AlreadyVerified = expires is null };
    }

    public async ValueTask<VerifyEmailResponse> VerifyEmailAsync(VerifyEmailRequest request, CallContext context = default)
    {
        var caller = context.RequireSession("Verifying an e-mail address");
        var code = EmailVerification.Normalize(request.Code);
        if (code is null)
        {
            throw new ValidationException("code", $"must be the {EmailVerification.CodeDigits} digits of the verification mail");
        }

        var ct = context.CancellationToken;
        var userId = Guid.Parse(caller.UserId);
        var (email, verifiedAt, justVerified, roles) = await _verification.VerifyAsync(userId, code, ct);
        if (!justVerified)
        {
            // Verified before: no new token, or any token of the session could be renewed here forever without
            // a refresh token (Refresh and Login already issue tokens that say email_verified=true).
            return new VerifyEmailResponse { Email = email, VerifiedAt = verifiedAt };
        }

        // This call proved the address, once per account: the caller's token still says email_verified=false, so hand
        // them one of the same session that says true, with the roles as stored (not as the old token claimed).
        var (access, accessExpires) = await _tokens.IssueAsync(caller.UserId, email, true, roles, caller.CredentialId, ct);
        return new VerifyEmailResponse { Email = email, VerifiedAt = verifiedAt, AccessToken = access, AccessTokenExpiresAt = accessExpires };
    }
}
