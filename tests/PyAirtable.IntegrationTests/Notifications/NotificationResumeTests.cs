using PyAirtable.Contracts.Notifications;
using PyAirtable.Contracts.Permissions;
using PyAirtable.Contracts.Workspaces;
using PyAirtable.IntegrationTests.Access;
using PyAirtable.IntegrationTests.Identity;
using PyAirtable.IntegrationTests.Infrastructure;
using ProtoBuf.Grpc.Client;
using Microsoft.Extensions.DependencyInjection;

namespace PyAirtable.IntegrationTests.Notifications;

/// <summary>History gone: not_recovered. A notification caused through host A reaches a stream on host B (Redis pub/sub only).</summary>
public sealed class NotificationResumeTests : DatabasePerTest
{
    [Fact]
    public async Task HistoryTrimmed_OrAnotherEpoch_NotRecovered_ThenLiveFromTheNewOffset()
    {
        await using var host = await TestHost.StartAsync(Database.ConnectionString, o =>
        {
            NotificationFixture.Apply(o.Settings);
            o.Settings["Notifications:MaxPerUser"] = "5";
        });
        var owner = await host.RegisterAsync();
        var workspace = (await host.Workspaces().CreateWorkspaceAsync(new CreateWorkspaceRequest { Name = "Short memory" }, owner.Bearer)).Workspace!;
        var member = await host.JoinAsync(owner, await host.RegisterAsync(), workspace.Id, PermissionLevel.Read);
        StreamNotificationsResponse start;
        await using (var stream = await NotificationListener.OpenAsync(host, member))
        {
            start = stream.First;
        }

        for (var i = 0; i < 10; i++)
        {
            await host.Workspaces().UpdateWorkspaceAsync(new UpdateWorkspaceRequest { WorkspaceId = workspace.Id, Description = $"v{i}" }, owner.Bearer);
        }

        var service = host.Channel.CreateGrpcService<INotificationService>();
        await Eventually.TrueAsync(async () => (await service.ListNotificationsAsync(new ListNotificationsRequest(), member.Bearer)).Offset == start.Offset + 10, "ten appended");
        Assert.Equal(5, (await service.ListNotificationsAsync(new ListNotificationsRequest(), member.Bearer)).Notifications.Count);

        await using var trimmed = await NotificationListener.OpenAsync(host, member, new StreamNotificationsRequest { Epoch = start.Epoch, AfterOffset = start.Offset });
        Assert.True(trimmed.First.NotRecovered);
        Assert.Equal(start.Offset + 10, trimmed.First.Offset);
        await using var foreign = await NotificationListener.OpenAsync(host, member, new StreamNotificationsRequest { Epoch = Guid.NewGuid().ToString(), AfterOffset = start.Offset + 9 });
        Assert.True(foreign.First.NotRecovered);
        // Still within what is kept: recovered.
        await using var kept = await NotificationListener.OpenAsync(host, member, new StreamNotificationsRequest { Epoch = start.Epoch, AfterOffset = start.Offset + 6 });
        Assert.False(kept.First.NotRecovered);
        await kept.WaitForNotificationsAsync(4);
        Assert.Equal([start.Offset + 7, start.Offset + 8, start.Offset + 9, start.Offset + 10], kept.Notifications.Select(n => n.Offset));

        await host.Workspaces().UpdateWorkspaceAsync(new UpdateWorkspaceRequest { WorkspaceId = workspace.Id, Description = "live" }, owner.Bearer);
        await trimmed.WaitForNotificationsAsync(1);
        Assert.Equal(start.Offset + 11, trimmed.Notifications.Single().Offset);
    }

    [Fact]
    public async Task CausedThroughHostA_ReachesAStreamOnHostB()
    {
        await using var a = await TestHost.StartAsync(Database.ConnectionString, o => { NotificationFixture.Apply(o.Settings); o.Name = "a"; });
        var instance = a.App.Services.GetRequiredService<Microsoft.Extensions.Configuration.IConfiguration>()["Redis:InstanceName"];
        // B runs no consumers: only A fans events out, so only Redis pub/sub can wake B's stream (its poll is 60 s).
        await using var b = await TestHost.StartAsync(Database.ConnectionString, o =>
        {
            NotificationFixture.Apply(o.Settings);
            o.Name = "b";
            o.Settings["Redis:InstanceName"] = instance;
            o.Settings["Events:ConsumersEnabled"] = "false";
        });
        var owner = await a.RegisterAsync();
        var workspace = (await a.Workspaces().CreateWorkspaceAsync(new CreateWorkspaceRequest { Name = "Two hosts" }, owner.Bearer)).Workspace!;
        var member = await a.JoinAsync(owner, await a.RegisterAsync(), workspace.Id, PermissionLevel.Read);
        await using var onB = await NotificationListener.OpenAsync(b, member);

        var sent = DateTime.UtcNow;
        await a.Workspaces().UpdateWorkspaceAsync(new UpdateWorkspaceRequest { WorkspaceId = workspace.Id, Description = "from A" }, owner.Bearer);

        await onB.WaitForNotificationsAsync(1, TimeSpan.FromSeconds(10));
        Assert.True(DateTime.UtcNow - sent < TimeSpan.FromSeconds(10));
        Assert.Equal(onB.First.Offset + 1, onB.Notifications.Single().Offset);
    }
    [Fact]
    public async Task PermissionServiceOnAnotherHost_StreamsAreCheckedThereAsThisService_AHiddenBaseStaysHidden()
    {
        var prefix = $"split-notify-{Guid.NewGuid():N}:";
        // mTLS between the hosts: only the Workspaces service (known by the edge's certificate) may register workspaces and bases.
        using var certificates = await TestCertificates.CreateAsync("permissions-host:permissions", "edge:workspaces+auth+users+notifications", "tester");
        await using var permissionsHost = await TestHost.StartAsync(Database.ConnectionString, o =>
        {
            NotificationFixture.Apply(o.Settings);
            o.Name = "permissions-host";
            certificates.Apply(o, o.Name, requireClientCertificates: true);
            o.Settings["Redis:InstanceName"] = prefix;
        });
        // The edge serves the streams; its feed loop checks many users at once on the permissions host, with a service
        // token its own Auth service mints (a caller's token could only check that caller).
        await using var edge = await TestHost.StartAsync(Database.ConnectionString, o =>
        {
            NotificationFixture.Apply(o.Settings);
            o.Name = "edge";
            certificates.Apply(o, o.Name, requireClientCertificates: false);
            o.Settings["Redis:InstanceName"] = prefix;
            o.Settings["Remote:pyairtable.permissions.v1.PermissionService"] = permissionsHost.GrpcAddress;
        });
        var owner = await edge.RegisterAsync();
        var workspace = (await edge.Workspaces().CreateWorkspaceAsync(new CreateWorkspaceRequest { Name = "Split" }, owner.Bearer)).Workspace!;
        var member = await edge.JoinAsync(owner, await edge.RegisterAsync(), workspace.Id, PermissionLevel.Read);
        var hidden = (await edge.Workspaces().CreateBaseAsync(new CreateBaseRequest { WorkspaceId = workspace.Id, Name = "Hidden" }, owner.Bearer)).Base!;
        await permissionsHost.Permissions().GrantAsync(new GrantRequest
        {
            Resource = Access.Access.Ref(ResourceType.Base, hidden.Id), UserId = member.UserId, Level = PermissionLevel.None,
        }, owner.Bearer);
        await using var stream = await NotificationListener.OpenAsync(edge, member);

        await edge.Workspaces().RenameBaseAsync(new RenameBaseRequest { BaseId = hidden.Id, Name = "Hidden 2" }, owner.Bearer);
        await edge.Workspaces().UpdateWorkspaceAsync(new UpdateWorkspaceRequest { WorkspaceId = workspace.Id, Description = "visible" }, owner.Bearer);

        var updated = PyAirtable.Contracts.Events.EventTypes.NameOf<PyAirtable.Contracts.Events.WorkspaceUpdated>();
        await Eventually.TrueAsync(() => Task.FromResult(stream.Notifications.Any(n => n.EventType == updated)), "the workspace's update arrived",
            TimeSpan.FromSeconds(15));
        Assert.DoesNotContain(stream.Notifications, n => n.BaseId == hidden.Id); // the rename came first, in the same feed
    }
}
