using PyAirtable.Contracts.Events;
using PyAirtable.Contracts.Webhooks;
using PyAirtable.Contracts.Workspaces;
using PyAirtable.IntegrationTests.Access;
using PyAirtable.IntegrationTests.Identity;
using PyAirtable.IntegrationTests.Infrastructure;

namespace PyAirtable.IntegrationTests.Webhooks;

/// <summary>
/// Events reaching a real HTTP receiver: every request checked by an independent Standard Webhooks implementation (the
/// StandardWebhooks NuGet package), retried on the (scaled-down) schedule, recorded attempt by attempt, retried and replayed.
/// </summary>
public sealed class WebhookDeliveryTests(WebhookFixture fixture) : IClassFixture<WebhookFixture>, IDisposable
{
    private TestHost Host => fixture.Host;

    public void Dispose() => fixture.AssertNoUnexpectedErrors();

    private async Task<(TestUser Owner, Workspace Workspace)> WorkspaceAsync()
    {
        var owner = await Host.RegisterAsync();
        var workspace = (await Host.Workspaces().CreateWorkspaceAsync(new CreateWorkspaceRequest { Name = "Deliveries" }, owner.Bearer)).Workspace!;
        return (owner, workspace);
    }

    [Fact]
    public async Task Events_DeliveredSignedAsCloudEvents_OnlyTheFilteredTypes()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var (owner, workspace) = await WorkspaceAsync();
        var created = await Host.Webhooks().CreateWebhookAsync(new CreateWebhookRequest
        {
            WorkspaceId = workspace.Id, Url = receiver.Url, EventTypes = [EventTypes.NameOf<BaseCreated>(), EventTypes.NameOf<BaseRenamed>()],
        }, owner.Bearer);

        var basis = (await Host.Workspaces().CreateBaseAsync(new CreateBaseRequest { WorkspaceId = workspace.Id, Name = "Leads" }, owner.Bearer)).Base!;
        await Host.Workspaces().UpdateWorkspaceAsync(new UpdateWorkspaceRequest { WorkspaceId = workspace.Id, Name = "Renamed" }, owner.Bearer); // not wanted
        await Host.Workspaces().RenameBaseAsync(new RenameBaseRequest { BaseId = basis.Id, Name = "Leads 2" }, owner.Bearer);

        var received = await receiver.WaitForAsync(2);
        await Task.Delay(500); // nothing else comes
        Assert.Equal(2, receiver.Received.Count);
        Assert.All(received, r => Assert.True(r.VerifiesWith(created.Secret), "signature of " + r.Id));
        Assert.All(received, r => Assert.False(r.VerifiesWith(WebhookSecretsForTests.Other), "a wrong secret verifies " + r.Id));
        Assert.All(received, r => Assert.Matches("^msg_[0-9a-f]{32}$", r.Id));
        Assert.Equal(2, received.Select(r => r.Id).Distinct().Count());

        // Per aggregate the stream is ordered and the first attempts were made in order (no retries here).
        var first = received.Single(r => r.Json.GetProperty("type").GetString() == EventTypes.NameOf<BaseCreated>()).Json;
        Assert.Equal("1.0", first.GetProperty("specversion").GetString());
        Assert.Equal("application/json", first.GetProperty("datacontenttype").GetString());
        Assert.Equal(basis.Id, first.GetProperty("subject").GetString());
        Assert.Equal(workspace.Id, first.GetProperty("workspaceid").GetString());
        Assert.Equal(owner.UserId, first.GetProperty("actorid").GetString());
        Assert.Equal("/pyairtable.workspaces.v1.WorkspaceService", first.GetProperty("source").GetString());
        Assert.Equal("Leads", first.GetProperty("data").GetProperty("name").GetString());
        Assert.Equal(basis.Id, first.GetProperty("data").GetProperty("baseId").GetString());
        var renamed = received.Single(r => r.Json.GetProperty("type").GetString() == EventTypes.NameOf<BaseRenamed>()).Json;
        Assert.Equal("Leads 2", renamed.GetProperty("data").GetProperty("name").GetString());
        Assert.True(long.Parse(renamed.GetProperty("sequence").GetString()!, System.Globalization.CultureInfo.InvariantCulture)
            > long.Parse(first.GetProperty("sequence").GetString()!, System.Globalization.CultureInfo.InvariantCulture));

        // ListDeliveries: newest first, each with its one successful attempt.
        await Eventually.TrueAsync(async () => (await Host.Webhooks().ListDeliveriesAsync(new ListDeliveriesRequest { WebhookId = created.Webhook!.Id }, owner.Bearer))
            .Deliveries.All(d => d.Status == DeliveryStatus.Succeeded), "both deliveries recorded as succeeded");
        var deliveries = (await Host.Webhooks().ListDeliveriesAsync(new ListDeliveriesRequest { WebhookId = created.Webhook!.Id }, owner.Bearer)).Deliveries;
        Assert.Equal([EventTypes.NameOf<BaseRenamed>(), EventTypes.NameOf<BaseCreated>()], deliveries.Select(d => d.EventType));
        Assert.Equal(received.Select(r => r.Id).Order(), deliveries.Select(d => d.Id).Order());
        Assert.All(deliveries, d => Assert.Equal(200, Assert.Single(d.Attempts).StatusCode));
        Assert.All(deliveries, d => Assert.True(d.Attempts[0].Succeeded));
    }

    [Fact]
    public async Task FailingReceiver_RetriedOnSchedule_SameWebhookId_EveryAttemptListed()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        // 1st: too slow (past the 2 s timeout), 2nd: 500, 3rd: 200.
        receiver.Respond = async (_, n) =>
        {
            if (n == 0)
            {
                await Task.Delay(TimeSpan.FromSeconds(3));
                return 200;
            }

            return n == 1 ? 500 : 204;
        };
        var (owner, workspace) = await WorkspaceAsync();
        var created = await Host.Webhooks().CreateWebhookAsync(new CreateWebhookRequest
        {
            WorkspaceId = workspace.Id, Url = receiver.Url, EventTypes = [EventTypes.NameOf<WorkspaceUpdated>()],
        }, owner.Bearer);

        await Host.Workspaces().UpdateWorkspaceAsync(new UpdateWorkspaceRequest { WorkspaceId = workspace.Id, Description = "retry me" }, owner.Bearer);

        var received = await receiver.WaitForAsync(3, TimeSpan.FromSeconds(30));
        Assert.Single(received.Select(r => r.Id).Distinct());
        Assert.Single(received.Select(r => r.Body).Distinct());
        Assert.All(received, r => Assert.True(r.VerifiesWith(created.Secret)));
        // The schedule: the 2nd attempt ≥ 0.5 s after the 1st failed (its 2 s timeout), the 3rd ≥ 1 s after the 2nd.
        Assert.True(received[1].ReceivedAt - received[0].ReceivedAt >= TimeSpan.FromSeconds(2.4), $"2nd after {received[1].ReceivedAt - received[0].ReceivedAt}");
        Assert.True(received[2].ReceivedAt - received[1].ReceivedAt >= TimeSpan.FromSeconds(0.9), $"3rd after {received[2].ReceivedAt - received[1].ReceivedAt}");

        Delivery delivery = null!;
        await Eventually.TrueAsync(async () =>
        {
            delivery = (await Host.Webhooks().ListDeliveriesAsync(new ListDeliveriesRequest { WebhookId = created.Webhook!.Id }, owner.Bearer)).Deliveries.SingleOrDefault()!;
            return delivery?.Status == DeliveryStatus.Succeeded;
        }, "the delivery succeeded");
        Assert.Equal(received[0].Id, delivery.Id);
        Assert.Equal([0, 500, 204], delivery.Attempts.Select(a => a.StatusCode));
        Assert.Equal([false, false, true], delivery.Attempts.Select(a => a.Succeeded));
        Assert.Equal("timed out after 2 s", delivery.Attempts[0].Error);
        Assert.Equal("HTTP 500", delivery.Attempts[1].Error);
        Assert.True(delivery.Attempts[0].LatencyMs >= 1900, $"timeout latency {delivery.Attempts[0].LatencyMs}");
        Assert.Null((await Host.Webhooks().GetWebhookAsync(new GetWebhookRequest { WebhookId = created.Webhook!.Id }, owner.Bearer)).Webhook!.FailingSince);
    }

    [Fact]
    public async Task ExhaustedSchedule_Failed_ThenRetryAndReplaySendTheSameMessage()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var healthy = false;
        receiver.Respond = (_, _) => Task.FromResult(Volatile.Read(ref healthy) ? 200 : 503);
        var (owner, workspace) = await WorkspaceAsync();
        var created = await Host.Webhooks().CreateWebhookAsync(new CreateWebhookRequest
        {
            WorkspaceId = workspace.Id, Url = receiver.Url, EventTypes = [EventTypes.NameOf<WorkspaceUpdated>()],
        }, owner.Bearer);
        var hooks = Host.Webhooks();
        var since = DateTime.UtcNow;
        await Host.Workspaces().UpdateWorkspaceAsync(new UpdateWorkspaceRequest { WorkspaceId = workspace.Id, Description = "one" }, owner.Bearer);

        // Five attempts (the schedule's length), then failed.
        Delivery delivery = null!;
        await Eventually.TrueAsync(async () =>
        {
            delivery = (await hooks.ListDeliveriesAsync(new ListDeliveriesRequest { WebhookId = created.Webhook!.Id }, owner.Bearer)).Deliveries.SingleOrDefault()!;
            return delivery?.Status == DeliveryStatus.Failed;
        }, "the delivery failed for good", TimeSpan.FromSeconds(30));
        Assert.Equal(5, delivery.Attempts.Count);
        Assert.All(delivery.Attempts, a => Assert.Equal("HTTP 503", a.Error));
        Assert.NotNull((await hooks.GetWebhookAsync(new GetWebhookRequest { WebhookId = created.Webhook!.Id }, owner.Bearer)).Webhook!.FailingSince);

        // The receiver is fixed: RetryDelivery sends the same message again.
        Volatile.Write(ref healthy, true);
        var retried = (await hooks.RetryDeliveryAsync(new RetryDeliveryRequest { DeliveryId = delivery.Id }, owner.Bearer)).Delivery!;
        Assert.Equal(DeliveryStatus.Pending, retried.Status);
        var received = await receiver.WaitForAsync(6);
        Assert.Equal(delivery.Id, received[5].Id);
        Assert.True(received[5].VerifiesWith(created.Secret));
        await Eventually.TrueAsync(async () => (await hooks.ListDeliveriesAsync(new ListDeliveriesRequest { WebhookId = created.Webhook!.Id }, owner.Bearer))
            .Deliveries.Single().Status == DeliveryStatus.Succeeded, "the retry succeeded");
        Assert.Null((await hooks.GetWebhookAsync(new GetWebhookRequest { WebhookId = created.Webhook!.Id }, owner.Bearer)).Webhook!.FailingSince);

        // Replay: failed ones only by default (none now), everything with include_succeeded.
        Assert.Equal(0, (await hooks.ReplayDeliveriesAsync(new ReplayDeliveriesRequest { WebhookId = created.Webhook!.Id, Since = since }, owner.Bearer)).Count);
        Assert.Equal(1, (await hooks.ReplayDeliveriesAsync(new ReplayDeliveriesRequest { WebhookId = created.Webhook!.Id, Since = since, IncludeSucceeded = true }, owner.Bearer)).Count);
        Assert.Equal(0, (await hooks.ReplayDeliveriesAsync(new ReplayDeliveriesRequest { WebhookId = created.Webhook!.Id, Since = DateTime.UtcNow.AddMinutes(1), IncludeSucceeded = true }, owner.Bearer)).Count);
        received = await receiver.WaitForAsync(7);
        Assert.Equal(delivery.Id, received[6].Id);
        Assert.Equal(received[0].Body, received[6].Body);
    }

    [Fact]
    public async Task Rotation_BothSecretsSignDuringTheOverlap_OnlyTheNewAfter()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var (owner, workspace) = await WorkspaceAsync();
        var hooks = Host.Webhooks();
        var created = await hooks.CreateWebhookAsync(new CreateWebhookRequest
        {
            WorkspaceId = workspace.Id, Url = receiver.Url, EventTypes = [EventTypes.NameOf<WorkspaceUpdated>()],
        }, owner.Bearer);
        var rotated = await hooks.RotateWebhookSecretAsync(new RotateWebhookSecretRequest { WebhookId = created.Webhook!.Id, Overlap = TimeSpan.FromHours(1) }, owner.Bearer);

        await Host.Workspaces().UpdateWorkspaceAsync(new UpdateWorkspaceRequest { WorkspaceId = workspace.Id, Description = "a" }, owner.Bearer);
        var during = (await receiver.WaitForAsync(1))[0];
        Assert.Equal(2, during.Signature.Split(' ').Length);
        Assert.True(during.VerifiesWith(created.Secret), "the previous secret verifies during the overlap");
        Assert.True(during.VerifiesWith(rotated.Secret), "the new secret verifies during the overlap");

        var again = await hooks.RotateWebhookSecretAsync(new RotateWebhookSecretRequest { WebhookId = created.Webhook!.Id, Overlap = TimeSpan.Zero }, owner.Bearer);
        Assert.Null(again.Webhook!.PreviousSecretExpiresAt);
        await Host.Workspaces().UpdateWorkspaceAsync(new UpdateWorkspaceRequest { WorkspaceId = workspace.Id, Description = "b" }, owner.Bearer);
        var after = (await receiver.WaitForAsync(2))[1];
        Assert.Single(after.Signature.Split(' '));
        Assert.True(after.VerifiesWith(again.Secret));
        Assert.False(after.VerifiesWith(rotated.Secret));
        Assert.False(after.VerifiesWith(created.Secret));
    }

    [Fact]
    public async Task BaseWebhook_ReceivesItsBaseOnly_WorkspaceWebhookEverything()
    {
        await using var baseReceiver = await WebhookReceiver.StartAsync();
        await using var workspaceReceiver = await WebhookReceiver.StartAsync();
        var (owner, workspace) = await WorkspaceAsync();
        var bases = Host.Workspaces();
        var mine = (await bases.CreateBaseAsync(new CreateBaseRequest { WorkspaceId = workspace.Id, Name = "Mine" }, owner.Bearer)).Base!;
        var other = (await bases.CreateBaseAsync(new CreateBaseRequest { WorkspaceId = workspace.Id, Name = "Other" }, owner.Bearer)).Base!;
        var onBase = await Host.Webhooks().CreateWebhookAsync(new CreateWebhookRequest { BaseId = mine.Id, Url = baseReceiver.Url }, owner.Bearer);
        await Host.Webhooks().CreateWebhookAsync(new CreateWebhookRequest { WorkspaceId = workspace.Id, Url = workspaceReceiver.Url }, owner.Bearer);

        await bases.RenameBaseAsync(new RenameBaseRequest { BaseId = other.Id, Name = "Other 2" }, owner.Bearer);
        await bases.RenameBaseAsync(new RenameBaseRequest { BaseId = mine.Id, Name = "Mine 2" }, owner.Bearer);
        await bases.DeleteBaseAsync(new DeleteBaseRequest { BaseId = mine.Id }, owner.Bearer);

        var all = await workspaceReceiver.WaitForAsync(3);
        var own = await baseReceiver.WaitForAsync(2);
        await Task.Delay(500);
        Assert.Equal(2, baseReceiver.Received.Count);
        Assert.All(own, r => Assert.Equal(mine.Id, r.Json.GetProperty("subject").GetString()));
        Assert.All(own, r => Assert.True(r.VerifiesWith(onBase.Secret)));
        Assert.Equal(3, all.Count);
    }
}

internal static class WebhookSecretsForTests
{
    public static readonly string Other = "whsec_" + Convert.ToBase64String(new byte[32]);
}
