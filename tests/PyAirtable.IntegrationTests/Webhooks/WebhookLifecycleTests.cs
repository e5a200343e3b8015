using Dapper;
using Npgsql;
using PyAirtable.Contracts.Events;
using PyAirtable.Contracts.Webhooks;
using PyAirtable.Contracts.Workspaces;
using PyAirtable.IntegrationTests.Access;
using PyAirtable.IntegrationTests.Identity;
using PyAirtable.IntegrationTests.Infrastructure;

namespace PyAirtable.IntegrationTests.Webhooks;

/// <summary>What happens to webhooks when their workspace or base goes, and to deliveries answered with a redirect.</summary>
public sealed class WebhookLifecycleTests(WebhookFixture fixture) : IClassFixture<WebhookFixture>, IDisposable
{
    private TestHost Host => fixture.Host;

    public void Dispose() => fixture.AssertNoUnexpectedErrors();

    private async Task<bool> StoredAsync(string webhookId)
    {
        await using var connection = new NpgsqlConnection(fixture.Database.ConnectionString);
        return await connection.ExecuteScalarAsync<bool>("SELECT EXISTS (SELECT 1 FROM webhooks.endpoints WHERE id = @id)", new { id = Guid.Parse(webhookId) });
    }

    [Fact]
    public async Task DeletedBaseOrWorkspace_ItsWebhooksSendTheDeletion_ThenAreRemoved()
    {
        await using var baseReceiver = await WebhookReceiver.StartAsync();
        await using var workspaceReceiver = await WebhookReceiver.StartAsync();
        var owner = await Host.RegisterAsync();
        var workspace = (await Host.Workspaces().CreateWorkspaceAsync(new CreateWorkspaceRequest { Name = "Short-lived" }, owner.Bearer)).Workspace!;
        var basis = (await Host.Workspaces().CreateBaseAsync(new CreateBaseRequest { WorkspaceId = workspace.Id, Name = "Doomed" }, owner.Bearer)).Base!;
        var onBase = (await Host.Webhooks().CreateWebhookAsync(new CreateWebhookRequest
        {
            BaseId = basis.Id, Url = baseReceiver.Url, EventTypes = [EventTypes.NameOf<BaseDeleted>()],
        }, owner.Bearer)).Webhook!;
        var onWorkspace = (await Host.Webhooks().CreateWebhookAsync(new CreateWebhookRequest
        {
            WorkspaceId = workspace.Id, Url = workspaceReceiver.Url, EventTypes = [EventTypes.NameOf<BaseDeleted>(), EventTypes.NameOf<WorkspaceDeleted>()],
        }, owner.Bearer)).Webhook!;

        await Host.Workspaces().DeleteBaseAsync(new DeleteBaseRequest { BaseId = basis.Id }, owner.Bearer);

        // The base's webhook sends the deletion, its last delivery, and is then gone with its record; the workspace's stays.
        Assert.Equal(EventTypes.NameOf<BaseDeleted>(), (await baseReceiver.WaitForAsync(1))[0].Json.GetProperty("type").GetString());
        await Eventually.TrueAsync(async () => !await StoredAsync(onBase.Id), "the deleted base's webhook is removed");
        await workspaceReceiver.WaitForAsync(1);
        Assert.True(await StoredAsync(onWorkspace.Id));
        Assert.Equal(workspace.Id, (await Host.Webhooks().GetWebhookAsync(new GetWebhookRequest { WebhookId = onWorkspace.Id }, owner.Bearer)).Webhook!.WorkspaceId);

        await Host.Workspaces().DeleteWorkspaceAsync(new DeleteWorkspaceRequest { WorkspaceId = workspace.Id }, owner.Bearer);

        var received = await workspaceReceiver.WaitForAsync(2);
        Assert.Equal(EventTypes.NameOf<WorkspaceDeleted>(), received[1].Json.GetProperty("type").GetString());
        await Eventually.TrueAsync(async () => !await StoredAsync(onWorkspace.Id), "the deleted workspace's webhook is removed");
        Assert.Single(baseReceiver.Received); // retired: nothing after its deletion
    }

    [Fact]
    public async Task RedirectingReceiver_NotFollowed_TheAttemptFailsWithItsStatus()
    {
        await using var target = await WebhookReceiver.StartAsync();
        await using var redirecting = await WebhookReceiver.StartAsync();
        redirecting.Respond = (_, _) => Task.FromResult(307); // 307 keeps the method and body: a client following it would POST them to the target
        redirecting.Location = target.Url;
        var owner = await Host.RegisterAsync();
        var workspace = (await Host.Workspaces().CreateWorkspaceAsync(new CreateWorkspaceRequest { Name = "Redirects" }, owner.Bearer)).Workspace!;
        var webhook = (await Host.Webhooks().CreateWebhookAsync(new CreateWebhookRequest
        {
            WorkspaceId = workspace.Id, Url = redirecting.Url, EventTypes = [EventTypes.NameOf<WorkspaceUpdated>()],
        }, owner.Bearer)).Webhook!;

        await Host.Workspaces().UpdateWorkspaceAsync(new UpdateWorkspaceRequest { WorkspaceId = workspace.Id, Description = "moved?" }, owner.Bearer);

        await redirecting.WaitForAsync(2); // the first attempt and a retry: a 3xx is a failure like any status outside 2xx
        var delivery = (await Host.Webhooks().ListDeliveriesAsync(new ListDeliveriesRequest { WebhookId = webhook.Id }, owner.Bearer)).Deliveries.Single();
        Assert.All(delivery.Attempts, a => Assert.Equal(307, a.StatusCode));
        Assert.All(delivery.Attempts, a => Assert.Equal("HTTP 307", a.Error));
        Assert.Empty(target.Received);
    }
}
