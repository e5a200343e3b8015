using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using ProtoBuf.Grpc.Client;
using PyAirtable.Contracts.Events;
using PyAirtable.Contracts.Notifications;
using PyAirtable.Contracts.Permissions;
using PyAirtable.Contracts.Workspaces;
using PyAirtable.IntegrationTests.Access;
using PyAirtable.IntegrationTests.Identity;
using PyAirtable.IntegrationTests.Infrastructure;
using PyAirtable.Services.Notifications;

namespace PyAirtable.IntegrationTests.Notifications;

/// <summary>Heartbeats every 0.3 s; streams look in PostgreSQL only when signalled (poll 60 s), so the signal path is what is tested.</summary>
public sealed class NotificationFixture : HostFixture
{
    protected override void Configure(TestHostOptions options) => Apply(options.Settings);

    public static void Apply(Dictionary<string, string?> settings)
    {
        settings["Notifications:HeartbeatInterval"] = "00:00:00.300";
        settings["Notifications:PollInterval"] = "00:01:00";
    }
}

/// <summary>StreamNotifications and the inbox through real gRPC: resume by offset, removal, many streams, read state.</summary>
public sealed class NotificationTests(NotificationFixture fixture) : IClassFixture<NotificationFixture>, IDisposable
{
    private TestHost Host => fixture.Host;

    public void Dispose() => fixture.AssertNoUnexpectedErrors();

    private async Task<(TestUser Owner, TestUser Member, Workspace Workspace)> SharedAsync(TestHost? host = null)
    {
        host ??= Host;
        var owner = await host.RegisterAsync();
        var workspace = (await host.Workspaces().CreateWorkspaceAsync(new CreateWorkspaceRequest { Name = "Team" }, owner.Bearer)).Workspace!;
        var member = await host.JoinAsync(owner, await host.RegisterAsync(), workspace.Id, PermissionLevel.Read);
        return (owner, member, workspace);
    }

    private static string DescriptionOf(Notification n) =>
        ProtoBuf.Serializer.Deserialize<WorkspaceUpdated>(new ReadOnlyMemory<byte>(n.Data)).Description;

    [Fact]
    public async Task Reconnect_WithLastOffset_ExactlyThe100Missed_InOrder_ThenLive()
    {
        var (owner, member, workspace) = await SharedAsync();
        var ws = Host.Workspaces();
        long last;
        string epoch;
        await using (var first = await NotificationListener.OpenAsync(Host, member))
        {
            epoch = first.First.Epoch;
            await ws.UpdateWorkspaceAsync(new UpdateWorkspaceRequest { WorkspaceId = workspace.Id, Description = "before" }, owner.Bearer);
            await first.WaitForNotificationsAsync(1);
            var seen = first.Notifications.Single();
            Assert.Equal(EventTypes.NameOf<WorkspaceUpdated>(), seen.EventType);
            Assert.Equal(owner.UserId, seen.ActorId);
            Assert.Equal(first.First.Offset + 1, seen.Offset);
            last = seen.Offset;
        }

        for (var i = 0; i < 100; i++)
        {
            await ws.UpdateWorkspaceAsync(new UpdateWorkspaceRequest { WorkspaceId = workspace.Id, Description = $"missed {i}" }, owner.Bearer);
        }

        await using var resumed = await NotificationListener.OpenAsync(Host, member, new StreamNotificationsRequest { Epoch = epoch, AfterOffset = last });
        Assert.False(resumed.First.NotRecovered);
        await resumed.WaitForNotificationsAsync(100);
        await ws.UpdateWorkspaceAsync(new UpdateWorkspaceRequest { WorkspaceId = workspace.Id, Description = "live" }, owner.Bearer);
        await resumed.WaitForNotificationsAsync(101);
        await Task.Delay(400);
        var got = resumed.Notifications;
        Assert.Equal(101, got.Count);
        Assert.Equal(Enumerable.Range(1, 101).Select(i => last + i), got.Select(n => n.Offset));
        Assert.Equal(Enumerable.Range(0, 100).Select(i => $"missed {i}").Append("live"), got.Select(DescriptionOf));
        Assert.All(resumed.Messages, m => Assert.Equal(epoch, m.Epoch));
    }

    [Fact]
    public async Task BaseHiddenFromAMember_ItsNotificationsAreNotDelivered_TheOtherBasesAre()
    {
        var (owner, member, workspace) = await SharedAsync();
        var ws = Host.Workspaces();
        var hidden = (await ws.CreateBaseAsync(new CreateBaseRequest { WorkspaceId = workspace.Id, Name = "Salaries" }, owner.Bearer)).Base!;
        var open = (await ws.CreateBaseAsync(new CreateBaseRequest { WorkspaceId = workspace.Id, Name = "Roadmap" }, owner.Bearer)).Base!;
        await Host.Permissions().GrantAsync(new GrantRequest { Resource = Access.Access.Ref(ResourceType.Base, hidden.Id), UserId = member.UserId, Level = PermissionLevel.None }, owner.Bearer);
        await using var stream = await NotificationListener.OpenAsync(Host, member);

        await ws.RenameBaseAsync(new RenameBaseRequest { BaseId = hidden.Id, Name = "Salaries 2027" }, owner.Bearer);
        await ws.RenameBaseAsync(new RenameBaseRequest { BaseId = open.Id, Name = "Roadmap 2027" }, owner.Bearer);

        await Eventually.TrueAsync(() => Task.FromResult(stream.Notifications.Any(n => n.EventType == EventTypes.NameOf<BaseRenamed>())), "a rename arrived");
        await Task.Delay(500);
        var delivered = stream.Notifications.Where(n => n.EventType == EventTypes.NameOf<BaseRenamed>()).Single();
        Assert.Equal(open.Id, delivered.BaseId);
        Assert.DoesNotContain(stream.Notifications, n => n.BaseId == hidden.Id);
        // The inbox does not show the hidden base's notifications either.
        var listed = await Host.Channel.CreateGrpcService<INotificationService>().ListNotificationsAsync(new ListNotificationsRequest(), member.Bearer);
        Assert.DoesNotContain(listed.Notifications, n => n.BaseId == hidden.Id);
        Assert.Contains(listed.Notifications, n => n.BaseId == open.Id);
        // Nor do the counts: total_count and the unread count are of what the member may read (nothing is read yet).
        Assert.Equal(listed.Notifications.Count, listed.Pagination!.TotalCount);
        var unread = await Host.Channel.CreateGrpcService<INotificationService>().GetUnreadCountAsync(new GetUnreadCountRequest(), member.Bearer);
        Assert.Equal(listed.Notifications.Count, unread.Unread);
    }

    [Fact]
    public async Task IdleStream_Heartbeats_WithTheCurrentOffset()
    {
        var (_, member, _) = await SharedAsync();
        await using var stream = await NotificationListener.OpenAsync(Host, member);
        await Eventually.TrueAsync(() => Task.FromResult(stream.Messages.Count(m => m.Heartbeat) >= 3), "three heartbeats");
        Assert.All(stream.Messages.Where(m => m.Heartbeat), m => Assert.Equal(stream.First.Offset, m.Offset));
        Assert.Empty(stream.Notifications);
    }

    [Fact]
    public async Task RemovedMember_StopsReceivingAtOnce_AndNoLongerSeesTheWorkspacesNotifications()
    {
        var (owner, member, workspace) = await SharedAsync();
        var ws = Host.Workspaces();
        await using var stream = await NotificationListener.OpenAsync(Host, member);
        await ws.UpdateWorkspaceAsync(new UpdateWorkspaceRequest { WorkspaceId = workspace.Id, Description = "while a member" }, owner.Bearer);
        await stream.WaitForNotificationsAsync(1);
        var service = Host.Channel.CreateGrpcService<INotificationService>();
        Assert.Single((await service.ListNotificationsAsync(new ListNotificationsRequest(), member.Bearer)).Notifications);

        await ws.RemoveMemberAsync(new RemoveMemberRequest { WorkspaceId = workspace.Id, UserId = member.UserId }, owner.Bearer);
        for (var i = 0; i < 3; i++)
        {
            await ws.UpdateWorkspaceAsync(new UpdateWorkspaceRequest { WorkspaceId = workspace.Id, Description = $"after {i}" }, owner.Bearer);
        }

        // The owner's stream shows the events went by; the former member's shows nothing more.
        await using var owners = await NotificationListener.OpenAsync(Host, owner, new StreamNotificationsRequest());
        await Task.Delay(1500);
        Assert.Single(stream.Notifications);
        Assert.Empty((await service.ListNotificationsAsync(new ListNotificationsRequest(), member.Bearer)).Notifications);
    }

    [Fact]
    public async Task ManyConcurrentStreams_OneHost_AllReceive_NoThreadOrConnectionEach()
    {
        var (owner, member, workspace) = await SharedAsync();
        var signals = Host.App.Services.GetRequiredService<FeedSignals>();
        var before = signals.OpenStreams;
        const int Streams = 200;
        var streams = await Task.WhenAll(Enumerable.Range(0, Streams).Select(_ => NotificationListener.OpenAsync(Host, member)));
        try
        {
            Assert.True(signals.OpenStreams - before >= Streams, $"{signals.OpenStreams - before} registered");
            await Host.Workspaces().UpdateWorkspaceAsync(new UpdateWorkspaceRequest { WorkspaceId = workspace.Id, Description = "to all" }, owner.Bearer);
            await Task.WhenAll(streams.Select(s => s.WaitForNotificationsAsync(1, TimeSpan.FromSeconds(30))));
            Assert.All(streams, s => Assert.Equal("to all", DescriptionOf(s.Notifications.Single())));
        }
        finally
        {
            foreach (var stream in streams)
            {
                await stream.DisposeAsync();
            }
        }

        await Eventually.TrueAsync(() => Task.FromResult(signals.OpenStreams <= before), "every stream unregistered");
    }

    [Fact]
    public async Task Inbox_ListPaginated_MarkRead_UnreadCount()
    {
        var (owner, member, workspace) = await SharedAsync();
        var service = Host.Channel.CreateGrpcService<INotificationService>();
        for (var i = 0; i < 5; i++)
        {
            await Host.Workspaces().UpdateWorkspaceAsync(new UpdateWorkspaceRequest { WorkspaceId = workspace.Id, Description = $"n{i}" }, owner.Bearer);
        }

        await Eventually.TrueAsync(async () => (await service.GetUnreadCountAsync(new GetUnreadCountRequest(), member.Bearer)).Unread == 5, "five unread");
        var first = await service.ListNotificationsAsync(new ListNotificationsRequest { Pagination = new() { PageSize = 3 } }, member.Bearer);
        var second = await service.ListNotificationsAsync(new ListNotificationsRequest { Pagination = new() { PageSize = 3, Cursor = first.Pagination!.NextCursor } }, member.Bearer);
        var all = first.Notifications.Concat(second.Notifications).ToList();
        Assert.Equal(["n4", "n3", "n2", "n1", "n0"], all.Select(DescriptionOf));
        Assert.Equal(first.Offset, all[0].Offset);

        Assert.Equal(1, (await service.MarkReadAsync(new MarkReadRequest { Offsets = [all[0].Offset] }, member.Bearer)).Marked);
        Assert.Equal(4, (await service.GetUnreadCountAsync(new GetUnreadCountRequest(), member.Bearer)).Unread);
        Assert.Equal(2, (await service.MarkReadAsync(new MarkReadRequest { UpToOffset = all[3].Offset }, member.Bearer)).Marked);
        var unread = await service.ListNotificationsAsync(new ListNotificationsRequest { UnreadOnly = true }, member.Bearer);
        Assert.Equal(["n3", "n2"], unread.Notifications.Select(DescriptionOf)); // n4 by offset, n1 and n0 up to n1's offset
        Assert.NotNull((await service.ListNotificationsAsync(new ListNotificationsRequest(), member.Bearer)).Notifications[0].ReadAt);

        var bad = await Assert.ThrowsAsync<RpcException>(async () => await service.MarkReadAsync(new MarkReadRequest(), member.Bearer));
        Assert.Equal(StatusCode.InvalidArgument, bad.StatusCode);
        var badEpoch = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            await foreach (var _ in service.StreamNotificationsAsync(new StreamNotificationsRequest { Epoch = "nope" }, member.Bearer))
            {
            }
        });
        Assert.Equal(StatusCode.InvalidArgument, badEpoch.StatusCode);
    }
}
