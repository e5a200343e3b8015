using Dapper;
using PyAirtable.Services.Infrastructure.Outbox;

namespace PyAirtable.Services.Auth;

/// <summary>
/// Applies the User service's <c>user.deactivated</c> event to the account: logins refused and every
/// session ended, in the delivery transaction (exactly once). Until it is delivered the revocation list
/// written by DeactivateUser already refuses the user's credentials.
/// </summary>
internal sealed class AccountEvents : IOutboxHandler
{
    public const string UserDeactivated = "user.deactivated";

    public async ValueTask HandleAsync(OutboxMessage message, OutboxDelivery delivery, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(message);
        ArgumentNullException.ThrowIfNull(delivery);
        if (message.EventType != UserDeactivated || !Guid.TryParse(message.AggregateId, out var userId))
        {
            return;
        }

        await delivery.Connection.ExecuteAsync(new CommandDefinition(
            """
            UPDATE auth.credentials SET disabled_at = coalesce(disabled_at, now()), updated_at = now() WHERE user_id = @userId;
            UPDATE auth.sessions SET revoked_at = now(), revoked_reason = 'user_deactivated' WHERE user_id = @userId AND revoked_at IS NULL;
            UPDATE auth.api_keys SET revoked_at = now() WHERE user_id = @userId AND revoked_at IS NULL;
            """, new { userId }, delivery.Transaction, cancellationToken: cancellationToken));
    }
}
