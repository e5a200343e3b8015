using Npgsql;
using PyAirtable.Services.Infrastructure.Database;
using PyAirtable.Services.Infrastructure.SharedState;

namespace PyAirtable.Services.Permissions.Stores;

/// <summary>
/// One connection of the Permission pool and, for an RPC that writes, its transaction. The stores hang off it, so
/// the authorization checks, row locks and writes of one RPC run in one transaction: a lock an owner check takes
/// (FOR SHARE, FOR UPDATE) holds until the write it guards commits.
/// </summary>
internal sealed class PermissionSession(NpgsqlConnection connection, NpgsqlTransaction? transaction, ChangeFeed? feed)
    : DatabaseSession(connection, transaction)
{
    private CheckStore? _checks;
    private ResourceStore? _resources;
    private GrantStore? _grants;
    private MembershipStore? _membership;
    private RoleStore? _roles;
    private InvitationStore? _invitations;

    public CheckStore Checks => _checks ??= new(this);

    /// <summary>The revision this write took (<see cref="CheckStore.NextTokenAsync"/>): published after the commit.</summary>
    public string? TakenToken { get; set; }

    public ResourceStore Resources => _resources ??= new(this);

    public GrantStore Grants => _grants ??= new(this);

    public MembershipStore Membership => _membership ??= new(this);

    public RoleStore Roles => _roles ??= new(this);

    public InvitationStore Invitations => _invitations ??= new(this);

    /// <summary>
    /// Commits, then publishes the revision the write took, so every host's decision cache drops what it decided before
    /// (<see cref="PermissionDecisionCache"/>). Before the RPC answers: a client holding the new token finds it applied here.
    /// </summary>
    public override async Task CommitAsync(CancellationToken ct)
    {
        await base.CommitAsync(ct);
        if (TakenToken is { } token && feed is not null)
        {
            await feed.PublishAsync(PermissionDecisionCache.FeedKind, PermissionDecisionCache.ItemFor(token));
        }
    }

    /// <summary>A session without a transaction: each statement sees its own snapshot, as before the split.</summary>
    public static Task<PermissionSession> OpenAsync(NpgsqlDataSource dataSource, ChangeFeed? feed, CancellationToken ct) =>
        OpenAsync(dataSource, write: false, (c, t) => new PermissionSession(c, t, feed), ct);

    public static Task<PermissionSession> BeginAsync(NpgsqlDataSource dataSource, ChangeFeed? feed, CancellationToken ct) =>
        OpenAsync(dataSource, write: true, (c, t) => new PermissionSession(c, t, feed), ct);
}
