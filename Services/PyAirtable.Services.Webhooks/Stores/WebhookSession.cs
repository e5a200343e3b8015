using Npgsql;
using PyAirtable.Services.Infrastructure.Database;

namespace PyAirtable.Services.Webhooks.Stores;

/// <summary>A connection of the platform pool and, for what writes, its transaction, with the webhooks schema's stores.</summary>
internal sealed class WebhookSession(NpgsqlConnection connection, NpgsqlTransaction? transaction)
    : DatabaseSession(connection, transaction)
{
    private EndpointStore? _endpoints;
    private DeliveryStore? _deliveries;

    public EndpointStore Endpoints => _endpoints ??= new(this);

    public DeliveryStore Deliveries => _deliveries ??= new(this);

    /// <summary>A session without a transaction, for reads.</summary>
    public static Task<WebhookSession> OpenAsync(NpgsqlDataSource dataSource, CancellationToken ct) =>
        OpenAsync(dataSource, write: false, (c, t) => new WebhookSession(c, t), ct);

    /// <summary>A session in a transaction, for writes (with the outbox event or the consumer's handled mark).</summary>
    public static Task<WebhookSession> BeginAsync(NpgsqlDataSource dataSource, CancellationToken ct) =>
        OpenAsync(dataSource, write: true, (c, t) => new WebhookSession(c, t), ct);
}
