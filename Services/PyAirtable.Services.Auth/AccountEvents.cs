using Npgsql;
using PyAirtable.Contracts.Events;
using PyAirtable.Services.Auth.Stores;
using PyAirtable.Services.Infrastructure.Events;

namespace PyAirtable.Services.Auth;

/// <summary>
/// Applies the User service's <see cref="UserDeactivated"/> to the account: logins refused and every session and API key
/// ended, once (the event's id is recorded in the same transaction). Until it is handled, the revocation list written by
/// DeactivateUser already refuses the user's credentials.
/// </summary>
internal sealed class AccountEvents(NpgsqlDataSource dataSource) : IEventConsumer<UserDeactivated>
{
    public const string ConsumerName = "auth.accounts";

    public async Task HandleAsync(UserDeactivated domainEvent, EventContext context, CancellationToken cancellationToken)
    {
        if (!Guid.TryParse(domainEvent.UserId, out var userId))
        {
            return;
        }

        await using var db = await AuthSession.BeginAsync(dataSource, cancellationToken);
        if (!await context.FirstDeliveryAsync(db.WriteTransaction, cancellationToken))
        {
            return;
        }

        await db.Accounts.DisableAsync(userId, cancellationToken);
        await db.CommitAsync(cancellationToken);
    }
}
