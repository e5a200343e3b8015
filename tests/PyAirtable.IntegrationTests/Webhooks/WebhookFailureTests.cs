using Google.Rpc;
using Grpc.Core;
using PyAirtable.Contracts.Events;
using PyAirtable.Contracts.Webhooks;
using PyAirtable.Contracts.Workspaces;
using PyAirtable.IntegrationTests.Access;
using PyAirtable.IntegrationTests.Identity;
using PyAirtable.IntegrationTests.Infrastructure;

namespace PyAirtable.IntegrationTests.Webhooks;

/// <summary>Endpoints that keep failing are disabled (and an event says so); the SSRF guard at creation and at connect time.</summary>
public sealed class WebhookFailureTests : DatabasePerTest
{
    [Fact]
    public async Task EndpointFailingPastDisableAfter_Disabled_AndWebhookDisabledDeliveredToAnother()
    {
        await using var host = await TestHost.StartAsync(Database.ConnectionString, o =>
        {
            WebhookFixture.Apply(o.Settings);
            o.Settings["Webhooks:RetrySchedule"] = string.Join(',', Enumerable.Repeat("00:00:00.300", 30));
            o.Settings["Webhooks:DisableAfter"] = "00:00:02";
        });
        await using var broken = await WebhookReceiver.StartAsync();
        broken.Respond = (_, _) => Task.FromResult(500);
        await using var watcher = await WebhookReceiver.StartAsync();
        var owner = await host.RegisterAsync();
        var workspace = (await host.Workspaces().CreateWorkspaceAsync(new CreateWorkspaceRequest { Name = "Flaky" }, owner.Bearer)).Workspace!;
        var failing = (await host.Webhooks().CreateWebhookAsync(new CreateWebhookRequest
        {
            WorkspaceId = workspace.Id, Url = broken.Url, EventTypes = [EventTypes.NameOf<WorkspaceUpdated>()],
        }, owner.Bearer)).Webhook!;
        var watching = await host.Webhooks().CreateWebhookAsync(new CreateWebhookRequest
        {
            WorkspaceId = workspace.Id, Url = watcher.Url, EventTypes = [EventTypes.NameOf<WebhookDisabled>()],
        }, owner.Bearer);

        await host.Workspaces().UpdateWorkspaceAsync(new UpdateWorkspaceRequest { WorkspaceId = workspace.Id, Description = "ping" }, owner.Bearer);

        var notice = (await watcher.WaitForAsync(1, TimeSpan.FromSeconds(30)))[0];
        Assert.True(notice.VerifiesWith(watching.Secret));
        Assert.Equal(EventTypes.NameOf<WebhookDisabled>(), notice.Json.GetProperty("type").GetString());
        Assert.Equal(failing.Id, notice.Json.GetProperty("data").GetProperty("webhookId").GetString());
        Assert.Equal(failing.Id, notice.Json.GetProperty("subject").GetString());
        var disabled = (await host.Webhooks().GetWebhookAsync(new GetWebhookRequest { WebhookId = failing.Id }, owner.Bearer)).Webhook!;
        Assert.False(disabled.Enabled);
        Assert.Contains("HTTP 500", disabled.DisabledReason, StringComparison.Ordinal);
        Assert.NotNull(disabled.FailingSince);
        var attempts = broken.Received.Count;

        // Disabled: nothing more is sent, though the delivery is still pending; its attempts span DisableAfter.
        await Task.Delay(1000);
        Assert.Equal(attempts, broken.Received.Count);
        var delivery = (await host.Webhooks().ListDeliveriesAsync(new ListDeliveriesRequest { WebhookId = failing.Id }, owner.Bearer)).Deliveries.Single();
        Assert.Equal(DeliveryStatus.Pending, delivery.Status);
        Assert.Equal(attempts, delivery.Attempts.Count);
        Assert.True(delivery.Attempts[^1].AttemptedAt - delivery.Attempts[0].AttemptedAt >= TimeSpan.FromSeconds(2),
            $"{attempts} attempts from {delivery.Attempts[0].AttemptedAt:O} to {delivery.Attempts[^1].AttemptedAt:O}");
        Assert.All(delivery.Attempts, a => Assert.Equal("HTTP 500", a.Error));

        // Enabled again (the receiver fixed): the pending delivery goes out, the failure history is gone.
        broken.Respond = (_, _) => Task.FromResult(200);
        var enabled = (await host.Webhooks().UpdateWebhookAsync(new UpdateWebhookRequest { WebhookId = failing.Id, Enabled = true }, owner.Bearer)).Webhook!;
        Assert.Null(enabled.FailingSince);
        await broken.WaitForAsync(attempts + 1);
        await Eventually.TrueAsync(async () => (await host.Webhooks().ListDeliveriesAsync(new ListDeliveriesRequest { WebhookId = failing.Id }, owner.Bearer))
            .Deliveries.Single().Status == DeliveryStatus.Succeeded, "the pending delivery succeeded once enabled");
    }

    [Fact]
    public async Task SsrfGuard_LiteralPrivateAddressesRefusedAtCreation_NamesRefusedAtConnect()
    {
        await using var host = await TestHost.StartAsync(Database.ConnectionString, o => WebhookFixture.Apply(o.Settings, allowLoopback: false));
        await using var receiver = await WebhookReceiver.StartAsync();
        var owner = await host.RegisterAsync();
        var workspace = (await host.Workspaces().CreateWorkspaceAsync(new CreateWorkspaceRequest { Name = "Guarded" }, owner.Bearer)).Workspace!;
        var hooks = host.Webhooks();

        foreach (var url in new[]
        {
            "http://10.0.0.1/", "http://172.16.0.1/", "http://192.168.1.1/", "http://169.254.169.254/latest/meta-data/", "http://127.0.0.1:8080/",
            "http://0.0.0.0/", "http://2130706433/", "http://0x7f.1/", "http://017700000001/", "http://[::1]/", "http://[::]/",
            "http://[::ffff:127.0.0.1]/", "http://[::ffff:a9fe:a9fe]/", "http://[fe80::1]/", "http://[fd00:ec2::254]/", "http://224.0.0.1/",
            "http://100.64.0.1/", "https://[64:ff9b::a00:1]/",
        })
        {
            var ex = await Assert.ThrowsAsync<RpcException>(async () => await hooks.CreateWebhookAsync(
                new CreateWebhookRequest { WorkspaceId = workspace.Id, Url = url }, owner.Bearer));
            Assert.True(ex.StatusCode == StatusCode.InvalidArgument, $"{url}: {ex.Status}");
            Assert.Equal("url", ex.GetRpcStatus()!.GetDetail<BadRequest>().FieldViolations.Single().Field);
        }

        // A name passes creation; it resolves to loopback, so the attempt is refused at connect time with its reason.
        var byName = (await hooks.CreateWebhookAsync(new CreateWebhookRequest
        {
            WorkspaceId = workspace.Id, Url = receiver.Url.Replace("127.0.0.1", "localhost", StringComparison.Ordinal),
        }, owner.Bearer)).Webhook!;
        await host.Workspaces().UpdateWorkspaceAsync(new UpdateWorkspaceRequest { WorkspaceId = workspace.Id, Description = "x" }, owner.Bearer);
        DeliveryAttempt attempt = null!;
        await Eventually.TrueAsync(async () =>
        {
            attempt = (await hooks.ListDeliveriesAsync(new ListDeliveriesRequest { WebhookId = byName.Id }, owner.Bearer)).Deliveries.SingleOrDefault()?.Attempts.FirstOrDefault()!;
            return attempt is not null;
        }, "the first attempt was recorded");
        Assert.False(attempt.Succeeded);
        Assert.Equal(0, attempt.StatusCode);
        Assert.StartsWith("refused: localhost: ", attempt.Error, StringComparison.Ordinal);
        Assert.Contains("is not a public address", attempt.Error, StringComparison.Ordinal);
        Assert.Empty(receiver.Received);
    }
}
