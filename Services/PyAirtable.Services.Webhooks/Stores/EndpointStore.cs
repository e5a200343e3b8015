using Dapper;
using PyAirtable.Contracts.Webhooks;

namespace PyAirtable.Services.Webhooks.Stores;

/// <summary>Webhooks (webhooks.endpoints): where to send what, and the encrypted secrets to sign with.</summary>
internal sealed class EndpointStore(WebhookSession session)
{
    private const string Columns =
        """
        id AS Id, workspace_id AS WorkspaceId, base_id AS BaseId, url AS Url, event_types AS EventTypes, description AS Description,
        enabled AS Enabled, disabled_reason AS DisabledReason, failing_since AS FailingSince,
        previous_secret_expires_at AS PreviousSecretExpiresAt, created_by AS CreatedBy, created_at AS CreatedAt, updated_at AS UpdatedAt
        """;

    public Task<EndpointRow> InsertAsync(EndpointRow row, byte[] secret, CancellationToken ct) =>
        session.Connection.QuerySingleAsync<EndpointRow>(new CommandDefinition(
            $"""
            INSERT INTO webhooks.endpoints (id, workspace_id, base_id, url, event_types, description, secret, created_by)
            VALUES (@Id, @WorkspaceId, @BaseId, @Url, @EventTypes, @Description, @secret, @CreatedBy)
            RETURNING {Columns}
            """,
            new { row.Id, row.WorkspaceId, row.BaseId, row.Url, row.EventTypes, row.Description, secret, row.CreatedBy },
            session.Transaction, cancellationToken: ct));

    public Task<EndpointRow?> FindAsync(Guid id, CancellationToken ct) =>
        session.Connection.QuerySingleOrDefaultAsync<EndpointRow?>(new CommandDefinition(
            $"SELECT {Columns} FROM webhooks.endpoints WHERE id = @id AND retired_at IS NULL", new { id }, session.Transaction, cancellationToken: ct));

    /// <summary>The webhooks of a workspace (every one, bases' included) or, with <paramref name="baseId"/>, of one base; by id.</summary>
    public async Task<List<EndpointRow>> ListAsync(Guid workspace, Guid? baseId, CancellationToken ct) =>
        (await session.Connection.QueryAsync<EndpointRow>(new CommandDefinition(
            $"""
            SELECT {Columns} FROM webhooks.endpoints
             WHERE workspace_id = @workspace AND (@baseId::uuid IS NULL OR base_id = @baseId) AND retired_at IS NULL ORDER BY id
            """, new { workspace, baseId }, session.Transaction, cancellationToken: ct))).ToList();

    public Task<int> CountInWorkspaceAsync(Guid workspace, CancellationToken ct) =>
        session.Connection.ExecuteScalarAsync<int>(new CommandDefinition(
            "SELECT count(*) FROM webhooks.endpoints WHERE workspace_id = @workspace AND retired_at IS NULL", new { workspace }, session.Transaction, cancellationToken: ct));

    /// <summary>Changes what is not null; enabling clears the failure history. Null when there is no such webhook.</summary>
    public Task<EndpointRow?> UpdateAsync(Guid id, string? url, string[]? eventTypes, string? description, bool? enabled, CancellationToken ct) =>
        session.Connection.QuerySingleOrDefaultAsync<EndpointRow?>(new CommandDefinition(
            $"""
            UPDATE webhooks.endpoints
               SET url = coalesce(@url::text, url), event_types = coalesce(@eventTypes::text[], event_types),
                   description = coalesce(@description::text, description), enabled = coalesce(@enabled::boolean, enabled),
                   disabled_reason = CASE WHEN @enabled::boolean IS NULL THEN disabled_reason WHEN @enabled::boolean THEN '' ELSE 'disabled by a user' END,
                   failing_since = CASE WHEN @enabled::boolean THEN NULL ELSE failing_since END,
                   updated_at = now()
             WHERE id = @id RETURNING {Columns}
            """, new { id, url, eventTypes, description, enabled }, session.Transaction, cancellationToken: ct));

    public Task<int> DeleteAsync(Guid id, CancellationToken ct) =>
        session.Connection.ExecuteAsync(new CommandDefinition(
            "DELETE FROM webhooks.endpoints WHERE id = @id", new { id }, session.Transaction, cancellationToken: ct));

    /// <summary>Makes <paramref name="secret"/> current; the current one signs too until <paramref name="previousUntil"/>.</summary>
    public Task<EndpointRow?> RotateAsync(Guid id, byte[] secret, DateTime? previousUntil, CancellationToken ct) =>
        session.Connection.QuerySingleOrDefaultAsync<EndpointRow?>(new CommandDefinition(
            $"""
            UPDATE webhooks.endpoints
               SET previous_secret = CASE WHEN @previousUntil::timestamptz IS NULL THEN NULL ELSE secret END,
                   previous_secret_expires_at = @previousUntil::timestamptz, secret = @secret, updated_at = now()
             WHERE id = @id RETURNING {Columns}
            """, new { id, secret, previousUntil }, session.Transaction, cancellationToken: ct));

    /// <summary>
    /// Retires the webhooks of a deleted workspace, or of a deleted base (<paramref name="baseId"/>): see migration 0002.
    /// Those with nothing pending are deleted at once; the rest by <see cref="DeleteRetiredAsync"/> once their last
    /// delivery finished.
    /// </summary>
    public async Task RetireAsync(Guid workspace, Guid? baseId, CancellationToken ct)
    {
        var retired = (await session.Connection.QueryAsync<Guid>(new CommandDefinition(
            """
            UPDATE webhooks.endpoints SET retired_at = now()
             WHERE workspace_id = @workspace AND (@baseId::uuid IS NULL OR base_id = @baseId) AND retired_at IS NULL
            RETURNING id
            """, new { workspace, baseId }, session.Transaction, cancellationToken: ct))).ToArray();
        if (retired.Length > 0)
        {
            await DeleteRetiredAsync(retired, ct);
        }
    }

    /// <summary>Deletes those of <paramref name="ids"/> that are retired and have no delivery pending (with their deliveries).</summary>
    public Task<int> DeleteRetiredAsync(Guid[] ids, CancellationToken ct) =>
        session.Connection.ExecuteAsync(new CommandDefinition(
            """
            DELETE FROM webhooks.endpoints e
             WHERE e.id = ANY(@ids) AND e.retired_at IS NOT NULL
               AND NOT EXISTS (SELECT 1 FROM webhooks.deliveries d WHERE d.webhook_id = e.id AND d.status = @pending)
            """, new { ids, pending = (int)DeliveryStatus.Pending }, session.Transaction, cancellationToken: ct));

    /// <summary>After a failed attempt: starts the failure period if none runs; its start and the endpoint.</summary>
    public Task<EndpointRow> MarkFailingAsync(Guid id, DateTime attemptedAt, CancellationToken ct) =>
        session.Connection.QuerySingleAsync<EndpointRow>(new CommandDefinition(
            $"UPDATE webhooks.endpoints SET failing_since = coalesce(failing_since, @attemptedAt) WHERE id = @id RETURNING {Columns}",
            new { id, attemptedAt }, session.Transaction, cancellationToken: ct));

    /// <summary>After successful attempts: ends the failure periods of these endpoints (rows that are not failing are not written).</summary>
    public Task MarkHealthyAsync(Guid[] ids, CancellationToken ct) =>
        session.Connection.ExecuteAsync(new CommandDefinition(
            "UPDATE webhooks.endpoints SET failing_since = NULL WHERE id = ANY(@ids) AND failing_since IS NOT NULL",
            new { ids }, session.Transaction, cancellationToken: ct));

    /// <summary>Disables an enabled endpoint; false when it was not enabled (someone else did it first).</summary>
    public async Task<bool> DisableAsync(Guid id, string reason, CancellationToken ct) =>
        await session.Connection.ExecuteAsync(new CommandDefinition(
            "UPDATE webhooks.endpoints SET enabled = false, disabled_reason = @reason, updated_at = now() WHERE id = @id AND enabled",
            new { id, reason }, session.Transaction, cancellationToken: ct)) == 1;
}

/// <summary>A row of webhooks.endpoints, without its secrets.</summary>
internal sealed record EndpointRow
{
    public Guid Id { get; init; }
    public Guid WorkspaceId { get; init; }
    public Guid? BaseId { get; init; }
    public string Url { get; init; } = "";
    public string[] EventTypes { get; init; } = [];
    public string Description { get; init; } = "";
    public bool Enabled { get; init; }
    public string DisabledReason { get; init; } = "";
    public DateTime? FailingSince { get; init; }
    public DateTime? PreviousSecretExpiresAt { get; init; }
    public Guid CreatedBy { get; init; }
    public DateTime CreatedAt { get; init; }
    public DateTime UpdatedAt { get; init; }

    public Webhook ToContract() => new()
    {
        Id = Id.ToString(), WorkspaceId = WorkspaceId.ToString(), BaseId = BaseId?.ToString() ?? "", Url = Url,
        EventTypes = [.. EventTypes], Description = Description, Enabled = Enabled, DisabledReason = DisabledReason,
        FailingSince = FailingSince, PreviousSecretExpiresAt = PreviousSecretExpiresAt is { } until && until > DateTime.UtcNow ? until : null,
        CreatedBy = CreatedBy.ToString(), CreatedAt = CreatedAt, UpdatedAt = UpdatedAt,
    };
}
