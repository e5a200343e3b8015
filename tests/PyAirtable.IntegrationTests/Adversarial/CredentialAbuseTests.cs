using Google.Rpc;
using Grpc.Core;
using PyAirtable.Contracts.Auth;
using PyAirtable.Contracts.Permissions;
using PyAirtable.Contracts.Users;
using PyAirtable.Contracts.Workspaces;
using PyAirtable.IntegrationTests.Access;
using PyAirtable.IntegrationTests.Identity;
using PyAirtable.IntegrationTests.Infrastructure;
using static PyAirtable.IntegrationTests.Access.Access;
using static PyAirtable.IntegrationTests.Identity.AuthenticationTests;

namespace PyAirtable.IntegrationTests.Adversarial;

/// <summary>Credentials used past what they were meant for: keys outliving their parent, keys taking account actions, id probing.</summary>
public sealed class CredentialAbuseTests(IdentityFixture fixture) : IClassFixture<IdentityFixture>, IDisposable
{
    private TestHost Host => fixture.Host;

    public void Dispose() => fixture.AssertNoUnexpectedErrors();

    [Fact]
    public async Task RevokingAKey_RevokesEveryKeyItMinted()
    {
        var user = await Host.RegisterAsync();
        var parent = await Host.Auth().CreateApiKeyAsync(new CreateApiKeyRequest { Name = "parent", Scopes = [Scopes.ApiKeysManage, Scopes.UsersRead] }, user.Bearer);
        var child = await Host.Auth().CreateApiKeyAsync(new CreateApiKeyRequest { Name = "child", Scopes = [Scopes.ApiKeysManage, Scopes.UsersRead] },
            Identities.WithApiKey(parent.Secret));
        var grandchild = await Host.Auth().CreateApiKeyAsync(new CreateApiKeyRequest { Name = "grandchild", Scopes = [Scopes.UsersRead] },
            Identities.WithApiKey(child.Secret));
        var sibling = await Host.Auth().CreateApiKeyAsync(new CreateApiKeyRequest { Name = "sibling", Scopes = [Scopes.UsersRead] }, user.Bearer);
        await Host.Users().GetUserAsync(new GetUserRequest { UserId = user.UserId }, Identities.WithApiKey(grandchild.Secret)); // works, and is cached

        await Host.Auth().RevokeApiKeyAsync(new RevokeApiKeyRequest { Id = parent.ApiKey!.Id }, user.Bearer);

        foreach (var secret in new[] { parent.Secret, child.Secret, grandchild.Secret })
        {
            AssertStatus(await Assert.ThrowsAsync<RpcException>(async () => await Host.Users().GetUserAsync(
                new GetUserRequest { UserId = user.UserId }, Identities.WithApiKey(secret))), StatusCode.Unauthenticated, "revoked");
        }

        // A key the user made directly is not part of that family.
        await Host.Users().GetUserAsync(new GetUserRequest { UserId = user.UserId }, Identities.WithApiKey(sibling.Secret));
        var listed = await Host.Auth().ListApiKeysAsync(new ListApiKeysRequest(), user.Bearer);
        Assert.Equal(3, listed.ApiKeys.Count(k => k.RevokedAt is not null));
    }

    [Fact]
    public async Task AKeyTheGatewayKeeps_IsRefusedOnceTheKeyExpires()
    {
        var user = await Host.RegisterAsync();
        // Room for the create and the first call on a slow box; the wait below is measured from the expiry itself.
        var expires = DateTime.UtcNow.AddSeconds(6);
        var key = await Host.Auth().CreateApiKeyAsync(new CreateApiKeyRequest
        {
            Name = "short", Scopes = [Scopes.UsersRead], ExpiresAt = expires,
        }, user.Bearer);
        await Host.Users().GetUserAsync(new GetUserRequest { UserId = user.UserId }, Identities.WithApiKey(key.Secret)); // verified and kept (30 s)

        await DelayUntilAsync(expires.AddSeconds(1));
        AssertStatus(await Assert.ThrowsAsync<RpcException>(async () => await Host.Users().GetUserAsync(
            new GetUserRequest { UserId = user.UserId }, Identities.WithApiKey(key.Secret))), StatusCode.Unauthenticated, "expired");
    }

    [Fact]
    public async Task TwoApiKeyHeaders_AreRefused_EvenWhenOneIsValid()
    {
        var user = await Host.RegisterAsync();
        var key = await Host.Auth().CreateApiKeyAsync(new CreateApiKeyRequest { Name = "k", Scopes = [Scopes.UsersRead] }, user.Bearer);
        var headers = new Metadata { { "x-api-key", key.Secret }, { "x-api-key", "pat_" + new string('A', 43) } };
        AssertStatus(await Assert.ThrowsAsync<RpcException>(async () => await Host.Users().GetUserAsync(
            new GetUserRequest { UserId = user.UserId }, new ProtoBuf.Grpc.CallContext(new CallOptions(headers)))), StatusCode.Unauthenticated, "invalid_api_key");
    }

    [Fact]
    public async Task TwoApiKeyHeaders_AreRefused_EvenWhenTheFirstIsAKeyTheGatewayKeeps()
    {
        var user = await Host.RegisterAsync();
        var key = await Host.Auth().CreateApiKeyAsync(new CreateApiKeyRequest { Name = "k", Scopes = [Scopes.UsersRead] }, user.Bearer);
        await Host.Users().GetUserAsync(new GetUserRequest { UserId = user.UserId }, Identities.WithApiKey(key.Secret)); // verified and kept
        var headers = new Metadata { { "x-api-key", key.Secret }, { "x-api-key", "pat_" + new string('A', 43) } };
        AssertStatus(await Assert.ThrowsAsync<RpcException>(async () => await Host.Users().GetUserAsync(
            new GetUserRequest { UserId = user.UserId }, new ProtoBuf.Grpc.CallContext(new CallOptions(headers)))), StatusCode.Unauthenticated, "invalid_api_key");
    }

    [Fact]
    public async Task AnApiKey_CannotDeactivateItsOwnersAccount()
    {
        var user = await Host.RegisterAsync();
        var key = await Host.Auth().CreateApiKeyAsync(new CreateApiKeyRequest { Name = "writer", Scopes = [Scopes.UsersWrite, Scopes.UsersRead] }, user.Bearer);
        var ex = await Assert.ThrowsAsync<RpcException>(async () =>
            await Host.Users().DeactivateUserAsync(new DeactivateUserRequest { UserId = user.UserId }, Identities.WithApiKey(key.Secret)));
        AssertStatus(ex, StatusCode.PermissionDenied);

        // Still active: the owner's session and the key both work; the session may deactivate.
        var profile = await Host.Users().GetUserAsync(new GetUserRequest { UserId = user.UserId }, Identities.WithApiKey(key.Secret));
        Assert.Equal(UserStatus.Active, profile.User!.Status);
        await Host.Users().DeactivateUserAsync(new DeactivateUserRequest { UserId = user.UserId }, user.Bearer);
    }

    [Fact]
    public async Task Invitations_AreLimitedPerInviter_SoNobodyCanFloodAnInbox()
    {
        var spammer = await Host.RegisterAsync();
        var workspace = (await Host.Workspaces().CreateWorkspaceAsync(new CreateWorkspaceRequest { Name = "Flood" }, spammer.Bearer)).Workspace!.Id;
        for (var i = 0; i < 100; i++)
        {
            await Host.Permissions().CreateInvitationAsync(
                new CreateInvitationRequest { WorkspaceId = workspace, Email = Identities.NewEmail(), Level = PermissionLevel.Read }, spammer.Bearer);
        }

        var refused = await Assert.ThrowsAsync<RpcException>(async () => await Host.Permissions().CreateInvitationAsync(
            new CreateInvitationRequest { WorkspaceId = workspace, Email = Identities.NewEmail(), Level = PermissionLevel.Read }, spammer.Bearer));
        Assert.Equal("invitations_per_hour", AssertStatus(refused, StatusCode.ResourceExhausted).Metadata["limit"]);
        Assert.NotNull(refused.GetRpcStatus()!.GetDetail<Google.Rpc.RetryInfo>());
    }

    [Fact]
    public async Task RegisterResource_GivesOneAnswerForEveryUsedId_WhoeverOwnsItAndWhetherDeleted()
    {
        var victim = await Host.RegisterAsync();
        var attacker = await Host.RegisterAsync();
        var victims = await BaseOfAsync(victim);
        var attackers = await BaseOfAsync(attacker);
        var live = await TableAsync(victim, victims);
        var deleted = await TableAsync(victim, victims);
        await Host.Permissions().DeleteResourceAsync(new DeleteResourceRequest { Resource = Ref(ResourceType.Table, deleted) }, victim.Bearer);
        var own = await TableAsync(attacker, attackers);

        var answers = new List<(StatusCode Code, string Message)>();
        foreach (var id in new[] { live, deleted, own })
        {
            var ex = await Assert.ThrowsAsync<RpcException>(async () => await Host.Permissions().RegisterResourceAsync(
                new RegisterResourceRequest { Resource = Ref(ResourceType.Table, id), Parent = Ref(ResourceType.Base, attackers) }, attacker.Bearer));
            answers.Add((ex.StatusCode, ex.Status.Detail));
        }

        Assert.Single(answers.Distinct());
        Assert.Equal(StatusCode.AlreadyExists, answers[0].Code);

        // Workspaces are the Workspaces service's to register: one refusal whatever the id.
        var workspaceAnswers = new List<(StatusCode Code, string Message)>();
        foreach (var id in new[] { victims, attackers, Guid.NewGuid().ToString() })
        {
            var ex = await Assert.ThrowsAsync<RpcException>(async () => await Host.Permissions().RegisterResourceAsync(
                new RegisterResourceRequest { Resource = Ref(ResourceType.Workspace, id) }, attacker.Bearer));
            workspaceAnswers.Add((ex.StatusCode, ex.Status.Detail));
        }

        Assert.Equal(StatusCode.PermissionDenied, Assert.Single(workspaceAnswers.Distinct()).Code);
    }

    private async Task<string> BaseOfAsync(TestUser user)
    {
        var workspace = (await Host.Workspaces().CreateWorkspaceAsync(new CreateWorkspaceRequest { Name = "W" }, user.Bearer)).Workspace!.Id;
        return (await Host.Workspaces().CreateBaseAsync(new CreateBaseRequest { WorkspaceId = workspace, Name = "B" }, user.Bearer)).Base!.Id;
    }

    private async Task<string> TableAsync(TestUser user, string baseId)
    {
        var table = Guid.NewGuid().ToString();
        await Host.Permissions().RegisterResourceAsync(
            new RegisterResourceRequest { Resource = Ref(ResourceType.Table, table), Parent = Ref(ResourceType.Base, baseId) }, user.Bearer);
        return table;
    }

    [Fact]
    public async Task ApiKeys_CannotRotateSigningKeys_OrMintKeysThatOutliveThem()
    {
        var admin = await Host.RegisterAdminAsync(fixture.Database.ConnectionString);
        var key = await Host.Auth().CreateApiKeyAsync(new CreateApiKeyRequest
        {
            Name = "short", Scopes = [Scopes.ApiKeysManage, Scopes.UsersRead], ExpiresAt = DateTime.UtcNow.AddHours(1),
        }, admin.Bearer);
        var withKey = Identities.WithApiKey(key.Secret);

        var rotate = await Assert.ThrowsAsync<RpcException>(async () => await Host.Auth().RotateSigningKeyAsync(new RotateSigningKeyRequest(), withKey));
        AssertStatus(rotate, StatusCode.PermissionDenied);

        var forever = await Assert.ThrowsAsync<RpcException>(async () =>
            await Host.Auth().CreateApiKeyAsync(new CreateApiKeyRequest { Name = "forever", Scopes = [Scopes.UsersRead] }, withKey));
        AssertStatus(forever, StatusCode.InvalidArgument);
        Assert.Contains(forever.GetRpcStatus()!.GetDetail<BadRequest>().FieldViolations, v => v.Field == "expires_at");
        var longer = await Assert.ThrowsAsync<RpcException>(async () => await Host.Auth().CreateApiKeyAsync(
            new CreateApiKeyRequest { Name = "longer", Scopes = [Scopes.UsersRead], ExpiresAt = DateTime.UtcNow.AddDays(2) }, withKey));
        AssertStatus(longer, StatusCode.InvalidArgument);

        // Within its own lifetime it may.
        await Host.Auth().CreateApiKeyAsync(new CreateApiKeyRequest { Name = "ok", Scopes = [Scopes.UsersRead], ExpiresAt = DateTime.UtcNow.AddMinutes(30) }, withKey);
    }

    private static async Task DelayUntilAsync(DateTime utc)
    {
        var left = utc - DateTime.UtcNow;
        if (left > TimeSpan.Zero)
        {
            await Task.Delay(left);
        }
    }
}
