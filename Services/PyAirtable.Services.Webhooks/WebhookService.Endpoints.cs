using PyAirtable.Contracts.Auth;
using PyAirtable.Contracts.Webhooks;
using PyAirtable.Services.Infrastructure.Errors;
using PyAirtable.Services.Infrastructure.Identity;
using PyAirtable.Services.Infrastructure.Pagination;
using PyAirtable.Contracts.Permissions;
using PyAirtable.Services.Webhooks.Stores;
using CallContext = ProtoBuf.Grpc.CallContext;

namespace PyAirtable.Services.Webhooks;

/// <summary>Webhooks themselves: create (the secret shown once), read, list, change, delete, rotate the secret.</summary>
public sealed partial class WebhookService
{
    private static readonly TimeSpan DefaultOverlap = TimeSpan.FromHours(24);
    private static readonly TimeSpan MaxOverlap = TimeSpan.FromDays(7);

    [RequiresScope(Scopes.WorkspacesWrite)]
    public async ValueTask<CreateWebhookResponse> CreateWebhookAsync(CreateWebhookRequest request, CallContext context = default)
    {
        var caller = context.RequireUser(WebhooksAreUsers);
        var validator = new RequestValidator();
        addresses.CheckUrl(validator, "url", request.Url);
        var types = EventTypeFilter(validator, request.EventTypes);
        Description(validator, request.Description);
        var (workspace, baseId) = await TargetAsync(context, validator, request.WorkspaceId, request.BaseId);
        await RequireOwnerAsync(context, workspace, baseId, baseId is null ? "workspace" : "base", (baseId ?? workspace).ToString());
        var ct = context.CancellationToken;
        var secret = WebhookSecrets.NewSecret();
        var sealedSecret = await secrets.EncryptAsync(secret, ct);
        await using var db = await WebhookSession.BeginAsync(dataSource, ct);
        if (await db.Endpoints.CountInWorkspaceAsync(workspace, ct) >= MaxWebhooksPerWorkspace)
        {
            Fail.FailedPrecondition($"A workspace has at most {MaxWebhooksPerWorkspace} webhooks; delete one first.");
        }

        var row = await db.Endpoints.InsertAsync(new EndpointRow
        {
            Id = Guid.CreateVersion7(), WorkspaceId = workspace, BaseId = baseId, Url = request.Url, EventTypes = types,
            Description = request.Description.Trim(), CreatedBy = Guid.Parse(caller.UserId),
        }, sealedSecret, ct);
        await db.CommitAsync(ct);
        return new CreateWebhookResponse { Webhook = row.ToContract(), Secret = secret };
    }

    [RequiresScope(Scopes.WorkspacesRead)]
    public async ValueTask<GetWebhookResponse> GetWebhookAsync(GetWebhookRequest request, CallContext context = default)
    {
        context.RequireUser(WebhooksAreUsers);
        var row = await OwnedWebhookAsync(context, "webhook_id", request.WebhookId);
        return new GetWebhookResponse { Webhook = row.ToContract() };
    }

    [RequiresScope(Scopes.WorkspacesRead)]
    public async ValueTask<ListWebhooksResponse> ListWebhooksAsync(ListWebhooksRequest request, CallContext context = default)
    {
        var caller = context.RequireUser(WebhooksAreUsers);
        var (workspace, baseId) = await TargetAsync(context, new RequestValidator(), request.WorkspaceId, request.BaseId);
        var scope = $"webhooks.list:{workspace}:{baseId}:{caller.UserId}";
        var page = PageRequest.From(request.Pagination, cursors, scope, defaultPageSize: 50, maxPageSize: 200);
        await RequireOwnerAsync(context, workspace, baseId, baseId is null ? "workspace" : "base", (baseId ?? workspace).ToString());
        var ct = context.CancellationToken;
        List<EndpointRow> all;
        await using (var db = await WebhookSession.OpenAsync(dataSource, ct))
        {
            all = await db.Endpoints.ListAsync(workspace, baseId, ct);
        }

        // A workspace's list holds its bases' webhooks too: those of bases where the caller is an owner.
        var bases = all.Where(w => w.BaseId is not null && baseId is null).Select(w => w.BaseId!.Value).Distinct().ToList();
        var owned = new HashSet<Guid>();
        if (bases.Count > 0)
        {
            var verdicts = await permissions.BatchCheckPermissionAsync(new BatchCheckPermissionRequest
            {
                Checks = bases.Select(b => new CheckItem { Resource = new ResourceRef { Type = ResourceType.Base, Id = b.ToString() }, Level = PermissionLevel.Owner }).ToList(),
            }, context);
            owned.UnionWith(bases.Where((_, i) => verdicts.Results[i].Allowed));
        }

        var visible = all.Where(w => baseId is not null || w.BaseId is null || owned.Contains(w.BaseId.Value)).ToList();
        var after = page.After is { Count: 1 } a ? Guid.Parse(a[0]) : Guid.Empty;
        var next = visible.Where(w => w.Id.CompareTo(after) > 0).Take(page.PageSize + 1).ToList();
        var (items, pagination) = page.Complete(next, visible.Count, w => [w.Id.ToString()], cursors, scope);
        return new ListWebhooksResponse { Webhooks = items.Select(w => w.ToContract()).ToList(), Pagination = pagination };
    }

    [RequiresScope(Scopes.WorkspacesWrite)]
    public async ValueTask<UpdateWebhookResponse> UpdateWebhookAsync(UpdateWebhookRequest request, CallContext context = default)
    {
        context.RequireUser(WebhooksAreUsers);
        var validator = new RequestValidator();
        validator.Id("webhook_id", request.WebhookId);
        if (request.Url is not null)
        {
            addresses.CheckUrl(validator, "url", request.Url);
        }

        var types = request.SetEventTypes ? EventTypeFilter(validator, request.EventTypes) : null;
        if (!request.SetEventTypes && request.EventTypes.Count > 0)
        {
            validator.Add("event_types", "is only read with set_event_types");
        }

        Description(validator, request.Description);
        validator.ThrowIfInvalid();
        var row = await OwnedWebhookAsync(context, "webhook_id", request.WebhookId);
        var ct = context.CancellationToken;
        await using var db = await WebhookSession.BeginAsync(dataSource, ct);
        var updated = await db.Endpoints.UpdateAsync(row.Id, request.Url, types, request.Description?.Trim(), request.Enabled, ct);
        if (updated is null)
        {
            Fail.NotFound("webhook", row.Id.ToString());
        }

        await db.CommitAsync(ct);
        return new UpdateWebhookResponse { Webhook = updated.ToContract() };
    }

    [RequiresScope(Scopes.WorkspacesWrite)]
    public async ValueTask<DeleteWebhookResponse> DeleteWebhookAsync(DeleteWebhookRequest request, CallContext context = default)
    {
        context.RequireUser(WebhooksAreUsers);
        var row = await OwnedWebhookAsync(context, "webhook_id", request.WebhookId);
        await using var db = await WebhookSession.BeginAsync(dataSource, context.CancellationToken);
        await db.Endpoints.DeleteAsync(row.Id, context.CancellationToken);
        await db.CommitAsync(context.CancellationToken);
        return new DeleteWebhookResponse();
    }

    [RequiresScope(Scopes.WorkspacesWrite)]
    public async ValueTask<RotateWebhookSecretResponse> RotateWebhookSecretAsync(RotateWebhookSecretRequest request, CallContext context = default)
    {
        context.RequireUser(WebhooksAreUsers);
        var validator = new RequestValidator();
        validator.Id("webhook_id", request.WebhookId);
        var overlap = request.Overlap ?? DefaultOverlap;
        if (overlap < TimeSpan.Zero || overlap > MaxOverlap)
        {
            validator.Add("overlap", "must be between 0 and 7 days");
        }

        validator.ThrowIfInvalid();
        var row = await OwnedWebhookAsync(context, "webhook_id", request.WebhookId);
        var ct = context.CancellationToken;
        var secret = WebhookSecrets.NewSecret();
        var sealedSecret = await secrets.EncryptAsync(secret, ct);
        await using var db = await WebhookSession.BeginAsync(dataSource, ct);
        var rotated = await db.Endpoints.RotateAsync(row.Id, sealedSecret, overlap > TimeSpan.Zero ? DateTime.UtcNow + overlap : null, ct);
        if (rotated is null)
        {
            Fail.NotFound("webhook", row.Id.ToString());
        }

        await db.CommitAsync(ct);
        return new RotateWebhookSecretResponse { Webhook = rotated.ToContract(), Secret = secret };
    }
}
