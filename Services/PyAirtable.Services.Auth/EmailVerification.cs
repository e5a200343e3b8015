using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using PyAirtable.Contracts.Common;
using PyAirtable.Services.Auth.Mail;
using PyAirtable.Services.Auth.Stores;
using PyAirtable.Services.Infrastructure.Errors;
using PyAirtable.Services.Infrastructure.SharedState;

namespace PyAirtable.Services.Auth;

/// <summary>E-mail verification limits (section <c>Auth:EmailVerification</c>).</summary>
public sealed class EmailVerificationOptions
{
    /// <summary>How long a mailed code is accepted.</summary>
    public TimeSpan CodeLifetime { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>Wrong tries after which the code is dead (a new one must be requested).</summary>
    public int MaxAttempts { get; set; } = 5;

    /// <summary>Shortest time between two mails to one account.</summary>
    public TimeSpan ResendInterval { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>Mails per account per day.</summary>
    public int MaxPerDay { get; set; } = 10;
}

/// <summary>
/// Codes that prove an account receives mail at its address. A code is 8 random digits (10^8: with 5 tries
/// per code and 10 codes a day, guessing succeeds with odds of 1 in 2,000,000 a day), kept only as a SHA-256
/// hash bound to the account and the address, accepted for 15 minutes. The per-account mail limits live in
/// the shared state (Redis): losing them only lets a few more mails out, never accepts a wrong code.
/// </summary>
internal sealed partial class EmailVerification(
    NpgsqlDataSource dataSource, IMailSender mail, ISharedState state, IOptions<EmailVerificationOptions> options,
    ILogger<EmailVerification> logger)
{
    public const int CodeDigits = 8;

    /// <summary>Mails a new code to the account's address (replacing any pending one); null when already verified.</summary>
    public async Task<(string Email, DateTime? ExpiresAt)> SendAsync(Guid userId, CancellationToken ct)
    {
        await using var db = await AuthSession.OpenAsync(dataSource, ct);
        var account = await db.Verifications.AccountEmailAsync(userId, ct);
        if (account is null)
        {
            Fail.NotFound("account", userId.ToString());
        }

        if (account.Value.Verified)
        {
            return (account.Value.Email, null);
        }

        await ThrottleAsync(userId);
        var code = RandomNumberGenerator.GetInt32(0, 100_000_000).ToString("D8", CultureInfo.InvariantCulture);
        var o = options.Value;
        var expires = await db.Verifications.ReplaceCodeAsync(
            userId, account.Value.Email, Hash(userId, account.Value.Email, code), o.CodeLifetime, ct);
        try
        {
            await mail.SendAsync(new OutgoingMail(account.Value.Email, $"Your PyAirtable verification code: {code}",
                $"""
                Your code to verify this e-mail address on PyAirtable is:

                    {code}

                It expires in {o.CodeLifetime.TotalMinutes:0} minutes. If you did not ask for it, ignore this mail.
                """), ct);
        }
        catch (MailDeliveryException ex)
        {
            LogMailFailed(logger, userId, ex);
            await state.DeleteAsync(MinuteKey(userId)); // the caller may retry at once
            throw new PlatformException(ErrorCode.Unavailable, "The verification mail could not be sent; try again shortly.")
            {
                RetryAfter = TimeSpan.FromSeconds(5),
            };
        }

        LogCodeSent(logger, userId);
        return (account.Value.Email, DateTime.SpecifyKind(expires, DateTimeKind.Utc));
    }

    /// <summary>
    /// Checks a code; on success marks the address verified and returns when, whether this call verified it
    /// (false when it was verified before) and the account's roles as stored.
    /// </summary>
    public async Task<(string Email, DateTime VerifiedAt, bool JustVerified, string[] Roles)> VerifyAsync(
        Guid userId, string code, CancellationToken ct)
    {
        var o = options.Value;
        await using var db = await AuthSession.BeginAsync(dataSource, ct);
        var pending = await db.Verifications.LockAsync(userId, ct);
        if (pending is null)
        {
            Fail.NotFound("account", userId.ToString());
        }

        if (pending.VerifiedAt is { } already)
        {
            return (pending.AccountEmail, DateTime.SpecifyKind(already, DateTimeKind.Utc), false, pending.Roles);
        }

        if (pending.CodeHash is null || pending.Consumed || pending.Email != pending.AccountEmail)
        {
            Fail.FailedPrecondition("No verification code is pending for your address: call SendVerificationEmail first.", Rule("no_code"));
        }

        if (pending.Expired)
        {
            Fail.FailedPrecondition("The verification code has expired: call SendVerificationEmail for a new one.", Rule("code_expired"));
        }

        if (pending.FailedAttempts >= o.MaxAttempts)
        {
            Fail.FailedPrecondition($"The verification code was tried wrongly {o.MaxAttempts} times and no longer works: " +
                "call SendVerificationEmail for a new one.", Rule("code_exhausted"));
        }

        if (!CryptographicOperations.FixedTimeEquals(pending.CodeHash, Hash(userId, pending.Email, code)))
        {
            var failed = await db.Verifications.CountFailureAsync(userId, ct);
            await db.CommitAsync(ct);
            var left = Math.Max(0, o.MaxAttempts - failed);
            throw new ValidationException("code", left > 0
                ? $"is not the code that was mailed; {left} more tries before it stops working"
                : "is not the code that was mailed; the code no longer works: call SendVerificationEmail for a new one");
        }

        var verifiedAt = await db.Verifications.MarkVerifiedAsync(userId, ct);
        await db.CommitAsync(ct);
        return (pending.AccountEmail, DateTime.SpecifyKind(verifiedAt, DateTimeKind.Utc), true, pending.Roles);
    }

    /// <summary>Digits only: people paste codes with spaces or dashes.</summary>
    public static string? Normalize(string? code)
    {
        var digits = new string((code ?? "").Where(c => c is not (' ' or '-')).ToArray());
        return digits.Length == CodeDigits && digits.All(char.IsAsciiDigit) ? digits : null;
    }

    private async Task ThrottleAsync(Guid userId)
    {
        var o = options.Value;
        var minute = await state.IncrementAsync(MinuteKey(userId), o.ResendInterval);
        if (minute.Count > 1)
        {
            throw Exhausted("A verification mail was sent moments ago; wait before asking for another.", "resend_interval", minute.Remaining);
        }

        var day = await state.IncrementAsync("email-verification:day:" + userId.ToString("N"), TimeSpan.FromDays(1));
        if (day.Count > o.MaxPerDay)
        {
            throw Exhausted($"At most {o.MaxPerDay} verification mails a day are sent to one account.", "daily_limit", day.Remaining);
        }
    }

    private static string MinuteKey(Guid userId) => "email-verification:recent:" + userId.ToString("N");

    private static PlatformException Exhausted(string message, string limit, TimeSpan remaining) =>
        new(ErrorCode.ResourceExhausted, message, new Dictionary<string, string> { ["limit"] = limit })
        {
            RetryAfter = remaining > TimeSpan.Zero ? remaining : TimeSpan.FromSeconds(1),
        };

    private static Dictionary<string, string> Rule(string rule) => new() { ["rule"] = rule };

    private static byte[] Hash(Guid userId, string email, string code) =>
        SHA256.HashData(Encoding.UTF8.GetBytes($"email-verification\n{userId:N}\n{email}\n{code}"));

    [LoggerMessage(Level = LogLevel.Information, Message = "Verification code mailed for account {UserId}")]
    private static partial void LogCodeSent(ILogger logger, Guid userId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Verification mail for account {UserId} could not be sent")]
    private static partial void LogMailFailed(ILogger logger, Guid userId, Exception exception);
}
