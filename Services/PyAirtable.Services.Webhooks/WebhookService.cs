using Npgsql;
using PyAirtable.Contracts.Permissions;
using PyAirtable.Contracts.Webhooks;
using PyAirtable.Contracts.Workspaces;
using PyAirtable.Services.Infrastructure.Errors;
using PyAirtable.Services.Infrastructure.Identity;
using PyAirtable.Services.Infrastructure.Pagination;
using PyAirtable.Services.Webhooks.Outbound;
using PyAirtable.Services.Webhooks.Stores;
using CallContext = ProtoBuf.Grpc.CallContext;

namespace PyAirtable.Services.Webhooks;

/// <summary>
/// pyairtable.webhooks.v1.WebhookService over the <c>webhooks</c> schema. Who may manage a webhook is asked of
/// IPermissionService with the caller's own context: the owner level on the webhook's base, or on its workspace for a
/// workspace webhook. The event-stream consumer (<see cref="WebhookForwarder"/>) queues deliveries and
/// <see cref="DeliveryWorker"/> sends them; the RPCs here manage webhooks and read or re-queue deliveries. Grouped by
/// feature: endpoints (create, read, change, rotate) and deliveries.
/// </summary>
public sealed partial class WebhookService(
    NpgsqlDataSource dataSource, IPermissionService permissions, IWorkspaceService workspaces, CursorCodec cursors,
    AddressPolicy addresses, WebhookSecrets secrets, DeliveryWorker worker) : IWebhookService
{
    private const string WebhooksAreUsers = "Webhooks are managed by users.";
    private const int MaxWebhooksPerWorkspace = 100;
    private const int MaxEventTypes = 50;
    private const int MaxDescriptionLength = 500;

    /// <summary>
    /// Requires the owner level on the resource. Who cannot read it gets NOT_FOUND on <paramref name="notFoundType"/>
    /// <paramref name="notFoundId"/> (a webhook's id is not confirmed to strangers); who can read it PERMISSION_DENIED.
    /// </summary>
    private async Task RequireOwnerAsync(CallContext context, Guid workspace, Guid? baseId, string notFoundType, string notFoundId)
    {
        var resource = baseId is { } b
            ? new ResourceRef { Type = ResourceType.Base, Id = b.ToString() }
            : new ResourceRef { Type = ResourceType.Workspace, Id = workspace.ToString() };
        var check = await permissions.CheckPermissionAsync(new CheckPermissionRequest { Resource = resource, Level = PermissionLevel.Owner }, context);
        if (check.EffectiveLevel < PermissionLevel.Read)
        {
            Fail.NotFound(notFoundType, notFoundId);
        }

        if (!check.Allowed)
        {
            Fail.PermissionDenied($"Webhooks need the owner level on the {resource.Type.ToString().ToLowerInvariant()}; " +
                $"you have {check.EffectiveLevel.ToString().ToLowerInvariant()}.");
        }
    }

    /// <summary>The webhook, when it exists and the caller owns its resource; NOT_FOUND otherwise.</summary>
    private async Task<EndpointRow> OwnedWebhookAsync(CallContext context, string field, string? webhookId)
    {
        var id = Validation.Id(field, webhookId);
        EndpointRow? row;
        await using (var db = await WebhookSession.OpenAsync(dataSource, context.CancellationToken))
        {
            row = await db.Endpoints.FindAsync(id, context.CancellationToken);
        }

        if (row is null)
        {
            Fail.NotFound("webhook", id.ToString());
        }

        await RequireOwnerAsync(context, row.WorkspaceId, row.BaseId, "webhook", id.ToString());
        return row;
    }

    /// <summary>
    /// The workspace and base a create or list request names (exactly one of the two ids): a base's workspace is asked of
    /// the Workspace service with the caller's context (NOT_FOUND when they cannot read the base).
    /// </summary>
    private async Task<(Guid Workspace, Guid? Base)> TargetAsync(CallContext context, RequestValidator validator, string workspaceId, string baseId)
    {
        Guid workspace = Guid.Empty, baseGuid = Guid.Empty;
        if (workspaceId.Length > 0 == baseId.Length > 0)
        {
            validator.Add("workspace_id", "exactly one of workspace_id and base_id is required");
        }
        else if (workspaceId.Length > 0)
        {
            workspace = validator.Id("workspace_id", workspaceId);
        }
        else
        {
            baseGuid = validator.Id("base_id", baseId);
        }

        validator.ThrowIfInvalid();
        if (baseGuid == Guid.Empty)
        {
            return (workspace, null);
        }

        var found = await workspaces.GetBaseAsync(new GetBaseRequest { BaseId = baseGuid.ToString() }, context);
        return (Guid.Parse(found.Base!.WorkspaceId), baseGuid);
    }

    /// <summary>Event-type filters: known names (see <see cref="EventCatalog"/>), at most 50, without repeats.</summary>
    private static string[] EventTypeFilter(RequestValidator validator, List<string> names)
    {
        if (names.Count > MaxEventTypes)
        {
            validator.Add("event_types", $"must have at most {MaxEventTypes} entries");
            return [];
        }

        for (var i = 0; i < names.Count; i++)
        {
            if (!EventCatalog.IsKnown(names[i]))
            {
                validator.Add($"event_types[{i}]", "is not an event type (full name, e.g. pyairtable.events.v1.BaseCreated)");
            }
        }

        return [.. names.Distinct(StringComparer.Ordinal)];
    }

    private static RequestValidator Description(RequestValidator validator, string? description) =>
        validator.MaxLength("description", description, MaxDescriptionLength);
}
