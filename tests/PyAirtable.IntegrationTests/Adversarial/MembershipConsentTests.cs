using Dapper;
using Google.Rpc;
using Grpc.Core;
using Npgsql;
using PyAirtable.Contracts.Auth;
using PyAirtable.Contracts.Permissions;
using PyAirtable.Contracts.Users;
using PyAirtable.Contracts.Workspaces;
using PyAirtable.Contracts.Events;
using PyAirtable.IntegrationTests.Access;
using PyAirtable.IntegrationTests.Identity;
using PyAirtable.IntegrationTests.Infrastructure;
using static PyAirtable.IntegrationTests.Access.Access;
using static PyAirtable.IntegrationTests.Identity.AuthenticationTests;

namespace PyAirtable.IntegrationTests.Adversarial;

/// <summary>A host whose mail goes to a real SMTP server (python3-aiosmtpd) that the tests read.</summary>
public sealed class SmtpHostFixture : IAsyncLifetime
{
    private SmtpSink? _sink;
    private TestDatabase? _database;
    private TestHost? _host;

    public SmtpSink Sink => _sink ?? throw new InvalidOperationException("not started");

    public TestDatabase Database => _database ?? throw new InvalidOperationException("not started");

    public TestHost Host => _host ?? throw new InvalidOperationException("not started");

    public async Task InitializeAsync()
    {
        _sink = await SmtpSink.StartAsync();
        _database = await TestDatabase.CreateAsync();
        _host = await TestHost.StartAsync(_database.ConnectionString, o =>
        {
            o.Settings["Mail:Host"] = "127.0.0.1";
            o.Settings["Mail:Port"] = _sink.Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
            o.Settings["Mail:From"] = "no-reply@pyairtable.test";
            o.Settings["Mail:Tls"] = "None";
        });
    }

    public async Task DisposeAsync()
    {
        if (_host is not null)
        {
            await _host.DisposeAsync();
        }

        if (_database is not null)
        {
            await _database.DisposeAsync();
        }

        if (_sink is not null)
        {
            await _sink.DisposeAsync();
        }
    }
}

/// <summary>
/// Issue 9 item 6, tried as the attacker did: adding a victim to spam workspaces, adding ids that are no users,
/// then reading the victim's profile. Membership needs the invitee's acceptance from a verified address, and the
/// address is verified with a code mailed through a real SMTP server.
/// </summary>
public sealed class MembershipConsentTests(SmtpHostFixture fixture) : IClassFixture<SmtpHostFixture>, IDisposable
{
    private TestHost Host => fixture.Host;

    public void Dispose()
    {
        var unexpected = Host.Logs.UnexpectedErrors;
        Host.Logs.TakeErrors(_ => true);
        Assert.True(unexpected.Count == 0, "Unexpected error logs:\n" + string.Join("\n", unexpected));
    }

    private async Task<TestUser> VerifyThroughMailAsync(TestUser user)
    {
        await Host.Auth().SendVerificationEmailAsync(new SendVerificationEmailRequest(), user.Bearer);
        var code = await fixture.Sink.WaitForCodeAsync(user.Email);
        var verified = await Host.Auth().VerifyEmailAsync(new VerifyEmailRequest { Code = code }, user.Bearer);
        return user with { Tokens = user.Tokens with { AccessToken = verified.AccessToken } };
    }

    [Fact]
    public async Task AddMember_FiftySpamWorkspaces_NoMembershipUntilAccepted_AndNoProfileRead()
    {
        var attacker = await Host.RegisterAsync();
        var victim = await Host.RegisterAsync();
        var spam = new List<string>();
        for (var i = 0; i < 50; i++)
        {
            var workspace = (await Host.Workspaces().CreateWorkspaceAsync(new CreateWorkspaceRequest { Name = "Spam " + i }, attacker.Bearer)).Workspace!;
            var added = await Host.Workspaces().AddMemberAsync(new AddMemberRequest { WorkspaceId = workspace.Id, UserId = victim.UserId, Level = PermissionLevel.Owner }, attacker.Bearer);
            Assert.True(added.Pending);
            Assert.Null(added.Member);
            Assert.Equal(victim.UserId, added.Invitation!.UserId);
            spam.Add(workspace.Id);
        }

        // Nothing reached the victim but invitations: no workspace, no shared membership, no profile for the attacker.
        Assert.Empty((await Host.Workspaces().ListWorkspacesAsync(new ListWorkspacesRequest(), victim.Bearer)).Workspaces);
        AssertStatus(await Assert.ThrowsAsync<RpcException>(async () =>
            await Host.Workspaces().GetWorkspaceAsync(new GetWorkspaceRequest { WorkspaceId = spam[0] }, victim.Bearer)), StatusCode.NotFound);
        AssertStatus(await Assert.ThrowsAsync<RpcException>(async () =>
            await Host.Users().GetUserAsync(new GetUserRequest { UserId = victim.UserId }, attacker.Bearer)), StatusCode.NotFound);
        Assert.Equal([attacker.UserId], (await Host.Workspaces().ListMembersAsync(new ListMembersRequest { WorkspaceId = spam[0] }, attacker.Bearer)).Members.Select(m => m.UserId));

        var pending = await Host.Permissions().ListMyInvitationsAsync(new ListMyInvitationsRequest { Pagination = new() { PageSize = 100 } }, victim.Bearer);
        Assert.Equal(spam.Order(), pending.Invitations.Select(i => i.WorkspaceId).Order());
        Assert.Equal(50, pending.Pagination!.TotalCount);

        // Accepting one (with a verified address) makes the victim a member of that one only; then the attacker, now a
        // co-member, sees the public profile (no e-mail address), as sharing a workspace allows.
        victim = await VerifyThroughMailAsync(victim);
        var chosen = pending.Invitations.Single(i => i.WorkspaceId == spam[7]);
        await Host.Workspaces().AcceptInviteAsync(new AcceptInviteRequest { InvitationId = chosen.Id }, victim.Bearer);
        Assert.Equal([spam[7]], (await Host.Workspaces().ListWorkspacesAsync(new ListWorkspacesRequest(), victim.Bearer)).Workspaces.Select(w => w.Id));
        var profile = (await Host.Users().GetUserAsync(new GetUserRequest { UserId = victim.UserId }, attacker.Bearer)).User!;
        Assert.Equal("", profile.Email);
        Assert.Equal("", profile.TimeZone);
        Assert.Equal(49, (await Host.Permissions().ListMyInvitationsAsync(new ListMyInvitationsRequest(), victim.Bearer)).Pagination!.TotalCount);
    }

    [Fact]
    public async Task AddMember_NilMalformedOrUnknownIds_Refused_AndGrantsCannotBypassConsent()
    {
        var owner = await Host.RegisterAsync();
        var outsider = await Host.RegisterAsync();
        var workspace = (await Host.Workspaces().CreateWorkspaceAsync(new CreateWorkspaceRequest { Name = "Closed" }, owner.Bearer)).Workspace!;
        var baseId = (await Host.Workspaces().CreateBaseAsync(new CreateBaseRequest { WorkspaceId = workspace.Id, Name = "B" }, owner.Bearer)).Base!.Id;
        var role = (await Host.Permissions().CreateRoleAsync(new CreateRoleRequest
        {
            WorkspaceId = workspace.Id, Name = "editors", Permissions = [new RoleLevel { Type = ResourceType.Base, Level = PermissionLevel.Edit }],
        }, owner.Bearer)).Role!;

        Task<AddMemberResponse> Add(string userId) =>
            Host.Workspaces().AddMemberAsync(new AddMemberRequest { WorkspaceId = workspace.Id, UserId = userId, Level = PermissionLevel.Owner }, owner.Bearer).AsTask();

        var nil = await Assert.ThrowsAsync<RpcException>(() => Add(Guid.Empty.ToString()));
        AssertStatus(nil, StatusCode.InvalidArgument);
        Assert.Equal("user_id", nil.GetRpcStatus()!.GetDetail<BadRequest>().FieldViolations.Single().Field);
        AssertStatus(await Assert.ThrowsAsync<RpcException>(() => Add("not-a-uuid")), StatusCode.InvalidArgument);
        var unknown = Guid.CreateVersion7().ToString();
        Assert.Equal("user", AssertStatus(await Assert.ThrowsAsync<RpcException>(() => Add(unknown)), StatusCode.NotFound).Metadata["resource_type"]);

        // Only owners get an answer about user ids at all; strangers learn nothing about the workspace either.
        AssertStatus(await Assert.ThrowsAsync<RpcException>(async () => await Host.Workspaces().AddMemberAsync(
            new AddMemberRequest { WorkspaceId = workspace.Id, UserId = unknown, Level = PermissionLevel.Read }, outsider.Bearer)), StatusCode.NotFound);
        Assert.Equal("workspace", AssertStatus(await Assert.ThrowsAsync<RpcException>(async () => await Host.Workspaces().AddMemberAsync(
            new AddMemberRequest { WorkspaceId = workspace.Id, UserId = owner.UserId, Level = PermissionLevel.Read }, outsider.Bearer)), StatusCode.NotFound).Metadata["resource_type"]);

        // The direct routes into a workspace are closed for people who did not join: a grant on it or on anything in
        // it, a role, a "level change".
        foreach (var call in new Func<Task>[]
        {
            async () => await Host.Permissions().GrantAsync(new GrantRequest { Resource = Ref(ResourceType.Workspace, workspace.Id), UserId = outsider.UserId, Level = PermissionLevel.Owner }, owner.Bearer),
            async () => await Host.Permissions().GrantAsync(new GrantRequest { Resource = Ref(ResourceType.Base, baseId), UserId = outsider.UserId, Level = PermissionLevel.Read }, owner.Bearer),
            async () => await Host.Permissions().GrantAsync(new GrantRequest { Resource = Ref(ResourceType.Workspace, workspace.Id), UserId = Guid.Empty.ToString(), Level = PermissionLevel.Read }, owner.Bearer),
            async () => await Host.Permissions().AssignRoleAsync(new AssignRoleRequest { RoleId = role.Id, UserId = outsider.UserId }, owner.Bearer),
            async () => await Host.Workspaces().ChangeMemberRoleAsync(new ChangeMemberRoleRequest { WorkspaceId = workspace.Id, UserId = outsider.UserId, Level = PermissionLevel.Edit }, owner.Bearer),
        })
        {
            var refused = await Assert.ThrowsAsync<RpcException>(call);
            Assert.Equal("not_a_member", AssertStatus(refused, StatusCode.FailedPrecondition).Metadata["rule"]);
        }

        Assert.Empty((await Host.Workspaces().ListWorkspacesAsync(new ListWorkspacesRequest(), outsider.Bearer)).Workspaces);
        AssertStatus(await Assert.ThrowsAsync<RpcException>(async () =>
            await Host.Workspaces().GetBaseAsync(new GetBaseRequest { BaseId = baseId }, outsider.Bearer)), StatusCode.NotFound);
    }

    [Fact]
    public async Task Invitee_CanDecline_MembersCanLeave_LastOwnerCannot()
    {
        var owner = await Host.RegisterAsync();
        var invitee = await VerifyThroughMailAsync(await Host.RegisterAsync());
        var first = (await Host.Workspaces().CreateWorkspaceAsync(new CreateWorkspaceRequest { Name = "Declined" }, owner.Bearer)).Workspace!;
        var second = (await Host.Workspaces().CreateWorkspaceAsync(new CreateWorkspaceRequest { Name = "Left" }, owner.Bearer)).Workspace!;
        var declineMe = await Host.Workspaces().AddMemberAsync(new AddMemberRequest { WorkspaceId = first.Id, UserId = invitee.UserId, Level = PermissionLevel.Edit }, owner.Bearer);
        var acceptMe = await Host.Workspaces().AddMemberAsync(new AddMemberRequest { WorkspaceId = second.Id, UserId = invitee.UserId, Level = PermissionLevel.Owner }, owner.Bearer);

        // Only the invitee may decline; afterwards the invitation is dead.
        AssertStatus(await Assert.ThrowsAsync<RpcException>(async () => await Host.Permissions().DeclineInvitationAsync(
            new DeclineInvitationRequest { InvitationId = declineMe.InvitationId }, owner.Bearer)), StatusCode.NotFound);
        var declined = await Host.Permissions().DeclineInvitationAsync(new DeclineInvitationRequest { InvitationId = declineMe.InvitationId }, invitee.Bearer);
        Assert.NotNull(declined.Invitation!.DeclinedAt);
        var late = await Assert.ThrowsAsync<RpcException>(async () =>
            await Host.Workspaces().AcceptInviteAsync(new AcceptInviteRequest { InvitationId = declineMe.InvitationId }, invitee.Bearer));
        Assert.Equal("invitation_declined", AssertStatus(late, StatusCode.FailedPrecondition).Metadata["rule"]);

        // A member (even a co-owner) leaves, and is gone from everything in the workspace.
        await Host.Workspaces().AcceptInviteAsync(new AcceptInviteRequest { InvitationId = acceptMe.InvitationId }, invitee.Bearer);
        await Host.Workspaces().CreateBaseAsync(new CreateBaseRequest { WorkspaceId = second.Id, Name = "Theirs" }, invitee.Bearer);
        var left = await Host.Workspaces().LeaveWorkspaceAsync(new LeaveWorkspaceRequest { WorkspaceId = second.Id }, invitee.Bearer);
        Assert.StartsWith("r", left.ConsistencyToken, StringComparison.Ordinal);
        Assert.Empty((await Host.Workspaces().ListWorkspacesAsync(new ListWorkspacesRequest(), invitee.Bearer)).Workspaces);
        Assert.Empty((await Host.Permissions().ListPermissionsAsync(new ListPermissionsRequest { UserId = invitee.UserId }, invitee.Bearer)).Permissions);
        AssertStatus(await Assert.ThrowsAsync<RpcException>(async () =>
            await Host.Workspaces().LeaveWorkspaceAsync(new LeaveWorkspaceRequest { WorkspaceId = second.Id }, invitee.Bearer)), StatusCode.NotFound);

        // The owner cannot pull them back in without a new invitation.
        var back = await Assert.ThrowsAsync<RpcException>(async () => await Host.Permissions().GrantAsync(
            new GrantRequest { Resource = Ref(ResourceType.Workspace, second.Id), UserId = invitee.UserId, Level = PermissionLevel.Read }, owner.Bearer));
        Assert.Equal("not_a_member", AssertStatus(back, StatusCode.FailedPrecondition).Metadata["rule"]);

        // The last owner stays, as with RemoveMember.
        var lastOwner = await Assert.ThrowsAsync<RpcException>(async () =>
            await Host.Workspaces().LeaveWorkspaceAsync(new LeaveWorkspaceRequest { WorkspaceId = second.Id }, owner.Bearer));
        Assert.Equal("last_owner", AssertStatus(lastOwner, StatusCode.FailedPrecondition).Metadata["rule"]);

        await using var connection = new NpgsqlConnection(fixture.Database.ConnectionString);
        var events = (await connection.QueryAsync<string>(
            "SELECT event_type FROM platform.outbox WHERE aggregate_id = @id AND event_type LIKE 'pyairtable.events.v1.Member%' ORDER BY id", new { id = second.Id })).ToList();
        Assert.Equal([EventTypes.NameOf<MemberInvited>(), EventTypes.NameOf<MemberAdded>(), EventTypes.NameOf<MemberRemoved>()], events);
    }

    [Fact]
    public async Task AcceptInvitation_UnverifiedAddress_FailedPrecondition_UntilVerified()
    {
        var owner = await Host.RegisterAsync();
        var invitee = await Host.RegisterAsync();
        var workspace = (await Host.Workspaces().CreateWorkspaceAsync(new CreateWorkspaceRequest { Name = "Verified only" }, owner.Bearer)).Workspace!;
        var byId = await Host.Workspaces().AddMemberAsync(new AddMemberRequest { WorkspaceId = workspace.Id, UserId = invitee.UserId, Level = PermissionLevel.Read }, owner.Bearer);
        var byEmail = (await Host.Workspaces().InviteMemberAsync(new InviteMemberRequest { WorkspaceId = workspace.Id, Email = invitee.Email, Level = PermissionLevel.Edit }, owner.Bearer)).Invitation!;

        foreach (var id in new[] { byId.InvitationId, byEmail.Id })
        {
            var refused = await Assert.ThrowsAsync<RpcException>(async () =>
                await Host.Workspaces().AcceptInviteAsync(new AcceptInviteRequest { InvitationId = id }, invitee.Bearer));
            Assert.Equal("email_unverified", AssertStatus(refused, StatusCode.FailedPrecondition).Metadata["rule"]);
            Assert.Contains("VerifyEmail", refused.Status.Detail, StringComparison.Ordinal);
        }

        // An unverified account does not even see invitations addressed to the e-mail address it claims.
        Assert.Equal([byId.InvitationId], (await Host.Permissions().ListMyInvitationsAsync(new ListMyInvitationsRequest(), invitee.Bearer)).Invitations.Select(i => i.Id));

        var verified = await VerifyThroughMailAsync(invitee);
        // The token from before verification still says false: it cannot accept (Refresh or VerifyEmail's token can).
        AssertStatus(await Assert.ThrowsAsync<RpcException>(async () =>
            await Host.Workspaces().AcceptInviteAsync(new AcceptInviteRequest { InvitationId = byId.InvitationId }, invitee.Bearer)), StatusCode.FailedPrecondition);
        Assert.Equal(2, (await Host.Permissions().ListMyInvitationsAsync(new ListMyInvitationsRequest(), verified.Bearer)).Invitations.Count);
        await Host.Workspaces().AcceptInviteAsync(new AcceptInviteRequest { InvitationId = byId.InvitationId }, verified.Bearer);
        var refreshed = await Host.Auth().RefreshAsync(new RefreshRequest { RefreshToken = invitee.Tokens.RefreshToken });
        var accepted = await Host.Workspaces().AcceptInviteAsync(new AcceptInviteRequest { InvitationId = byEmail.Id }, Identities.WithBearer(refreshed.Tokens!.AccessToken));
        Assert.Equal(PermissionLevel.Edit, accepted.Member!.Level);
    }

    [Fact]
    public async Task VerifyEmail_CodeFromTheSmtpServer_WrongCodeRefused_RightCodeVerifies()
    {
        var user = await Host.RegisterAsync();
        var sent = await Host.Auth().SendVerificationEmailAsync(new SendVerificationEmailRequest(), user.Bearer);
        Assert.Equal(user.Email, sent.Email);
        Assert.InRange(sent.ExpiresAt!.Value, DateTime.UtcNow.AddMinutes(14), DateTime.UtcNow.AddMinutes(16));
        var code = await fixture.Sink.WaitForCodeAsync(user.Email);
        Assert.Contains("From: no-reply@pyairtable.test", fixture.Sink.MessagesTo(user.Email).Single(), StringComparison.OrdinalIgnoreCase);

        var wrong = await Assert.ThrowsAsync<RpcException>(async () =>
            await Host.Auth().VerifyEmailAsync(new VerifyEmailRequest { Code = OtherCode(code) }, user.Bearer));
        AssertStatus(wrong, StatusCode.InvalidArgument);
        Assert.Equal("code", wrong.GetRpcStatus()!.GetDetail<BadRequest>().FieldViolations.Single().Field);
        AssertStatus(await Assert.ThrowsAsync<RpcException>(async () =>
            await Host.Auth().VerifyEmailAsync(new VerifyEmailRequest { Code = "12ab" }, user.Bearer)), StatusCode.InvalidArgument);

        var verified = await Host.Auth().VerifyEmailAsync(new VerifyEmailRequest { Code = code[..4] + " " + code[4..] }, user.Bearer);
        Assert.Equal(user.Email, verified.Email);
        var validated = await Host.Auth().ValidateTokenAsync(new ValidateTokenRequest { AccessToken = verified.AccessToken }, user.Bearer);
        Assert.True(validated.User!.EmailVerified);
        Assert.False((await Host.Auth().ValidateTokenAsync(new ValidateTokenRequest { AccessToken = user.Tokens.AccessToken }, user.Bearer)).User!.EmailVerified);
        var login = await Host.Auth().LoginAsync(new LoginRequest { Email = user.Email, Password = user.Password });
        Assert.True((await Host.Auth().ValidateTokenAsync(new ValidateTokenRequest { AccessToken = login.Tokens!.AccessToken }, user.Bearer)).User!.EmailVerified);

        // API keys read it from the account.
        var key = (await Host.Auth().CreateApiKeyAsync(new CreateApiKeyRequest { Name = "k", Scopes = [Scopes.WorkspacesRead] }, user.Bearer)).Secret;
        Assert.True((await Host.Auth().ValidateTokenAsync(new ValidateTokenRequest { ApiKey = key }, user.Bearer)).User!.EmailVerified);

        // With an SMTP relay configured, no code is ever written to the log.
        Assert.DoesNotContain(Host.Logs.Entries, e => e.Message.Contains(code, StringComparison.Ordinal));
        Assert.True((await Host.Auth().SendVerificationEmailAsync(new SendVerificationEmailRequest(), Identities.WithBearer(verified.AccessToken))).AlreadyVerified);

        // Once verified, VerifyEmail mints nothing: it is no way to keep a (stolen) token alive without the refresh token.
        var again = await Host.Auth().VerifyEmailAsync(new VerifyEmailRequest { Code = "00000000" }, user.Bearer);
        Assert.Equal("", again.AccessToken);
        Assert.Null(again.AccessTokenExpiresAt);
    }

    [Fact]
    public async Task VerifyEmail_ExpiredCode_FailedPrecondition()
    {
        var user = await Host.RegisterAsync();
        await Host.Auth().SendVerificationEmailAsync(new SendVerificationEmailRequest(), user.Bearer);
        var code = await fixture.Sink.WaitForCodeAsync(user.Email);
        await using (var connection = new NpgsqlConnection(fixture.Database.ConnectionString))
        {
            await connection.ExecuteAsync("UPDATE auth.email_verifications SET expires_at = now() - interval '1 second' WHERE user_id = @id", new { id = Guid.Parse(user.UserId) });
        }

        var expired = await Assert.ThrowsAsync<RpcException>(async () => await Host.Auth().VerifyEmailAsync(new VerifyEmailRequest { Code = code }, user.Bearer));
        Assert.Equal("code_expired", AssertStatus(expired, StatusCode.FailedPrecondition).Metadata["rule"]);
    }

    [Fact]
    public async Task VerifyEmail_FiveWrongTries_KillTheCode()
    {
        var user = await Host.RegisterAsync();
        await Host.Auth().SendVerificationEmailAsync(new SendVerificationEmailRequest(), user.Bearer);
        var code = await fixture.Sink.WaitForCodeAsync(user.Email);
        for (var i = 0; i < 5; i++)
        {
            AssertStatus(await Assert.ThrowsAsync<RpcException>(async () =>
                await Host.Auth().VerifyEmailAsync(new VerifyEmailRequest { Code = OtherCode(code, i) }, user.Bearer)), StatusCode.InvalidArgument);
        }

        var dead = await Assert.ThrowsAsync<RpcException>(async () => await Host.Auth().VerifyEmailAsync(new VerifyEmailRequest { Code = code }, user.Bearer));
        Assert.Equal("code_exhausted", AssertStatus(dead, StatusCode.FailedPrecondition).Metadata["rule"]);
    }

    [Fact]
    public async Task SendVerificationEmail_SecondWithinAMinute_ResourceExhausted_WithRetryInfo()
    {
        var user = await Host.RegisterAsync();
        await Host.Auth().SendVerificationEmailAsync(new SendVerificationEmailRequest(), user.Bearer);
        var again = await Assert.ThrowsAsync<RpcException>(async () =>
            await Host.Auth().SendVerificationEmailAsync(new SendVerificationEmailRequest(), user.Bearer));
        AssertStatus(again, StatusCode.ResourceExhausted);
        var retry = again.GetRpcStatus()!.GetDetail<RetryInfo>();
        Assert.NotNull(retry);
        Assert.InRange(retry.RetryDelay.ToTimeSpan(), TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(60));
        await fixture.Sink.WaitForCodeAsync(user.Email);
        await Task.Delay(300);
        Assert.Single(fixture.Sink.MessagesTo(user.Email));
    }

    [Fact]
    public async Task VerificationRpcs_WithAnApiKey_PermissionDenied()
    {
        var user = await Host.RegisterAsync();
        var key = Identities.WithApiKey((await Host.Auth().CreateApiKeyAsync(
            new CreateApiKeyRequest { Name = "all", Scopes = [.. Scopes.Grantable] }, user.Bearer)).Secret);
        AssertStatus(await Assert.ThrowsAsync<RpcException>(async () =>
            await Host.Auth().SendVerificationEmailAsync(new SendVerificationEmailRequest(), key)), StatusCode.PermissionDenied);
        AssertStatus(await Assert.ThrowsAsync<RpcException>(async () =>
            await Host.Auth().VerifyEmailAsync(new VerifyEmailRequest { Code = "12345678" }, key)), StatusCode.PermissionDenied);
        Assert.Empty(fixture.Sink.MessagesTo(user.Email));
    }

    private static string OtherCode(string code, int salt = 0) =>
        ((int.Parse(code, System.Globalization.CultureInfo.InvariantCulture) + 1 + salt) % 100_000_000).ToString("D8", System.Globalization.CultureInfo.InvariantCulture);
}
