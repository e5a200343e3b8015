using Npgsql;

namespace PyAirtable.Services.Permissions.Stores;

/// <summary>
/// One connection of the Permission pool and, for an RPC that writes, its transaction. The stores hang off it, so
/// the authorization checks, row locks and writes of one RPC run in one transaction: a lock an owner check takes
/// (FOR SHARE, FOR UPDATE) holds until the write it guards commits.
/// </summary>
internal sealed class PermissionSession(NpgsqlConnection connection, NpgsqlTransaction? transaction) : IAsyncDisposable
{
    private CheckStore? _checks;
    private ResourceStore? _resources;
    private GrantStore? _grants;
    private MembershipStore? _membership;
    private RoleStore? _roles;
    private InvitationStore? _invitations;

    public NpgsqlConnection Connection { get; } = connection;

    /// <summary>Null for a read-only session: each statement then sees its own snapshot, as before the split.</summary>
    public NpgsqlTransaction? Transaction { get; } = transaction;

    public CheckStore Checks => _checks ??= new(this);

    public ResourceStore Resources => _resources ??= new(this);

    public GrantStore Grants => _grants ??= new(this);

    public MembershipStore Membership => _membership ??= new(this);

    public RoleStore Roles => _roles ??= new(this);

    public InvitationStore Invitations => _invitations ??= new(this);

    public Task CommitAsync(CancellationToken ct) =>
        (Transaction ?? throw new InvalidOperationException("This session was opened without a transaction.")).CommitAsync(ct);

    public async ValueTask DisposeAsync()
    {
        if (Transaction is not null)
        {
            await Transaction.DisposeAsync();
        }

        await Connection.DisposeAsync();
    }
}
