using ProtoBuf;
using ProtoBuf.Grpc;
using ProtoBuf.Grpc.Configuration;
using PyAirtable.Contracts.Common;

namespace PyAirtable.Contracts.Webhooks;

/// <summary>
/// Webhooks: the platform's domain events on a workspace or a base, POSTed to a URL by the Standard Webhooks rules
/// (https://www.standardwebhooks.com). Managing a webhook needs the owner level on its workspace or base; who cannot
/// read that resource gets NOT_FOUND, who can read it but is not an owner PERMISSION_DENIED.
/// </summary>
/// <remarks>
/// Each delivery is a POST with a JSON body holding the event's CloudEvents 1.0 attributes (structured mode:
/// <c>specversion</c>, <c>id</c>, <c>source</c>, <c>type</c>, <c>subject</c>, <c>time</c>, <c>datacontenttype</c>
/// <c>application/json</c>, the extensions <c>sequence</c>, <c>workspaceid</c>, <c>actorid</c>) and the event in
/// <c>data</c> as JSON (the protobuf message's fields in lowerCamelCase), and the headers <c>webhook-id</c> (the delivery
/// id, the same on every retry: deduplicate on it), <c>webhook-timestamp</c> (Unix seconds of this attempt) and
/// <c>webhook-signature</c> (<c>v1,</c> + base64 HMAC-SHA256 of <c>{id}.{timestamp}.{body}</c> with the secret's bytes;
/// during a rotation's overlap two signatures separated by a space). Only a 2xx within the timeout (15 s) counts;
/// anything else is retried on the schedule (at once, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h). Delivery is at least
/// once. There is no ordering guarantee between deliveries (a failing one does not hold back the next); use
/// <c>sequence</c> to order events of one subject. An endpoint that has failed for 5 days without one success is
/// disabled, and a <c>pyairtable.events.v1.WebhookDisabled</c> event says so.
/// </remarks>
[Service("pyairtable.webhooks.v1.WebhookService")]
public interface IWebhookService
{
    /// <summary>
    /// Creates a webhook on a workspace or a base (owner). The response carries the signing secret: the only time it is
    /// shown.
    /// </summary>
    [HttpRoute("POST", "/v1/webhooks")]
    ValueTask<CreateWebhookResponse> CreateWebhookAsync(CreateWebhookRequest request, CallContext context = default);

    /// <summary>One webhook (owner of its workspace or base). Never the secret.</summary>
    [HttpRoute("GET", "/v1/webhooks/{webhook_id}")]
    ValueTask<GetWebhookResponse> GetWebhookAsync(GetWebhookRequest request, CallContext context = default);

    /// <summary>The webhooks of a workspace (all of them, bases' included) or of one base (owner), by id.</summary>
    [HttpRoute("GET", "/v1/webhooks")]
    ValueTask<ListWebhooksResponse> ListWebhooksAsync(ListWebhooksRequest request, CallContext context = default);

    /// <summary>Changes the URL, event types, description or enabled state; unset fields stay. Enabling clears the failure history.</summary>
    [HttpRoute("PATCH", "/v1/webhooks/{webhook_id}")]
    ValueTask<UpdateWebhookResponse> UpdateWebhookAsync(UpdateWebhookRequest request, CallContext context = default);

    /// <summary>Deletes a webhook with its deliveries; nothing more is sent.</summary>
    [HttpRoute("DELETE", "/v1/webhooks/{webhook_id}")]
    ValueTask<DeleteWebhookResponse> DeleteWebhookAsync(DeleteWebhookRequest request, CallContext context = default);

    /// <summary>
    /// Makes a new secret (shown once, in the response). Until <c>overlap</c> has passed, deliveries carry signatures
    /// with both the new and the previous secret, so receivers can switch without losing a delivery.
    /// </summary>
    [HttpRoute("POST", "/v1/webhooks/{webhook_id}:rotateSecret")]
    ValueTask<RotateWebhookSecretResponse> RotateWebhookSecretAsync(RotateWebhookSecretRequest request, CallContext context = default);

    /// <summary>The deliveries of a webhook, newest first, each with every attempt (status, latency, error).</summary>
    [HttpRoute("GET", "/v1/webhooks/{webhook_id}/deliveries")]
    ValueTask<ListDeliveriesResponse> ListDeliveriesAsync(ListDeliveriesRequest request, CallContext context = default);

    /// <summary>Sends one delivery again now, whatever its state (same webhook-id and body).</summary>
    [HttpRoute("POST", "/v1/deliveries/{delivery_id}:retry")]
    ValueTask<RetryDeliveryResponse> RetryDeliveryAsync(RetryDeliveryRequest request, CallContext context = default);

    /// <summary>Sends again every delivery of a webhook made since a time (same webhook-ids and bodies), failed ones only unless <c>include_succeeded</c>.</summary>
    [HttpRoute("POST", "/v1/webhooks/{webhook_id}:replay")]
    ValueTask<ReplayDeliveriesResponse> ReplayDeliveriesAsync(ReplayDeliveriesRequest request, CallContext context = default);
}

/// <summary>A webhook (never its secret).</summary>
[ProtoContract]
public sealed record Webhook
{
    /// <summary>Its id (a UUID).</summary>
    [ProtoMember(1)] public string Id { get; init; } = "";

    /// <summary>The workspace whose events it receives, or the workspace of its base.</summary>
    [ProtoMember(2)] public string WorkspaceId { get; init; } = "";

    /// <summary>The base whose events it receives; empty for a workspace webhook (every event of the workspace).</summary>
    [ProtoMember(3)] public string BaseId { get; init; } = "";

    /// <summary>Where deliveries are POSTed: an http or https URL of at most 2,000 characters.</summary>
    [ProtoMember(4)] public string Url { get; init; } = "";

    /// <summary>The event types it receives (e.g. <c>pyairtable.events.v1.BaseCreated</c>); empty means all.</summary>
    [ProtoMember(5)] public List<string> EventTypes { get; init; } = [];

    /// <summary>At most 500 characters, for people.</summary>
    [ProtoMember(6)] public string Description { get; init; } = "";

    /// <summary>False when disabled, by a person or after failing too long (see <c>disabled_reason</c>); nothing is sent then.</summary>
    [ProtoMember(7)] public bool Enabled { get; init; }

    /// <summary>Why it is disabled; empty while enabled.</summary>
    [ProtoMember(8)] public string DisabledReason { get; init; } = "";

    /// <summary>Since when every attempt has failed (UTC); unset while the last attempt succeeded.</summary>
    [ProtoMember(9)] public DateTime? FailingSince { get; init; }

    /// <summary>Until when deliveries are also signed with the previous secret (UTC); unset outside a rotation.</summary>
    [ProtoMember(10)] public DateTime? PreviousSecretExpiresAt { get; init; }

    /// <summary>Who created it.</summary>
    [ProtoMember(11)] public string CreatedBy { get; init; } = "";

    /// <summary>When (UTC).</summary>
    [ProtoMember(12)] public DateTime? CreatedAt { get; init; }

    /// <summary>When it last changed (UTC).</summary>
    [ProtoMember(13)] public DateTime? UpdatedAt { get; init; }
}

/// <summary>A new webhook: on a workspace (<c>workspace_id</c>) or a base (<c>base_id</c>), exactly one of them.</summary>
[ProtoContract]
public sealed record CreateWebhookRequest
{
    /// <summary>The workspace, for every event of the workspace and its bases.</summary>
    [ProtoMember(1)] public string WorkspaceId { get; init; } = "";

    /// <summary>The base, for the events about that base.</summary>
    [ProtoMember(2)] public string BaseId { get; init; } = "";

    /// <summary>
    /// An http or https URL, at most 2,000 characters, without credentials. A literal address that is loopback, private,
    /// link-local, multicast or unspecified is refused here unless the platform allows it (<c>Webhooks:AllowedNetworks</c>);
    /// a name is checked at each delivery against the address it resolves to.
    /// </summary>
    [ProtoMember(3)] public string Url { get; init; } = "";

    /// <summary>Event types to receive (full names, see <c>pyairtable.events.v1</c>); empty: all, including types added later.</summary>
    [ProtoMember(4)] public List<string> EventTypes { get; init; } = [];

    /// <summary>At most 500 characters.</summary>
    [ProtoMember(5)] public string Description { get; init; } = "";
}

/// <summary>The webhook and its secret.</summary>
[ProtoContract]
public sealed record CreateWebhookResponse
{
    /// <summary>The webhook.</summary>
    [ProtoMember(1)] public Webhook? Webhook { get; init; }

    /// <summary>The signing secret, <c>whsec_</c> + base64 of 32 random bytes. Shown only here: keep it.</summary>
    [ProtoMember(2)] public string Secret { get; init; } = "";
}

/// <summary>Which webhook.</summary>
[ProtoContract]
public sealed record GetWebhookRequest
{
    /// <summary>Its id.</summary>
    [ProtoMember(1)] public string WebhookId { get; init; } = "";
}

/// <summary>The webhook.</summary>
[ProtoContract]
public sealed record GetWebhookResponse
{
    /// <summary>The webhook.</summary>
    [ProtoMember(1)] public Webhook? Webhook { get; init; }
}

/// <summary>Webhooks of a workspace or of a base: exactly one of the two ids.</summary>
[ProtoContract]
public sealed record ListWebhooksRequest
{
    /// <summary>The workspace: its webhooks and its bases'.</summary>
    [ProtoMember(1)] public string WorkspaceId { get; init; } = "";

    /// <summary>The base: its webhooks.</summary>
    [ProtoMember(2)] public string BaseId { get; init; } = "";

    /// <summary>page_size defaults to 50 and is capped at 200.</summary>
    [ProtoMember(3)] public PaginationRequest? Pagination { get; init; }
}

/// <summary>A page of webhooks.</summary>
[ProtoContract]
public sealed record ListWebhooksResponse
{
    /// <summary>The webhooks of this page, by id.</summary>
    [ProtoMember(1)] public List<Webhook> Webhooks { get; init; } = [];

    /// <summary>Where the page is and how to get the next one.</summary>
    [ProtoMember(2)] public PaginationResponse? Pagination { get; init; }
}

/// <summary>Changes to a webhook; unset fields stay.</summary>
[ProtoContract]
public sealed record UpdateWebhookRequest
{
    /// <summary>Which webhook.</summary>
    [ProtoMember(1)] public string WebhookId { get; init; } = "";

    /// <summary>A new URL (same rules as at creation).</summary>
    [ProtoMember(2)] public string? Url { get; init; }

    /// <summary>True to replace the event types with <c>event_types</c> (an empty list then means all).</summary>
    [ProtoMember(3)] public bool SetEventTypes { get; init; }

    /// <summary>The new event types, when <c>set_event_types</c>.</summary>
    [ProtoMember(4)] public List<string> EventTypes { get; init; } = [];

    /// <summary>A new description.</summary>
    [ProtoMember(5)] public string? Description { get; init; }

    /// <summary>Enable (clears the failure history) or disable.</summary>
    [ProtoMember(6)] public bool? Enabled { get; init; }
}

/// <summary>The changed webhook.</summary>
[ProtoContract]
public sealed record UpdateWebhookResponse
{
    /// <summary>The webhook.</summary>
    [ProtoMember(1)] public Webhook? Webhook { get; init; }
}

/// <summary>Which webhook to delete.</summary>
[ProtoContract]
public sealed record DeleteWebhookRequest
{
    /// <summary>Its id.</summary>
    [ProtoMember(1)] public string WebhookId { get; init; } = "";
}

/// <summary>Deleted.</summary>
[ProtoContract]
public sealed record DeleteWebhookResponse
{
}

/// <summary>Which webhook gets a new secret, and how long the old one still signs.</summary>
[ProtoContract]
public sealed record RotateWebhookSecretRequest
{
    /// <summary>Its id.</summary>
    [ProtoMember(1)] public string WebhookId { get; init; } = "";

    /// <summary>How long the previous secret keeps signing too: 0 to 7 days; unset means 24 hours; 0 retires it at once.</summary>
    [ProtoMember(2)] public TimeSpan? Overlap { get; init; }
}

/// <summary>The new secret.</summary>
[ProtoContract]
public sealed record RotateWebhookSecretResponse
{
    /// <summary>The webhook.</summary>
    [ProtoMember(1)] public Webhook? Webhook { get; init; }

    /// <summary>The new signing secret, shown only here.</summary>
    [ProtoMember(2)] public string Secret { get; init; } = "";
}

/// <summary>Where a delivery stands.</summary>
[ProtoContract(Name = "DeliveryStatus")]
public enum DeliveryStatus
{
    /// <summary>Never set.</summary>
    [ProtoEnum(Name = "DELIVERY_STATUS_UNSPECIFIED")] Unspecified = 0,
    /// <summary>Waiting for its next attempt (or in flight).</summary>
    [ProtoEnum(Name = "DELIVERY_STATUS_PENDING")] Pending = 1,
    /// <summary>A 2xx answered it.</summary>
    [ProtoEnum(Name = "DELIVERY_STATUS_SUCCEEDED")] Succeeded = 2,
    /// <summary>Every attempt of the schedule failed; RetryDelivery or ReplayDeliveries send it again.</summary>
    [ProtoEnum(Name = "DELIVERY_STATUS_FAILED")] Failed = 3,
}

/// <summary>One try to deliver.</summary>
[ProtoContract]
public sealed record DeliveryAttempt
{
    /// <summary>When it started (UTC).</summary>
    [ProtoMember(1)] public DateTime? AttemptedAt { get; init; }

    /// <summary>The HTTP status the receiver answered; 0 when none came (refused, unreachable, timed out).</summary>
    [ProtoMember(2)] public int StatusCode { get; init; }

    /// <summary>From the start of the attempt to the response headers (or the failure), in milliseconds.</summary>
    [ProtoMember(3)] public int LatencyMs { get; init; }

    /// <summary>Whether it counted (a 2xx in time).</summary>
    [ProtoMember(4)] public bool Succeeded { get; init; }

    /// <summary>What went wrong, e.g. <c>HTTP 500</c>, <c>timed out after 15 s</c>, <c>refused: 10.0.0.1 is a private address</c>; empty on success.</summary>
    [ProtoMember(5)] public string Error { get; init; } = "";
}

/// <summary>One event for one webhook.</summary>
[ProtoContract]
public sealed record Delivery
{
    /// <summary>The delivery id: the <c>webhook-id</c> header (<c>msg_</c> + 32 hex digits), the same on every attempt.</summary>
    [ProtoMember(1)] public string Id { get; init; } = "";

    /// <summary>The webhook.</summary>
    [ProtoMember(2)] public string WebhookId { get; init; } = "";

    /// <summary>The event's id (CloudEvents id).</summary>
    [ProtoMember(3)] public string EventId { get; init; } = "";

    /// <summary>The event's type.</summary>
    [ProtoMember(4)] public string EventType { get; init; } = "";

    /// <summary>Where it stands.</summary>
    [ProtoMember(5)] public DeliveryStatus Status { get; init; }

    /// <summary>When the next attempt is due (UTC), while pending.</summary>
    [ProtoMember(6)] public DateTime? NextAttemptAt { get; init; }

    /// <summary>When it was made (UTC).</summary>
    [ProtoMember(7)] public DateTime? CreatedAt { get; init; }

    /// <summary>Every attempt, oldest first.</summary>
    [ProtoMember(8)] public List<DeliveryAttempt> Attempts { get; init; } = [];
}

/// <summary>Deliveries of a webhook.</summary>
[ProtoContract]
public sealed record ListDeliveriesRequest
{
    /// <summary>The webhook.</summary>
    [ProtoMember(1)] public string WebhookId { get; init; } = "";

    /// <summary>page_size defaults to 50 and is capped at 200.</summary>
    [ProtoMember(2)] public PaginationRequest? Pagination { get; init; }
}

/// <summary>A page of deliveries, newest first.</summary>
[ProtoContract]
public sealed record ListDeliveriesResponse
{
    /// <summary>The deliveries of this page.</summary>
    [ProtoMember(1)] public List<Delivery> Deliveries { get; init; } = [];

    /// <summary>Where the page is and how to get the next one.</summary>
    [ProtoMember(2)] public PaginationResponse? Pagination { get; init; }
}

/// <summary>Which delivery to send again.</summary>
[ProtoContract]
public sealed record RetryDeliveryRequest
{
    /// <summary>Its id (<c>msg_…</c>).</summary>
    [ProtoMember(1)] public string DeliveryId { get; init; } = "";
}

/// <summary>The delivery, pending again.</summary>
[ProtoContract]
public sealed record RetryDeliveryResponse
{
    /// <summary>The delivery.</summary>
    [ProtoMember(1)] public Delivery? Delivery { get; init; }
}

/// <summary>Deliveries to send again.</summary>
[ProtoContract]
public sealed record ReplayDeliveriesRequest
{
    /// <summary>The webhook.</summary>
    [ProtoMember(1)] public string WebhookId { get; init; } = "";

    /// <summary>Deliveries made at or after this time (UTC); required.</summary>
    [ProtoMember(2)] public DateTime? Since { get; init; }

    /// <summary>Also send those that succeeded (receivers deduplicate on webhook-id).</summary>
    [ProtoMember(3)] public bool IncludeSucceeded { get; init; }
}

/// <summary>How many will be sent again.</summary>
[ProtoContract]
public sealed record ReplayDeliveriesResponse
{
    /// <summary>Deliveries made pending again.</summary>
    [ProtoMember(1)] public int Count { get; init; }
}
