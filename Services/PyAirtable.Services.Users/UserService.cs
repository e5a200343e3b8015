using System.Globalization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using PyAirtable.Contracts.Common;
using PyAirtable.Contracts.Permissions;
using PyAirtable.Contracts.Users;
using PyAirtable.Services.Infrastructure.Errors;
using PyAirtable.Services.Infrastructure.Identity;
using PyAirtable.Services.Infrastructure.Pagination;
using PyAirtable.Services.Infrastructure.SharedState;
using PyAirtable.Services.Users.Stores;
using CallContext = ProtoBuf.Grpc.CallContext;

namespace PyAirtable.Services.Users;

/// <summary>Settings of the User service (section <c>Users</c>).</summary>
public sealed class UserServiceOptions
{
    /// <summary>How long a profile stays in the shared cache, and how long clients may keep it (cache expires_at).</summary>
    public TimeSpan CacheTtl { get; set; } = TimeSpan.FromMinutes(5);
}

/// <summary>
/// pyairtable.users.v1.UserService over <c>users.users</c>. GetUser is read-through cached in the shared
/// state with the row version as the entry version: writers store the new version before returning
/// and the cache only ever accepts a newer version, so a reader that loaded an older row cannot put
/// it back after an update — no reader sees the old profile once UpdateUser has returned.
/// </summary>
/// <remarks>
/// Each RPC validates the request, authorizes the caller, reads or writes through the <see cref="UserStore"/> of one
/// <see cref="UserSession"/> (the SQL lives in <c>Stores/</c>) and maps the result. Profiles (reading and editing)
/// are in <c>UserService.Profiles.cs</c>, the account lifecycle (creation by Auth, deactivation) in
/// <c>UserService.Accounts.cs</c>, the cache in <see cref="ProfileCache"/>.
/// </remarks>
public sealed partial class UserService(
    NpgsqlDataSource dataSource, ISharedState cache, RevocationList revocations, CursorCodec cursors, IPermissionService permissions,
    ProfileMemory memory, ChangeFeed feed, IOptions<UserServiceOptions> options, TimeProvider time, ILogger<UserService> logger) : IUserService
{
    private readonly ProfileCache _cache = new(cache, memory, feed, options, logger);

    /// <summary>
    /// Asks GetUser to skip the cache (HTTP semantics of <c>cache-control: no-cache</c>): the answer is read from the database.
    /// </summary>
    public const string CacheControlHeader = "cache-control";

    /// <summary>
    /// What of a profile the caller sees: all of their own (and operators see all); of somebody they share a
    /// workspace with, the public profile only — name, picture, status — not the e-mail address or time zone.
    /// Sharing a workspace now implies both accepted to be in it (members join only by accepting an invitation,
    /// and can leave), so an owner can no longer reach a profile by adding its id; still, co-members are not
    /// necessarily contacts, so the e-mail address and time zone stay private.
    /// </summary>
    private static User VisibleTo(UserContext caller, User user) =>
        caller.IsPrivileged() || caller.UserId == user.Id ? user : user with { Email = "", TimeZone = "" };

    /// <summary>
    /// The profiles of <paramref name="ids"/> the caller may read: their own, those of members of a
    /// workspace they are a member of (asked of the Permission service), or all for operators.
    /// </summary>
    private static bool ReadsOwn(UserContext caller, Guid id) => Guid.TryParse(caller.UserId, out var own) && own == id;

    private async Task<List<Guid>> CanReadAsync(CallContext context, UserContext caller, List<Guid> ids)
    {
        if (caller.IsPrivileged())
        {
            return ids;
        }

        // Reading one's own profile is the hot read: no allocation for it (the caller's id is parsed, not each id formatted).
        Guid? self = Guid.TryParse(caller.UserId, out var own) ? own : null;
        List<Guid>? others = null;
        foreach (var id in ids)
        {
            if (id != self)
            {
                (others ??= []).Add(id);
            }
        }

        if (others is null)
        {
            return ids;
        }

        var shared = (await permissions.FilterSharedWorkspaceUsersAsync(
                new FilterSharedWorkspaceUsersRequest { UserIds = others.ConvertAll(o => o.ToString()) }, context))
            .UserIds.Select(Guid.Parse).ToHashSet();
        return ids.FindAll(id => id == self || shared.Contains(id));
    }

    private static void EnsureCanWrite(UserContext caller, Guid id)
    {
        if (!caller.HasRole(PlatformRoles.Admin) && caller.UserId != id.ToString())
        {
            Fail.PermissionDenied("You can change only your own profile.");
        }
    }

    private CacheMetadata CacheMetadataOf(string etag) =>
        new() { Etag = etag, ExpiresAt = time.GetUtcNow().UtcDateTime + _cache.Ttl };

    private static long? ParseEtag(string? etag) =>
        etag is { Length: > 1 and <= 32 } && etag[0] == 'v'
            && long.TryParse(etag.AsSpan(1), NumberStyles.None, CultureInfo.InvariantCulture, out var v) ? v : null;
}
