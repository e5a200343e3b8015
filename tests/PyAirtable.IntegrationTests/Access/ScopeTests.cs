using Grpc.Core;
using ProtoBuf.Grpc.Client;
using PyAirtable.Contracts.Auth;
using PyAirtable.Contracts.Permissions;
using PyAirtable.Contracts.Workspaces;
using PyAirtable.IntegrationTests.Adversarial;
using PyAirtable.IntegrationTests.Diagnostics;
using PyAirtable.IntegrationTests.Identity;
using PyAirtable.IntegrationTests.Infrastructure;
using static PyAirtable.IntegrationTests.Access.Access;
using static PyAirtable.IntegrationTests.Identity.AuthenticationTests;

namespace PyAirtable.IntegrationTests.Access;

/// <summary>
/// A scope is declared once, with [RequiresScope] on the implementing method, and enforced alike for a call through
/// the gateway and for a call another service makes in process (which no gateway sees). The owner below could grant
/// themselves owner with any credentials but for the scope, so a refusal here is the scope and nothing else.
/// </summary>
public sealed class ScopeTests(IdentityFixture fixture) : IClassFixture<IdentityFixture>, IDisposable
{
    private TestHost Host => fixture.Host;

    private IPermissionRelayService Relay => Host.Channel.CreateGrpcService<IPermissionRelayService>();

    public void Dispose() => fixture.AssertNoUnexpectedErrors();

    [Fact]
    public async Task GatewayCall_WithoutTheDeclaredScope_IsPermissionDeniedWithRequiredScope()
    {
        var (owner, grant) = await OwnWorkspaceAsync();
        var readOnly = await KeyAsync(owner, Scopes.WorkspacesRead);

        var denied = await Assert.ThrowsAsync<RpcException>(async () =>
            await Host.Permissions().GrantAsync(grant, Identities.WithApiKey(readOnly)));

        Assert.Equal(Scopes.WorkspacesWrite, AssertStatus(denied, StatusCode.PermissionDenied).Metadata["required_scope"]);
    }

    [Fact]
    public async Task InProcessCall_WithoutTheDeclaredScope_IsPermissionDeniedWithRequiredScope()
    {
        var (owner, grant) = await OwnWorkspaceAsync();
        var readOnly = await KeyAsync(owner, Scopes.WorkspacesRead);

        var denied = await Assert.ThrowsAsync<RpcException>(async () => await Relay.GrantAsync(grant, Identities.WithApiKey(readOnly)));

        Assert.Equal(Scopes.WorkspacesWrite, AssertStatus(denied, StatusCode.PermissionDenied).Metadata["required_scope"]);
    }

    [Fact]
    public async Task InProcessStream_WithoutTheDeclaredScope_IsPermissionDeniedWithRequiredScope()
    {
        var (owner, _) = await OwnWorkspaceAsync();
        var usersOnly = await KeyAsync(owner, Scopes.UsersRead);

        var lookup = new LookupResourcesRequest { Type = ResourceType.Workspace, Level = PermissionLevel.Read };
        await using var items = Relay.LookupResourcesAsync(lookup, Identities.WithApiKey(usersOnly)).GetAsyncEnumerator();

        var denied = await Assert.ThrowsAsync<RpcException>(async () => await items.MoveNextAsync());
        Assert.Equal(Scopes.WorkspacesRead, AssertStatus(denied, StatusCode.PermissionDenied).Metadata["required_scope"]);
    }

    [Fact]
    public async Task InProcessCall_WithTheDeclaredScope_Runs()
    {
        var (owner, grant) = await OwnWorkspaceAsync();
        var writer = await KeyAsync(owner, Scopes.WorkspacesWrite);

        var granted = await Relay.GrantAsync(grant, Identities.WithApiKey(writer));

        Assert.Equal(PermissionLevel.Owner, granted.Grant!.Level);
    }

    [Fact]
    public async Task ApiKeyScopes_LimitWorkspaceCalls()
    {
        var user = await Host.RegisterAsync();
        var workspace = (await Host.Workspaces().CreateWorkspaceAsync(new CreateWorkspaceRequest { Name = "Scoped" }, user.Bearer)).Workspace!;
        var usersOnly = (await Host.Auth().CreateApiKeyAsync(new CreateApiKeyRequest { Name = "u", Scopes = [Scopes.UsersRead] }, user.Bearer)).Secret;
        var readOnly = (await Host.Auth().CreateApiKeyAsync(new CreateApiKeyRequest { Name = "r", Scopes = [Scopes.WorkspacesRead] }, user.Bearer)).Secret;

        var denied = await Assert.ThrowsAsync<RpcException>(async () =>
            await Host.Workspaces().DeleteWorkspaceAsync(new DeleteWorkspaceRequest { WorkspaceId = workspace.Id }, Identities.WithApiKey(usersOnly)));
        Assert.Equal(Scopes.WorkspacesWrite, AssertStatus(denied, StatusCode.PermissionDenied).Metadata["required_scope"]);
        AssertStatus(await Assert.ThrowsAsync<RpcException>(async () => await Host.Permissions().GrantAsync(
            new GrantRequest { Resource = Ref(ResourceType.Workspace, workspace.Id), UserId = Guid.NewGuid().ToString(), Level = PermissionLevel.Owner },
            Identities.WithApiKey(readOnly))), StatusCode.PermissionDenied);

        await using (var ids = (IAsyncDisposable)Host.Permissions().LookupResourcesAsync(
            new LookupResourcesRequest { Type = ResourceType.Workspace, Level = PermissionLevel.Read }, Identities.WithApiKey(usersOnly)).GetAsyncEnumerator())
        {
            AssertStatus(await Assert.ThrowsAsync<RpcException>(async () => await ((IAsyncEnumerator<LookupResourcesResponse>)ids).MoveNextAsync()), StatusCode.PermissionDenied);
        }

        var read = await Host.Workspaces().GetWorkspaceAsync(new GetWorkspaceRequest { WorkspaceId = workspace.Id }, Identities.WithApiKey(readOnly));
        Assert.Equal(workspace.Id, read.Workspace!.Id);
    }

    [Fact]
    public async Task AKeyWithoutTheScope_IsRefusedBeforeItsMessageIsRead_FirstCallAndKeptAlike()
    {
        var (owner, _) = await OwnWorkspaceAsync();
        var usersOnly = await KeyAsync(owner, Scopes.UsersRead);
        var undecodable = new byte[] { 0xff, 0xff, 0xff, 0xff }; // not a GrantRequest: reading it would fail the call otherwise

        // The first call verifies the key and teaches the gateway Grant's policy; the next ones take its shortcut path, which
        // must refuse alike: the scope is the gateway's to check, before the service (and its own check) reads anything.
        for (var call = 0; call < 3; call++)
        {
            var denied = await Assert.ThrowsAsync<RpcException>(() => Adversary.CallRawAsync(Host.Channel,
                "pyairtable.permissions.v1.PermissionService", "Grant", undecodable, new Metadata { { "x-api-key", usersOnly } }));
            Assert.Equal(Scopes.WorkspacesWrite, AssertStatus(denied, StatusCode.PermissionDenied).Metadata["required_scope"]);
        }
    }

    /// <summary>A new user's workspace, and a Grant that would succeed for them: making themselves owner again.</summary>
    private async Task<(TestUser Owner, GrantRequest Grant)> OwnWorkspaceAsync()
    {
        var owner = await Host.RegisterAsync();
        var created = await Host.Workspaces().CreateWorkspaceAsync(new CreateWorkspaceRequest { Name = "Scoped" }, owner.Bearer);
        var resource = Ref(ResourceType.Workspace, created.Workspace!.Id);
        return (owner, new GrantRequest { Resource = resource, UserId = owner.UserId, Level = PermissionLevel.Owner });
    }

    private async Task<string> KeyAsync(TestUser owner, string scope) =>
        (await Host.Auth().CreateApiKeyAsync(new CreateApiKeyRequest { Name = scope, Scopes = [scope] }, owner.Bearer)).Secret;
}
