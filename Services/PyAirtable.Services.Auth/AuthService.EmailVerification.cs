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
        var (email, verifiedAt) = await _verification.VerifyAsync(userId, code, ct);
        // The caller's token still says email_verified=false: hand them one of the same session that says true.
        var (access, accessExpires) = await _tokens.IssueAsync(caller.UserId, email, true, caller.Roles, caller.CredentialId, ct);
        return new VerifyEmailResponse { Email = email, VerifiedAt = verifiedAt, AccessToken = access, AccessTokenExpiresAt = accessExpires };
    }
}
