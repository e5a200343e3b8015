using PyAirtable.Contracts.Auth;
using PyAirtable.Contracts.Events;
using PyAirtable.Contracts.Users;
using PyAirtable.Services.Infrastructure.Errors;
using PyAirtable.Services.Infrastructure.Events;
using PyAirtable.Services.Infrastructure.Identity;
using PyAirtable.Services.Infrastructure.SharedState;
using PyAirtable.Services.Users.Stores;
using CallContext = ProtoBuf.Grpc.CallContext;

namespace PyAirtable.Services.Users;

/// <summary>The account lifecycle as profiles see it: created by the Auth service at registration, deactivated for good.</summary>
public sealed partial class UserService
{
    [RequiresScope(Scopes.UsersWrite)]
    public async ValueTask<DeactivateUserResponse> DeactivateUserAsync(DeactivateUserRequest request, CallContext context = default)
    {
        // An API key (even with users:write) cannot end the account it belongs to: there is no way back.
        var caller = context.RequireCaller();
        context.RequireSession("Deactivating an account");
        var id = Validation.Id("user_id", request.UserId);
        EnsureCanWrite(caller, id);
        var ct = context.CancellationToken;
        await using var db = await UserSession.BeginAsync(dataSource, ct);
        var row = await db.Users.DeactivateAsync(id, ct) ?? await db.Users.FindAsync(id, ct);
        if (row is null)
        {
            Fail.NotFound("user", request.UserId);
        }

        var user = row.ToContract();
        // Every token and API key of the user is refused from the next call on, on every host: the revocation
        // commits with the deactivation and outlives every token (Identity:RevocationTtl); after that the disabled
        // account (user.deactivated, delivered by the outbox) refuses logins, refreshes and keys.
        var revoked = RevocationList.User(user.Id);
        await revocations.RecordAsync(db.WriteTransaction, revoked, ct);
        await Outbox.EnqueueAsync(db.WriteTransaction, new UserDeactivated { UserId = user.Id, Status = UserStatus.Deactivated },
            EventOrigin.Of<IUserService>(context), ct);
        await db.CommitAsync(ct);
        await revocations.PublishAsync(revoked);
        await _cache.WriteAsync(row, _cache.Generation, changed: true);
        return new DeactivateUserResponse { User = user };
    }

    public async ValueTask<CreateUserResponse> CreateUserAsync(CreateUserRequest request, CallContext context = default)
    {
        var caller = context.RequireCaller();
        if (!caller.HasRole(PlatformRoles.Service) || !caller.Scopes.Contains(Scopes.UsersProvision, StringComparer.Ordinal))
        {
            Fail.PermissionDenied("Profiles are created by the Auth service when an account registers.");
        }

        var id = Validation.Id("user_id", request.UserId);
        var email = Validation.NormalizeEmail(request.Email);
        new RequestValidator().Email("email", email).Name("display_name", request.DisplayName).ThrowIfInvalid();
        var ct = context.CancellationToken;
        await using var db = await UserSession.BeginAsync(dataSource, ct);
        var row = await db.Users.InsertAsync(id, email, request.DisplayName.Trim(), ct);
        if (row is null)
        {
            // Created before (a retried call): answer with what exists.
            row = await db.Users.FindAsync(id, ct);
            if (row is not null)
            {
                return new CreateUserResponse { User = row.ToContract() };
            }

            // The e-mail belongs to a profile of another id: an orphan left when an earlier Register lost
            // the answer to this call and rolled its account back. The Auth service keeps e-mails unique
            // among accounts, so the profile belongs to no account: give it to the new one.
            row = await db.Users.ReclaimAsync(id, email, request.DisplayName.Trim(), ct);
        }

        var user = row.ToContract();
        await Outbox.EnqueueAsync(db.WriteTransaction, new UserRegistered
        {
            UserId = user.Id, Email = row.Email, DisplayName = row.DisplayName,
        }, EventOrigin.Of<IUserService>(context), ct);
        await db.CommitAsync(ct);
        return new CreateUserResponse { User = user };
    }
}
