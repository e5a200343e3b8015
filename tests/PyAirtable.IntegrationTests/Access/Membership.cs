using PyAirtable.Contracts.Auth;
using PyAirtable.Contracts.Permissions;
using PyAirtable.Contracts.Workspaces;
using PyAirtable.IntegrationTests.Identity;
using PyAirtable.IntegrationTests.Infrastructure;

namespace PyAirtable.IntegrationTests.Access;

/// <summary>Joining a workspace the way users do now: invited by an owner, accepted with a verified e-mail address.</summary>
public static class Membership
{
    /// <summary>
    /// Verifies the user's address through the host's development mail sender (no Mail:Host: the mail, code
    /// included, is written to the log) and returns the user with the verified access token VerifyEmail gave.
    /// </summary>
    public static async Task<TestUser> VerifyEmailAsync(this TestHost host, TestUser user)
    {
        var sent = await host.Auth().SendVerificationEmailAsync(new SendVerificationEmailRequest(), user.Bearer);
        if (sent.AlreadyVerified)
        {
            var refreshed = await host.Auth().RefreshAsync(new RefreshRequest { RefreshToken = user.Tokens.RefreshToken });
            return user with { Tokens = refreshed.Tokens! };
        }

        var mail = host.Logs.Entries.LastOrDefault(e => e.Message.Contains("to " + user.Email + ":", StringComparison.Ordinal))
            ?? throw new InvalidOperationException("No verification mail for " + user.Email + " in the host's log (is Mail:Host set?)");
        var code = SmtpSink.CodeIn(mail.Message) ?? throw new InvalidOperationException("No code in " + mail.Message);
        var verified = await host.Auth().VerifyEmailAsync(new VerifyEmailRequest { Code = code }, user.Bearer);
        return user with { Tokens = user.Tokens with { AccessToken = verified.AccessToken, AccessTokenExpiresAt = verified.AccessTokenExpiresAt } };
    }

    /// <summary>The owner invites (AddMember), the member verifies their address if needed and accepts; returns the verified member.</summary>
    public static async Task<TestUser> JoinAsync(this TestHost host, TestUser owner, TestUser member, string workspaceId, PermissionLevel level)
    {
        var invited = await host.Workspaces().AddMemberAsync(new AddMemberRequest { WorkspaceId = workspaceId, UserId = member.UserId, Level = level }, owner.Bearer);
        var verified = await host.VerifyEmailAsync(member);
        await host.Workspaces().AcceptInviteAsync(new AcceptInviteRequest { InvitationId = invited.InvitationId }, verified.Bearer);
        return verified;
    }
}
