using Google.Rpc;
using Grpc.Core;
using PyAirtable.Contracts.Events;
using PyAirtable.Contracts.Permissions;
using PyAirtable.Contracts.Webhooks;
using PyAirtable.Contracts.Workspaces;
using PyAirtable.IntegrationTests.Access;
using PyAirtable.IntegrationTests.Identity;
using PyAirtable.IntegrationTests.Infrastructure;
using static PyAirtable.IntegrationTests.Identity.AuthenticationTests;

namespace PyAirtable.IntegrationTests.Webhooks;

/// <summary>Creating, reading, changing and deleting webhooks through real gRPC: the secret shown once, input rules, who may do what.</summary>
public sealed class WebhookManagementTests(WebhookFixture fixture) : IClassFixture<WebhookFixture>, IDisposable
{
    private TestHost Host => fixture.Host;

    public void Dispose() => fixture.AssertNoUnexpectedErrors();

    private async Task<(TestUser Owner, Workspace Workspace)> WorkspaceAsync()
    {
        var owner = await Host.RegisterAsync();
        var workspace = (await Host.Workspaces().CreateWorkspaceAsync(new CreateWorkspaceRequest { Name = "Hooks" }, owner.Bearer)).Workspace!;
        return (owner, workspace);
    }

    [Fact]
    public async Task CreateWebhook_SecretShownOnce_NeverInGetOrList()
    {
        var (owner, workspace) = await WorkspaceAsync();
        var hooks = Host.Webhooks();

        var created = await hooks.CreateWebhookAsync(new CreateWebhookRequest
        {
            WorkspaceId = workspace.Id, Url = "https://hooks.example.com/in", EventTypes = [EventTypes.NameOf<BaseCreated>()], Description = "CI",
        }, owner.Bearer);

        Assert.StartsWith("whsec_", created.Secret, StringComparison.Ordinal);
        Assert.Equal(32, Convert.FromBase64String(created.Secret["whsec_".Length..]).Length);
        var webhook = created.Webhook!;
        Assert.True(webhook.Enabled);
        Assert.Equal([EventTypes.NameOf<BaseCreated>()], webhook.EventTypes);
        Assert.Equal(owner.UserId, webhook.CreatedBy);
        var got = (await hooks.GetWebhookAsync(new GetWebhookRequest { WebhookId = webhook.Id }, owner.Bearer)).Webhook!;
        Assert.Equal((webhook.Id, webhook.Url, webhook.Description, webhook.CreatedAt), (got.Id, got.Url, got.Description, got.CreatedAt));
        Assert.Equal(webhook.EventTypes, got.EventTypes);
        var listed = await hooks.ListWebhooksAsync(new ListWebhooksRequest { WorkspaceId = workspace.Id }, owner.Bearer);
        Assert.Equal([webhook.Id], listed.Webhooks.Select(w => w.Id));

        // The secret is nowhere in what Get and List return, nor in the host's log.
        var secretBody = created.Secret["whsec_".Length..];
        Assert.DoesNotContain(secretBody, got.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain(Host.Logs.Entries, e => e.Message.Contains(secretBody, StringComparison.Ordinal));

        // Rotation shows a new secret, once, and says until when the old one still signs.
        var rotated = await hooks.RotateWebhookSecretAsync(new RotateWebhookSecretRequest { WebhookId = webhook.Id, Overlap = TimeSpan.FromHours(1) }, owner.Bearer);
        Assert.NotEqual(created.Secret, rotated.Secret);
        Assert.True(rotated.Webhook!.PreviousSecretExpiresAt > DateTime.UtcNow.AddMinutes(59));
    }

    [Fact]
    public async Task CreateWebhook_BadInput_InvalidArgumentNamingEachField()
    {
        var (owner, workspace) = await WorkspaceAsync();
        var ex = await Assert.ThrowsAsync<RpcException>(async () => await Host.Webhooks().CreateWebhookAsync(new CreateWebhookRequest
        {
            WorkspaceId = workspace.Id, Url = "ftp://example.com/x", EventTypes = ["pyairtable.events.v1.BaseCreated", "workspace.created"],
            Description = new string('x', 501),
        }, owner.Bearer));
        AssertStatus(ex, StatusCode.InvalidArgument);
        Assert.Equal(["description", "event_types[1]", "url"], ex.GetRpcStatus()!.GetDetail<BadRequest>().FieldViolations.Select(v => v.Field).Order());

        foreach (var url in new[] { "", "not a url", "https://user:pw@example.com/", "http://10.0.0.1/x", "http://169.254.169.254/latest/meta-data" })
        {
            var bad = await Assert.ThrowsAsync<RpcException>(async () => await Host.Webhooks().CreateWebhookAsync(
                new CreateWebhookRequest { WorkspaceId = workspace.Id, Url = url }, owner.Bearer));
            Assert.Equal("url", bad.GetRpcStatus()!.GetDetail<BadRequest>().FieldViolations.Single().Field);
        }

        var neither = await Assert.ThrowsAsync<RpcException>(async () => await Host.Webhooks().CreateWebhookAsync(
            new CreateWebhookRequest { Url = "https://example.com/" }, owner.Bearer));
        AssertStatus(neither, StatusCode.InvalidArgument);
        var both = await Assert.ThrowsAsync<RpcException>(async () => await Host.Webhooks().CreateWebhookAsync(
            new CreateWebhookRequest { WorkspaceId = workspace.Id, BaseId = workspace.Id, Url = "https://example.com/" }, owner.Bearer));
        AssertStatus(both, StatusCode.InvalidArgument);
        var rotate = await Assert.ThrowsAsync<RpcException>(async () => await Host.Webhooks().RotateWebhookSecretAsync(
            new RotateWebhookSecretRequest { WebhookId = Guid.NewGuid().ToString(), Overlap = TimeSpan.FromDays(8) }, owner.Bearer));
        Assert.Equal("overlap", rotate.GetRpcStatus()!.GetDetail<BadRequest>().FieldViolations.Single().Field);
        var retry = await Assert.ThrowsAsync<RpcException>(async () => await Host.Webhooks().RetryDeliveryAsync(
            new RetryDeliveryRequest { DeliveryId = "42" }, owner.Bearer));
        Assert.Equal("delivery_id", retry.GetRpcStatus()!.GetDetail<BadRequest>().FieldViolations.Single().Field);
    }

    [Fact]
    public async Task Webhooks_OnlyOwnersOfTheResource_StrangersSeeNothing()
    {
        var (owner, workspace) = await WorkspaceAsync();
        var reader = await Host.JoinAsync(owner, await Host.RegisterAsync(), workspace.Id, PermissionLevel.Read);
        var stranger = await Host.RegisterAsync();
        var hooks = Host.Webhooks();
        var webhook = (await hooks.CreateWebhookAsync(new CreateWebhookRequest { WorkspaceId = workspace.Id, Url = "https://hooks.example.com/a" }, owner.Bearer)).Webhook!;

        // A member who may read the workspace but is no owner: PERMISSION_DENIED.
        AssertStatus(await Assert.ThrowsAsync<RpcException>(async () => await hooks.CreateWebhookAsync(
            new CreateWebhookRequest { WorkspaceId = workspace.Id, Url = "https://hooks.example.com/b" }, reader.Bearer)), StatusCode.PermissionDenied);
        AssertStatus(await Assert.ThrowsAsync<RpcException>(async () => await hooks.GetWebhookAsync(
            new GetWebhookRequest { WebhookId = webhook.Id }, reader.Bearer)), StatusCode.PermissionDenied);

        // A stranger cannot tell the webhook from one that does not exist, nor touch it.
        foreach (var call in new Func<Task>[]
        {
            async () => await hooks.GetWebhookAsync(new GetWebhookRequest { WebhookId = webhook.Id }, stranger.Bearer),
            async () => await hooks.GetWebhookAsync(new GetWebhookRequest { WebhookId = Guid.NewGuid().ToString() }, stranger.Bearer),
            async () => await hooks.UpdateWebhookAsync(new UpdateWebhookRequest { WebhookId = webhook.Id, Url = "https://evil.example.com/" }, stranger.Bearer),
            async () => await hooks.DeleteWebhookAsync(new DeleteWebhookRequest { WebhookId = webhook.Id }, stranger.Bearer),
            async () => await hooks.RotateWebhookSecretAsync(new RotateWebhookSecretRequest { WebhookId = webhook.Id }, stranger.Bearer),
            async () => await hooks.ListDeliveriesAsync(new ListDeliveriesRequest { WebhookId = webhook.Id }, stranger.Bearer),
            async () => await hooks.ReplayDeliveriesAsync(new ReplayDeliveriesRequest { WebhookId = webhook.Id, Since = DateTime.UtcNow }, stranger.Bearer),
            async () => await hooks.ListWebhooksAsync(new ListWebhooksRequest { WorkspaceId = workspace.Id }, stranger.Bearer),
            async () => await hooks.CreateWebhookAsync(new CreateWebhookRequest { WorkspaceId = workspace.Id, Url = "https://evil.example.com/" }, stranger.Bearer),
        })
        {
            AssertStatus(await Assert.ThrowsAsync<RpcException>(call), StatusCode.NotFound);
        }

        // The stranger's own workspace lists only the stranger's webhooks.
        var theirs = (await Host.Workspaces().CreateWorkspaceAsync(new CreateWorkspaceRequest { Name = "Mine" }, stranger.Bearer)).Workspace!;
        Assert.Empty((await hooks.ListWebhooksAsync(new ListWebhooksRequest { WorkspaceId = theirs.Id }, stranger.Bearer)).Webhooks);
        Assert.Equal("https://hooks.example.com/a", (await hooks.GetWebhookAsync(new GetWebhookRequest { WebhookId = webhook.Id }, owner.Bearer)).Webhook!.Url);
    }

    [Fact]
    public async Task UpdateAndDelete_ChangeWhatIsSet_ThenNotFound()
    {
        var (owner, workspace) = await WorkspaceAsync();
        var basis = (await Host.Workspaces().CreateBaseAsync(new CreateBaseRequest { WorkspaceId = workspace.Id, Name = "Data" }, owner.Bearer)).Base!;
        var hooks = Host.Webhooks();
        var onBase = (await hooks.CreateWebhookAsync(new CreateWebhookRequest { BaseId = basis.Id, Url = "https://hooks.example.com/base" }, owner.Bearer)).Webhook!;
        Assert.Equal(workspace.Id, onBase.WorkspaceId);
        Assert.Equal(basis.Id, onBase.BaseId);

        var updated = (await hooks.UpdateWebhookAsync(new UpdateWebhookRequest
        {
            WebhookId = onBase.Id, SetEventTypes = true, EventTypes = [EventTypes.NameOf<BaseRenamed>()], Enabled = false,
        }, owner.Bearer)).Webhook!;
        Assert.Equal("https://hooks.example.com/base", updated.Url);
        Assert.Equal([EventTypes.NameOf<BaseRenamed>()], updated.EventTypes);
        Assert.False(updated.Enabled);
        Assert.Equal("disabled by a user", updated.DisabledReason);
        var enabled = (await hooks.UpdateWebhookAsync(new UpdateWebhookRequest { WebhookId = onBase.Id, Enabled = true }, owner.Bearer)).Webhook!;
        Assert.True(enabled.Enabled);
        Assert.Equal("", enabled.DisabledReason);

        // The workspace's list holds its bases' webhooks; the base's list only its own.
        var onWorkspace = (await hooks.CreateWebhookAsync(new CreateWebhookRequest { WorkspaceId = workspace.Id, Url = "https://hooks.example.com/ws" }, owner.Bearer)).Webhook!;
        Assert.Equal([onBase.Id, onWorkspace.Id], (await hooks.ListWebhooksAsync(new ListWebhooksRequest { WorkspaceId = workspace.Id }, owner.Bearer)).Webhooks.Select(w => w.Id));
        Assert.Equal([onBase.Id], (await hooks.ListWebhooksAsync(new ListWebhooksRequest { BaseId = basis.Id }, owner.Bearer)).Webhooks.Select(w => w.Id));
        var firstPage = await hooks.ListWebhooksAsync(new ListWebhooksRequest { WorkspaceId = workspace.Id, Pagination = new() { PageSize = 1 } }, owner.Bearer);
        var secondPage = await hooks.ListWebhooksAsync(new ListWebhooksRequest { WorkspaceId = workspace.Id, Pagination = new() { PageSize = 1, Cursor = firstPage.Pagination!.NextCursor } }, owner.Bearer);
        Assert.Equal([onBase.Id, onWorkspace.Id], firstPage.Webhooks.Concat(secondPage.Webhooks).Select(w => w.Id));

        await hooks.DeleteWebhookAsync(new DeleteWebhookRequest { WebhookId = onBase.Id }, owner.Bearer);
        AssertStatus(await Assert.ThrowsAsync<RpcException>(async () => await hooks.GetWebhookAsync(
            new GetWebhookRequest { WebhookId = onBase.Id }, owner.Bearer)), StatusCode.NotFound);
    }
}
