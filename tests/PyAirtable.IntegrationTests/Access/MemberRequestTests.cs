using Google.Rpc;
using Grpc.Core;
using PyAirtable.Contracts.Common;
using PyAirtable.Contracts.Events;
using PyAirtable.Contracts.Permissions;
using PyAirtable.Contracts.Workspaces;
using PyAirtable.IntegrationTests.Identity;
using PyAirtable.IntegrationTests.Infrastructure;
using static PyAirtable.IntegrationTests.Identity.AuthenticationTests;

namespace PyAirtable.IntegrationTests.Access;

/// <summary>
/// The membership RPCs' answers and events field by field (what clients and event consumers read), and the levels a
/// member may be given.
/// </summary>
public sealed class MemberRequestTests(IdentityFixture fixture) : IClassFixture<IdentityFixture>, IDisposable
{
    private TestHost Host => fixture.Host;

    public void Dispose() => fixture.AssertNoUnexpectedErrors();

    [Fact]
    public async Task AddMember_AndAccept_AnswerTheInvitationAndTheMember_AndRecordTheirEvents()
    {
        var owner = await Host.RegisterAsync();
        var invitee = await Host.RegisterAsync();
        var ws = Host.Workspaces();
        var workspace = (await ws.CreateWorkspaceAsync(new CreateWorkspaceRequest { Name = "Team" }, owner.Bearer)).Workspace!;

        var added = await ws.AddMemberAsync(new AddMemberRequest { WorkspaceId = workspace.Id, UserId = invitee.UserId, Level = PermissionLevel.Comment }, owner.Bearer);
        var invitation = added.Invitation!;
        Assert.Equal(invitation.Id, added.InvitationId);
        Assert.True(added.Pending);
        Assert.Equal((workspace.Id, invitee.UserId, PermissionLevel.Comment, owner.UserId),
            (invitation.WorkspaceId, invitation.UserId, invitation.Level, invitation.InvitedBy));

        invitee = await Host.VerifyEmailAsync(invitee);
        var accepted = await ws.AcceptInviteAsync(new AcceptInviteRequest { InvitationId = added.InvitationId }, invitee.Bearer);
        Assert.Equal(workspace.Id, accepted.WorkspaceId);
        Assert.Equal((invitee.UserId, PermissionLevel.Comment), (accepted.Member!.UserId, accepted.Member.Level));
        Assert.NotNull(accepted.Member.AddedAt);
        Assert.False(string.IsNullOrEmpty(accepted.ConsistencyToken));
        var listed = (await ws.ListMembersAsync(new ListMembersRequest { WorkspaceId = workspace.Id }, owner.Bearer)).Members.Single(m => m.UserId == invitee.UserId);
        Assert.Equal(accepted.Member, listed);

        var connection = fixture.Database.ConnectionString;
        Assert.Equal(
            [new MemberInvited { WorkspaceId = workspace.Id, InvitationId = invitation.Id, UserId = invitee.UserId, Email = "", Level = PermissionLevel.Comment, InvitedBy = owner.UserId }],
            await OutboxEvents.OfAsync<MemberInvited>(connection, workspace.Id));
        Assert.Equal([new MemberAdded { WorkspaceId = workspace.Id, UserId = invitee.UserId, Level = PermissionLevel.Comment }],
            await OutboxEvents.OfAsync<MemberAdded>(connection, workspace.Id));
    }

    [Fact]
    public async Task InviteMember_ByEmail_NeedsToSeeTheWorkspace_AndRecordsTheInvitation()
    {
        var owner = await Host.RegisterAsync();
        var stranger = await Host.RegisterAsync();
        var ws = Host.Workspaces();
        var workspace = (await ws.CreateWorkspaceAsync(new CreateWorkspaceRequest { Name = "Mail" }, owner.Bearer)).Workspace!;
        var email = Identities.NewEmail();

        var invitation = (await ws.InviteMemberAsync(new InviteMemberRequest { WorkspaceId = workspace.Id, Email = email, Level = PermissionLevel.Owner }, owner.Bearer)).Invitation!;
        Assert.Equal((workspace.Id, email, PermissionLevel.Owner, owner.UserId), (invitation.WorkspaceId, invitation.Email, invitation.Level, invitation.InvitedBy));
        Assert.Equal(
            [new MemberInvited { WorkspaceId = workspace.Id, InvitationId = invitation.Id, UserId = "", Email = email, Level = PermissionLevel.Owner, InvitedBy = owner.UserId }],
            await OutboxEvents.OfAsync<MemberInvited>(fixture.Database.ConnectionString, workspace.Id));

        var hidden = await Assert.ThrowsAsync<RpcException>(async () => await ws.InviteMemberAsync(
            new InviteMemberRequest { WorkspaceId = workspace.Id, Email = Identities.NewEmail(), Level = PermissionLevel.Read }, stranger.Bearer));
        Assert.Equal("workspace", AssertStatus(hidden, StatusCode.NotFound).Metadata["resource_type"]);
    }

    [Fact]
    public async Task MemberLevels_AreReadToOwner_AnythingElseIsRefusedOnLevel_BeforeTheWorkspaceIsLookedAt()
    {
        var owner = await Host.RegisterAsync();
        var member = await Host.RegisterAsync();
        var ws = Host.Workspaces();
        var workspace = (await ws.CreateWorkspaceAsync(new CreateWorkspaceRequest { Name = "Levels" }, owner.Bearer)).Workspace!;
        member = await Host.JoinAsync(owner, member, workspace.Id, PermissionLevel.Read);
        var missing = Guid.NewGuid().ToString();

        foreach (var level in new[] { PermissionLevel.Unspecified, PermissionLevel.None, PermissionLevel.Owner + 1 })
        {
            foreach (var call in new Func<Task>[]
            {
                async () => await ws.AddMemberAsync(new AddMemberRequest { WorkspaceId = missing, UserId = member.UserId, Level = level }, member.Bearer),
                async () => await ws.InviteMemberAsync(new InviteMemberRequest { WorkspaceId = missing, Email = Identities.NewEmail(), Level = level }, member.Bearer),
                async () => await ws.ChangeMemberRoleAsync(new ChangeMemberRoleRequest { WorkspaceId = workspace.Id, UserId = member.UserId, Level = level }, owner.Bearer),
            })
            {
                var ex = await Assert.ThrowsAsync<RpcException>(call);
                AssertStatus(ex, StatusCode.InvalidArgument);
                Assert.Equal("level", ex.GetRpcStatus()!.GetDetail<BadRequest>().FieldViolations.Single().Field);
            }
        }

        // "none" would have taken the member's access while leaving them a member: they keep what they had.
        Assert.Equal(PermissionLevel.Read, (await ws.GetWorkspaceAsync(new GetWorkspaceRequest { WorkspaceId = workspace.Id }, member.Bearer)).Workspace!.MyLevel);
        var raised = await ws.ChangeMemberRoleAsync(new ChangeMemberRoleRequest { WorkspaceId = workspace.Id, UserId = member.UserId, Level = PermissionLevel.Owner }, owner.Bearer);
        Assert.Equal((member.UserId, PermissionLevel.Owner), (raised.Member!.UserId, raised.Member.Level));
        Assert.NotNull(raised.Member.AddedAt);
        Assert.False(string.IsNullOrEmpty(raised.ConsistencyToken));
        await ws.ChangeMemberRoleAsync(new ChangeMemberRoleRequest { WorkspaceId = workspace.Id, UserId = member.UserId, Level = PermissionLevel.Read }, owner.Bearer);
        Assert.Equal(PermissionLevel.Read, (await ws.GetWorkspaceAsync(new GetWorkspaceRequest { WorkspaceId = workspace.Id }, member.Bearer)).Workspace!.MyLevel);
        Assert.Equal(
            [
                new MemberRoleChanged { WorkspaceId = workspace.Id, UserId = member.UserId, Level = PermissionLevel.Owner },
                new MemberRoleChanged { WorkspaceId = workspace.Id, UserId = member.UserId, Level = PermissionLevel.Read },
            ],
            await OutboxEvents.OfAsync<MemberRoleChanged>(fixture.Database.ConnectionString, workspace.Id));
    }

    [Fact]
    public async Task RemovalAndLeaving_EachRecordWhoWentAndHow_AndNameTheirInvalidFields()
    {
        var owner = await Host.RegisterAsync();
        var removed = await Host.RegisterAsync();
        var leaver = await Host.RegisterAsync();
        var ws = Host.Workspaces();
        var workspace = (await ws.CreateWorkspaceAsync(new CreateWorkspaceRequest { Name = "Exits" }, owner.Bearer)).Workspace!;
        removed = await Host.JoinAsync(owner, removed, workspace.Id, PermissionLevel.Edit);
        leaver = await Host.JoinAsync(owner, leaver, workspace.Id, PermissionLevel.Read);

        foreach (var (call, field) in new (Func<Task>, string)[]
        {
            (async () => await ws.RemoveMemberAsync(new RemoveMemberRequest { WorkspaceId = workspace.Id, UserId = "x" }, owner.Bearer), "user_id"),
            (async () => await ws.RemoveMemberAsync(new RemoveMemberRequest { WorkspaceId = "x", UserId = removed.UserId }, owner.Bearer), "workspace_id"),
            (async () => await ws.ChangeMemberRoleAsync(new ChangeMemberRoleRequest { WorkspaceId = workspace.Id, UserId = "x", Level = PermissionLevel.Read }, owner.Bearer), "user_id"),
            (async () => await ws.LeaveWorkspaceAsync(new LeaveWorkspaceRequest { WorkspaceId = "x" }, leaver.Bearer), "workspace_id"),
            (async () => await ws.ListMembersAsync(new ListMembersRequest { WorkspaceId = "x" }, owner.Bearer), "workspace_id"),
            (async () => await ws.ChangeMemberRoleAsync(new ChangeMemberRoleRequest { WorkspaceId = "x", UserId = removed.UserId, Level = PermissionLevel.Read }, owner.Bearer), "workspace_id"),
            (async () => await ws.AddMemberAsync(new AddMemberRequest { WorkspaceId = "x", UserId = removed.UserId, Level = PermissionLevel.Read }, owner.Bearer), "workspace_id"),
            (async () => await ws.InviteMemberAsync(new InviteMemberRequest { WorkspaceId = "x", Email = Identities.NewEmail(), Level = PermissionLevel.Read }, owner.Bearer), "workspace_id"),
            (async () => await ws.AcceptInviteAsync(new AcceptInviteRequest { InvitationId = "x" }, leaver.Bearer), "invitation_id"),
        })
        {
            var ex = await Assert.ThrowsAsync<RpcException>(call);
            AssertStatus(ex, StatusCode.InvalidArgument);
            Assert.Equal(field, ex.GetRpcStatus()!.GetDetail<BadRequest>().FieldViolations.Single().Field);
        }

        var removal = await ws.RemoveMemberAsync(new RemoveMemberRequest { WorkspaceId = workspace.Id, UserId = removed.UserId }, owner.Bearer);
        Assert.False(string.IsNullOrEmpty(removal.ConsistencyToken));
        var left = await ws.LeaveWorkspaceAsync(new LeaveWorkspaceRequest { WorkspaceId = workspace.Id }, leaver.Bearer);
        Assert.False(string.IsNullOrEmpty(left.ConsistencyToken));

        Assert.Equal([owner.UserId], (await ws.ListMembersAsync(new ListMembersRequest { WorkspaceId = workspace.Id }, owner.Bearer)).Members.Select(m => m.UserId));
        Assert.Equal(
            [
                new MemberRemoved { WorkspaceId = workspace.Id, UserId = removed.UserId, Left = false },
                new MemberRemoved { WorkspaceId = workspace.Id, UserId = leaver.UserId, Left = true },
            ],
            await OutboxEvents.OfAsync<MemberRemoved>(fixture.Database.ConnectionString, workspace.Id));
    }

    [Fact]
    public async Task ListMembers_PagesTheMembers_WithTheirLevels()
    {
        var owner = await Host.RegisterAsync();
        var ws = Host.Workspaces();
        var workspace = (await ws.CreateWorkspaceAsync(new CreateWorkspaceRequest { Name = "Roster" }, owner.Bearer)).Workspace!;
        var levels = new Dictionary<string, PermissionLevel> { [owner.UserId] = PermissionLevel.Owner };
        foreach (var level in new[] { PermissionLevel.Edit, PermissionLevel.Create })
        {
            var member = await Host.JoinAsync(owner, await Host.RegisterAsync(), workspace.Id, level);
            levels[member.UserId] = level;
        }

        var first = await ws.ListMembersAsync(new ListMembersRequest { WorkspaceId = workspace.Id, Pagination = new PaginationRequest { PageSize = 2 } }, owner.Bearer);
        Assert.Equal((2, true, 3L), (first.Members.Count, first.Pagination!.HasNext, first.Pagination.TotalCount));
        var second = await ws.ListMembersAsync(new ListMembersRequest
        {
            WorkspaceId = workspace.Id, Pagination = new PaginationRequest { PageSize = 2, Cursor = first.Pagination.NextCursor },
        }, owner.Bearer);
        Assert.Equal((1, false), (second.Members.Count, second.Pagination!.HasNext));
        var all = first.Members.Concat(second.Members).ToList();
        Assert.Equal(levels.OrderBy(p => p.Key, StringComparer.Ordinal).ToList(), all.Select(m => KeyValuePair.Create(m.UserId, m.Level)).ToList());
        Assert.All(all, m => Assert.NotNull(m.AddedAt));
    }
}
