using Dapper;
using Npgsql;
using PyAirtable.Contracts.Events;
using PyAirtable.Services.Infrastructure.Events;

namespace PyAirtable.Services.Auth;

/// <summary>
/// Applies the User service's <see cref="UserDeactivated"/> to the account: logins refused and every session and API key
/// ended, once (the event's id is recorded in the same transaction). Until it is handled, the revocation list written by
/// DeactivateUser already refuses the user's credentials.
/// </summary>
internal sealed class AccountEvents(NpgsqlDataSource db) : IEventConsumer<UserDeactivated>
{
    public const string ConsumerName = "auth.accounts";

    public async Task HandleAsync(UserDeactivated domainEvent, EventContext context, CancellationToken cancellationToken)
    {
        if (!Guid.TryParse(domainEvent.UserId, out var userId))
        {
            return;
        }

        await using var connection = await db.OpenConnectionAsync(cancellationToken);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken);
        if (!await context.FirstDeliveryAsync(tx, cancellationToken))
        {
            return;
        }

        await connection.ExecuteAsync(new CommandDefinition(
            """
            UPDATE auth.credentials SET disabled_at = coalesce(disabled_at, now()), updated_at = now() WHERE user_id = @userId;
            UPDATE auth.sessions SET revoked_at = now(), revoked_reason = 'user_deactivated' WHERE user_id = @userId AND revoked_at IS NULL;
            UPDATE auth.api_keys SET revoked_at = now() WHERE user_id = @userId AND revoked_at IS NULL;
            """, new { userId }, tx, cancellationToken: cancellationToken));
        await tx.CommitAsync(cancellationToken);
    }
}
