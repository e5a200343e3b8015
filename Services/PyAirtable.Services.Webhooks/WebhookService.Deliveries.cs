using PyAirtable.Contracts.Auth;
using PyAirtable.Contracts.Webhooks;
using PyAirtable.Services.Infrastructure.Errors;
using PyAirtable.Services.Infrastructure.Identity;
using PyAirtable.Services.Infrastructure.Pagination;
using PyAirtable.Services.Webhooks.Outbound;
using PyAirtable.Services.Webhooks.Stores;
using CallContext = ProtoBuf.Grpc.CallContext;

namespace PyAirtable.Services.Webhooks;

/// <summary>Deliveries: every attempt of each, and sending one, or all since a time, again.</summary>
public sealed partial class WebhookService
{
    [RequiresScope(Scopes.WorkspacesRead)]
    public async ValueTask<ListDeliveriesResponse> ListDeliveriesAsync(ListDeliveriesRequest request, CallContext context = default)
    {
        var caller = context.RequireUser(WebhooksAreUsers);
        var id = Validation.Id("webhook_id", request.WebhookId);
        var scope = $"webhooks.deliveries:{id}:{caller.UserId}";
        var page = PageRequest.From(request.Pagination, cursors, scope, defaultPageSize: 50, maxPageSize: 200);
        var row = await OwnedWebhookAsync(context, "webhook_id", request.WebhookId);
        var ct = context.CancellationToken;
        await using var db = await WebhookSession.OpenAsync(dataSource, ct);
        Guid? before = page.After is { Count: 1 } a ? Guid.Parse(a[0]) : null;
        var fetched = await db.Deliveries.ListAsync(row.Id, before, page.PageSize + 1, ct);
        var total = await db.Deliveries.CountAsync(row.Id, ct);
        var (items, pagination) = page.Complete(fetched, total, d => [d.Id.ToString()], cursors, scope);
        var attempts = await db.Deliveries.AttemptsAsync(items.Select(d => d.Id).ToArray(), ct);
        return new ListDeliveriesResponse { Deliveries = items.Select(d => d.ToContract(attempts[d.Id])).ToList(), Pagination = pagination };
    }

    [RequiresScope(Scopes.WorkspacesWrite)]
    public async ValueTask<RetryDeliveryResponse> RetryDeliveryAsync(RetryDeliveryRequest request, CallContext context = default)
    {
        context.RequireUser(WebhooksAreUsers);
        if (!DeliveryIds.TryParse(request.DeliveryId, out var id))
        {
            Fail.Invalid("delivery_id", "must be a delivery id (msg_ and 32 hex digits)");
        }

        var ct = context.CancellationToken;
        DeliveryRow? delivery;
        await using (var read = await WebhookSession.OpenAsync(dataSource, ct))
        {
            delivery = await read.Deliveries.FindAsync(id, ct);
        }

        if (delivery is null)
        {
            Fail.NotFound("delivery", request.DeliveryId);
        }

        await OwnedWebhookAsync(context, "delivery_id", delivery.WebhookId.ToString());
        await using var db = await WebhookSession.BeginAsync(dataSource, ct);
        var requeued = await db.Deliveries.RequeueAsync(id, ct);
        if (requeued is null)
        {
            Fail.NotFound("delivery", request.DeliveryId);
        }

        var attempts = await db.Deliveries.AttemptsAsync([id], ct);
        await db.CommitAsync(ct);
        worker.Wake();
        return new RetryDeliveryResponse { Delivery = requeued.ToContract(attempts[id]) };
    }

    [RequiresScope(Scopes.WorkspacesWrite)]
    public async ValueTask<ReplayDeliveriesResponse> ReplayDeliveriesAsync(ReplayDeliveriesRequest request, CallContext context = default)
    {
        context.RequireUser(WebhooksAreUsers);
        var validator = new RequestValidator();
        validator.Id("webhook_id", request.WebhookId);
        if (request.Since is null)
        {
            validator.Add("since", "is required");
        }

        validator.ThrowIfInvalid();
        var row = await OwnedWebhookAsync(context, "webhook_id", request.WebhookId);
        var ct = context.CancellationToken;
        await using var db = await WebhookSession.BeginAsync(dataSource, ct);
        var count = await db.Deliveries.RequeueSinceAsync(row.Id, DateTime.SpecifyKind(request.Since!.Value, DateTimeKind.Utc), request.IncludeSucceeded, ct);
        await db.CommitAsync(ct);
        worker.Wake();
        return new ReplayDeliveriesResponse { Count = count };
    }
}
