using Grpc.Core;
using PyAirtable.Contracts.Permissions;
using PyAirtable.Contracts.Workspaces;
using PyAirtable.IntegrationTests.Identity;
using PyAirtable.IntegrationTests.Infrastructure;
using static PyAirtable.IntegrationTests.Access.Access;
using static PyAirtable.IntegrationTests.Identity.AuthenticationTests;

namespace PyAirtable.IntegrationTests.Access;

/// <summary>Invitations: sent by owners in person, and only as good as the time left and the inviter's ownership.</summary>
public sealed class InvitationTests(IdentityFixture fixture) : IClassFixture<IdentityFixture>, IDisposable
{
    private TestHost Host => fixture.Host;

    public void Dispose() => fixture.AssertNoUnexpectedErrors();

    [Fact]
    public async Task Invitations_Expire_AndDieWithTheInvitersRights()
    {
        var owner = await Host.RegisterAsync();
        var coOwner = await Host.RegisterAsync();
        var invitee = await Host.RegisterAsync();
        var workspace = (await Host.Workspaces().CreateWorkspaceAsync(new CreateWorkspaceRequest { Name = "Later" }, owner.Bearer)).Workspace!;
        coOwner = await Host.JoinAsync(owner, coOwner, workspace.Id, PermissionLevel.Owner);
        invitee = await Host.VerifyEmailAsync(invitee);
        var old = (await Host.Workspaces().InviteMemberAsync(new InviteMemberRequest { WorkspaceId = workspace.Id, Email = invitee.Email, Level = PermissionLevel.Read }, owner.Bearer)).Invitation!;
        var fromCoOwner = (await Host.Workspaces().InviteMemberAsync(new InviteMemberRequest { WorkspaceId = workspace.Id, Email = invitee.Email, Level = PermissionLevel.Edit }, coOwner.Bearer)).Invitation!;
        Assert.True(old.ExpiresAt > DateTime.UtcNow.AddDays(6));

        await using (var connection = new Npgsql.NpgsqlConnection(fixture.Database.ConnectionString))
        {
            await Dapper.SqlMapper.ExecuteAsync(connection, "UPDATE permissions.invitations SET expires_at = now() - interval '1 second' WHERE id = @id", new { id = Guid.Parse(old.Id) });
        }

        var expired = await Assert.ThrowsAsync<RpcException>(async () => await Host.Workspaces().AcceptInviteAsync(new AcceptInviteRequest { InvitationId = old.Id }, invitee.Bearer));
        Assert.Equal("invitation_expired", AssertStatus(expired, StatusCode.FailedPrecondition).Metadata["rule"]);

        await Host.Workspaces().RemoveMemberAsync(new RemoveMemberRequest { WorkspaceId = workspace.Id, UserId = coOwner.UserId }, owner.Bearer);
        var orphaned = await Assert.ThrowsAsync<RpcException>(async () => await Host.Workspaces().AcceptInviteAsync(new AcceptInviteRequest { InvitationId = fromCoOwner.Id }, invitee.Bearer));
        Assert.Equal("inviter_not_owner", AssertStatus(orphaned, StatusCode.FailedPrecondition).Metadata["rule"]);
    }

    [Fact]
    public async Task Invitations_AreSentByOwnersInPerson()
    {
        var admin = await Host.RegisterAdminAsync(fixture.Database.ConnectionString);
        var owner = await Host.RegisterAsync();
        var workspace = (await Host.Workspaces().CreateWorkspaceAsync(new CreateWorkspaceRequest { Name = "Op" }, owner.Bearer)).Workspace!;

        // Operators pass the Permission service's ownership check but hold no grant an acceptance could re-check.
        AssertStatus(await Assert.ThrowsAsync<RpcException>(async () => await Host.Permissions().CreateInvitationAsync(
            new CreateInvitationRequest { WorkspaceId = workspace.Id, Email = Identities.NewEmail(), Level = PermissionLevel.Read }, admin.Bearer)), StatusCode.PermissionDenied);
    }
}
