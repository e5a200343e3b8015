using Npgsql;
using PyAirtable.Services.Infrastructure.Database;

namespace PyAirtable.Services.Permissions.Stores;

/// <summary>
/// One connection of the Permission pool and, for an RPC that writes, its transaction. The stores hang off it, so
/// the authorization checks, row locks and writes of one RPC run in one transaction: a lock an owner check takes
/// (FOR SHARE, FOR UPDATE) holds until the write it guards commits.
/// </summary>
internal sealed class PermissionSession(NpgsqlConnection connection, NpgsqlTransaction? transaction)
    : DatabaseSession(connection, transaction)
{
    private CheckStore? _checks;
    private ResourceStore? _resources;
    private GrantStore? _grants;
    private MembershipStore? _membership;
    private RoleStore? _roles;
    private InvitationStore? _invitations;

    public CheckStore Checks => _checks ??= new(this);

    public ResourceStore Resources => _resources ??= new(this);

    public GrantStore Grants => _grants ??= new(this);

    public MembershipStore Membership => _membership ??= new(this);

    public RoleStore Roles => _roles ??= new(this);

    public InvitationStore Invitations => _invitations ??= new(this);

    /// <summary>A session without a transaction: each statement sees its own snapshot, as before the split.</summary>
    public static Task<PermissionSession> OpenAsync(NpgsqlDataSource dataSource, CancellationToken ct) =>
        OpenAsync(dataSource, write: false, (c, t) => new PermissionSession(c, t), ct);

    public static Task<PermissionSession> BeginAsync(NpgsqlDataSource dataSource, CancellationToken ct) =>
        OpenAsync(dataSource, write: true, (c, t) => new PermissionSession(c, t), ct);
}
