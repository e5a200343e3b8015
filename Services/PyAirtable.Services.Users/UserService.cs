using System.Globalization;
using Dapper;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using PyAirtable.Contracts.Auth;
using PyAirtable.Contracts.Common;
using PyAirtable.Contracts.Permissions;
using PyAirtable.Contracts.Users;
using PyAirtable.Services.Infrastructure.Errors;
using PyAirtable.Services.Infrastructure.Identity;
using PyAirtable.Contracts.Events;
using PyAirtable.Services.Infrastructure.Events;
using PyAirtable.Services.Infrastructure.Pagination;
using PyAirtable.Services.Infrastructure.Requests;
using PyAirtable.Services.Infrastructure.SharedState;
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
public sealed partial class UserService(
    NpgsqlDataSource db, ISharedState cache, RevocationList revocations, CursorCodec cursors, IPermissionService permissions,
    IOptions<UserServiceOptions> options, TimeProvider time, ILogger<UserService> logger) : IUserService
{
    private const int MaxBatch = 100;
    private const int MaxUrlLength = 2048;
    private const string Columns =
        "id AS Id, email AS Email, display_name AS DisplayName, avatar_url AS AvatarUrl, time_zone AS TimeZone, status AS Status, version AS Version, seq AS Seq, created_at AS CreatedAt, updated_at AS UpdatedAt";

    /// <summary>Asks GetUser to skip the cache (HTTP semantics of <c>cache-control: no-cache</c>): the answer is read from the database.</summary>
    public const string CacheControlHeader = "cache-control";

    [RequiresScope(Scopes.UsersRead)]
    public async ValueTask<GetUserResponse> GetUserAsync(GetUserRequest request, CallContext context = default)
    {
        var caller = context.RequireCaller();
        var id = Validation.Id("user_id", request.UserId);
        if ((request.IfNoneMatch?.Length ?? 0) > 64)
        {
            throw new ValidationException("if_none_match", "must be an etag returned by this service");
        }

        if ((await CanReadAsync(context, caller, [id])).Count == 0)
        {
            Fail.NotFound("user", request.UserId); // a profile you may not read does not exist for you
        }

        var ct = context.CancellationToken;
        var noCache = context.ServerCallContext?.RequestHeaders.GetValue(CacheControlHeader)?.Contains("no-cache", StringComparison.OrdinalIgnoreCase) == true;
        var row = noCache ? null : await ReadCacheAsync(id);
        if (row is null)
        {
            await using var connection = await db.OpenConnectionAsync(ct);
            row = await connection.QuerySingleOrDefaultAsync<UserRow>(new CommandDefinition(
                $"SELECT {Columns} FROM users.users WHERE id = @id", new { id }, cancellationToken: ct));
            if (row is null)
            {
                Fail.NotFound("user", request.UserId);
            }

            await WriteCacheAsync(row);
        }

        var cacheMetadata = new CacheMetadata { Etag = row.Etag, ExpiresAt = time.GetUtcNow().UtcDateTime + options.Value.CacheTtl };
        return request.IfNoneMatch == row.Etag
            ? new GetUserResponse { NotModified = true, Cache = cacheMetadata }
            : new GetUserResponse { User = VisibleTo(caller, row.ToContract()), Cache = cacheMetadata };
    }

    [RequiresScope(Scopes.UsersRead)]
    public async ValueTask<GetUsersResponse> GetUsersAsync(GetUsersRequest request, CallContext context = default)
    {
        var caller = context.RequireCaller();
        if (request.UserIds.Count is 0 or > MaxBatch)
        {
            throw new ValidationException("user_ids", $"must hold 1 to {MaxBatch} ids");
        }

        var validator = new RequestValidator();
        var ids = validator.Ids("user_ids", request.UserIds);

        validator.ThrowIfInvalid();
        var visible = (await CanReadAsync(context, caller, ids.Distinct().ToList())).ToArray();
        var found = new Dictionary<Guid, UserRow>();
        if (visible.Length > 0)
        {
            await using var connection = await db.OpenConnectionAsync(context.CancellationToken);
            foreach (var row in await connection.QueryAsync<UserRow>(new CommandDefinition(
                $"SELECT {Columns} FROM users.users WHERE id = ANY(@visible)", new { visible }, cancellationToken: context.CancellationToken)))
            {
                found[row.Id] = row;
            }
        }

        var response = new GetUsersResponse();
        for (var i = 0; i < ids.Length; i++)
        {
            if (found.TryGetValue(ids[i], out var row))
            {
                response.Users.Add(VisibleTo(caller, row.ToContract()));
            }
            else
            {
                response.MissingIds.Add(request.UserIds[i]);
            }
        }

        return response;
    }

    [RequiresScope(Scopes.UsersRead)]
    public async ValueTask<ListUsersResponse> ListUsersAsync(ListUsersRequest request, CallContext context = default)
    {
        var caller = context.RequireCaller();
        // Until workspace permissions exist, a user lists only themself; operators list everybody.
        Guid? only = caller.IsPrivileged() ? null : Guid.Parse(caller.UserId);
        var scope = only is null ? "users.list:all" : "users.list:self:" + only;
        var page = PageRequest.From(request.Pagination, cursors, scope, defaultPageSize: 50, maxPageSize: 500);
        long? after = page.After is { Count: 1 } ? long.Parse(page.After[0], CultureInfo.InvariantCulture) : null;
        var ct = context.CancellationToken;
        await using var connection = await db.OpenConnectionAsync(ct);
        var rows = (await connection.QueryAsync<UserRow>(new CommandDefinition(
            $"""
            SELECT {Columns} FROM users.users
             WHERE (@only::uuid IS NULL OR id = @only) AND (@after::bigint IS NULL OR seq > @after)
             ORDER BY seq LIMIT @limit
            """, new { only, after, limit = page.PageSize + 1 }, cancellationToken: ct))).ToList();
        var total = await connection.ExecuteScalarAsync<long>(new CommandDefinition(
            "SELECT count(*) FROM users.users WHERE (@only::uuid IS NULL OR id = @only)", new { only }, cancellationToken: ct));
        var (items, pagination) = page.Complete(rows, total, r => [r.Seq.ToString(CultureInfo.InvariantCulture)], cursors, scope);
        return new ListUsersResponse { Users = items.Select(r => r.ToContract()).ToList(), Pagination = pagination };
    }

    [RequiresScope(Scopes.UsersWrite)]
    public async ValueTask<UpdateUserResponse> UpdateUserAsync(UpdateUserRequest request, CallContext context = default)
    {
        var caller = context.RequireCaller();
        var id = Validation.Id("user_id", request.UserId);
        var validator = new RequestValidator();
        var version = ParseEtag(request.Etag);
        if (version is null)
        {
            validator.Add("etag", "is required: send the etag of the profile you are changing");
        }

        if (request.DisplayName is not null)
        {
            validator.Name("display_name", request.DisplayName);
        }

        if (request.AvatarUrl is { Length: > 0 } url)
        {
            validator.PublicHttpsUrl("avatar_url", url, MaxUrlLength);
        }

        if (request.TimeZone is { Length: > 0 } zone && (zone.Length > 64 || !TimeZoneInfo.TryFindSystemTimeZoneById(zone, out _)))
        {
            validator.Add("time_zone", "must be an IANA time zone id such as Europe/Paris");
        }

        if (request.DisplayName is null && request.AvatarUrl is null && request.TimeZone is null)
        {
            validator.Add("display_name", "set at least one of display_name, avatar_url and time_zone");
        }

        validator.ThrowIfInvalid();
        EnsureCanWrite(caller, id);
        var ct = context.CancellationToken;
        await using var connection = await db.OpenConnectionAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        var row = await connection.QuerySingleOrDefaultAsync<UserRow>(new CommandDefinition(
            $"""
            UPDATE users.users
               SET display_name = coalesce(@displayName, display_name),
                   avatar_url = coalesce(@avatarUrl, avatar_url),
                   time_zone = coalesce(@timeZone, time_zone),
                   version = version + 1, updated_at = now()
             WHERE id = @id AND version = @version
            RETURNING {Columns}
            """, new { id, version, displayName = request.DisplayName?.Trim(), avatarUrl = request.AvatarUrl, timeZone = request.TimeZone }, tx, cancellationToken: ct));
        if (row is null)
        {
            var current = await connection.ExecuteScalarAsync<long?>(new CommandDefinition(
                "SELECT version FROM users.users WHERE id = @id", new { id }, tx, cancellationToken: ct));
            if (current is null)
            {
                Fail.NotFound("user", request.UserId);
            }

            Fail.FailedPrecondition("The profile changed since the etag was read; read it again and retry.",
                new Dictionary<string, string> { ["current_etag"] = UserRow.EtagOf(current.Value) });
        }

        var user = row.ToContract();
        await Outbox.EnqueueAsync(tx, new UserUpdated
        {
            UserId = user.Id, DisplayName = row.DisplayName, AvatarUrl = row.AvatarUrl, TimeZone = row.TimeZone, Version = row.Version,
        }, EventOrigin.Of<IUserService>(context), ct);
        await tx.CommitAsync(ct);
        await WriteCacheAsync(row, changed: true);
        return new UpdateUserResponse { User = user, Cache = new CacheMetadata { Etag = row.Etag, ExpiresAt = time.GetUtcNow().UtcDateTime + options.Value.CacheTtl } };
    }

    [RequiresScope(Scopes.UsersWrite)]
    public async ValueTask<DeactivateUserResponse> DeactivateUserAsync(DeactivateUserRequest request, CallContext context = default)
    {
        // An API key (even with users:write) cannot end the account it belongs to: there is no way back.
        var caller = context.RequireCaller();
        context.RequireSession("Deactivating an account");
        var id = Validation.Id("user_id", request.UserId);
        EnsureCanWrite(caller, id);
        var ct = context.CancellationToken;
        await using var connection = await db.OpenConnectionAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        var row = await connection.QuerySingleOrDefaultAsync<UserRow>(new CommandDefinition(
            $"""
            UPDATE users.users SET status = @deactivated, version = version + 1, updated_at = now()
             WHERE id = @id AND status <> @deactivated
            RETURNING {Columns}
            """, new { id, deactivated = (short)UserStatus.Deactivated }, tx, cancellationToken: ct));
        row ??= await connection.QuerySingleOrDefaultAsync<UserRow>(new CommandDefinition(
            $"SELECT {Columns} FROM users.users WHERE id = @id", new { id }, tx, cancellationToken: ct));
        if (row is null)
        {
            Fail.NotFound("user", request.UserId);
        }

        var user = row.ToContract();
        // Every token and API key of the user is refused from the next call on, on every host: the revocation
        // commits with the deactivation and outlives every token (Identity:RevocationTtl); after that the disabled
        // account (user.deactivated, delivered by the outbox) refuses logins, refreshes and keys.
        var revoked = RevocationList.User(user.Id);
        await revocations.RecordAsync(tx, revoked, ct);
        await Outbox.EnqueueAsync(tx, new UserDeactivated { UserId = user.Id, Status = UserStatus.Deactivated }, EventOrigin.Of<IUserService>(context), ct);
        await tx.CommitAsync(ct);
        await revocations.PublishAsync(revoked);
        await WriteCacheAsync(row, changed: true);
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
        await using var connection = await db.OpenConnectionAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        var row = await connection.QuerySingleOrDefaultAsync<UserRow>(new CommandDefinition(
            $"""
            INSERT INTO users.users (id, email, display_name) VALUES (@id, @email, @displayName)
            ON CONFLICT DO NOTHING
            RETURNING {Columns}
            """, new { id, email, displayName = request.DisplayName.Trim() }, tx, cancellationToken: ct));
        if (row is null)
        {
            // Created before (a retried call): answer with what exists.
            row = await connection.QuerySingleOrDefaultAsync<UserRow>(new CommandDefinition(
                $"SELECT {Columns} FROM users.users WHERE id = @id", new { id }, tx, cancellationToken: ct));
            if (row is not null)
            {
                return new CreateUserResponse { User = row.ToContract() };
            }

            // The e-mail belongs to a profile of another id: an orphan left when an earlier Register lost
            // the answer to this call and rolled its account back. The Auth service keeps e-mails unique
            // among accounts, so the profile belongs to no account: give it to the new one.
            row = await connection.QuerySingleAsync<UserRow>(new CommandDefinition(
                $"""
                UPDATE users.users SET id = @id, display_name = @displayName, avatar_url = '', time_zone = '',
                       status = @active, version = version + 1, created_at = now(), updated_at = now()
                 WHERE email = @email
                RETURNING {Columns}
                """, new { id, email, displayName = request.DisplayName.Trim(), active = (short)UserStatus.Active }, tx, cancellationToken: ct));
        }

        var user = row.ToContract();
        await Outbox.EnqueueAsync(tx, new UserRegistered { UserId = user.Id, Email = row.Email, DisplayName = row.DisplayName }, EventOrigin.Of<IUserService>(context), ct);
        await tx.CommitAsync(ct);
        return new CreateUserResponse { User = user };
    }

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
    private async Task<List<Guid>> CanReadAsync(CallContext context, UserContext caller, List<Guid> ids)
    {
        if (caller.IsPrivileged())
        {
            return ids;
        }

        var others = ids.Where(id => caller.UserId != id.ToString()).ToList();
        var shared = others.Count == 0
            ? []
            : (await permissions.FilterSharedWorkspaceUsersAsync(new FilterSharedWorkspaceUsersRequest { UserIds = others.Select(o => o.ToString()).ToList() }, context))
                .UserIds.Select(Guid.Parse).ToHashSet();
        return ids.Where(id => caller.UserId == id.ToString() || shared.Contains(id)).ToList();
    }

    private static void EnsureCanWrite(UserContext caller, Guid id)
    {
        if (!caller.HasRole(PlatformRoles.Admin) && caller.UserId != id.ToString())
        {
            Fail.PermissionDenied("You can change only your own profile.");
        }
    }

    private static long? ParseEtag(string? etag) =>
        etag is { Length: > 1 and <= 32 } && etag[0] == 'v' && long.TryParse(etag.AsSpan(1), NumberStyles.None, CultureInfo.InvariantCulture, out var v) ? v : null;

    private static string CacheKey(Guid id) => "users:user:" + id.ToString("N");

    private async Task<UserRow?> ReadCacheAsync(Guid id)
    {
        try
        {
            var entry = await cache.GetVersionedAsync(CacheKey(id));
            return entry is null ? null : ProtoBuf.Serializer.Deserialize<UserRow>(entry.Value.Data.AsSpan());
        }
        catch (SharedStateUnavailableException ex)
        {
            LogCacheUnavailable(logger, ex.Message);
            return null; // the database answers while the cache is away
        }
    }

    /// <summary>
    /// Best effort: a cache that cannot be written must not fail a read or a committed write. After a
    /// change (<paramref name="changed"/>) whose new version could not be stored, the entry is deleted
    /// instead, so readers go to PostgreSQL rather than keep the old version.
    /// </summary>
    private async Task WriteCacheAsync(UserRow row, bool changed = false)
    {
        using var buffer = new MemoryStream();
        ProtoBuf.Serializer.Serialize(buffer, row);
        try
        {
            await cache.SetVersionedIfNewerAsync(CacheKey(row.Id), new VersionedEntry(row.Version, buffer.ToArray()), options.Value.CacheTtl);
            return;
        }
        catch (SharedStateUnavailableException ex)
        {
            LogCacheUnavailable(logger, ex.Message);
        }

        if (changed)
        {
            try
            {
                await cache.DeleteAsync(CacheKey(row.Id));
            }
            catch (SharedStateUnavailableException ex)
            {
                // The old version may be served until the entry expires (Users:CacheTtl).
                LogStaleEntryLeft(logger, row.Id, ex.Message);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not drop the cached profile {UserId} after a change; it may be served until it expires: {Error}")]
    private static partial void LogStaleEntryLeft(ILogger logger, Guid userId, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Profile cache unavailable, using PostgreSQL: {Error}")]
    private static partial void LogCacheUnavailable(ILogger logger, string error);
}

/// <summary>A row of users.users; also the cache entry (protobuf-net).</summary>
[ProtoBuf.ProtoContract]
internal sealed record UserRow
{
    [ProtoBuf.ProtoMember(1)] public Guid Id { get; init; }
    [ProtoBuf.ProtoMember(2)] public string Email { get; init; } = "";
    [ProtoBuf.ProtoMember(3)] public string DisplayName { get; init; } = "";
    [ProtoBuf.ProtoMember(4)] public string AvatarUrl { get; init; } = "";
    [ProtoBuf.ProtoMember(5)] public string TimeZone { get; init; } = "";
    [ProtoBuf.ProtoMember(6)] public short Status { get; init; }
    [ProtoBuf.ProtoMember(7)] public long Version { get; init; }
    [ProtoBuf.ProtoMember(8)] public long Seq { get; init; }
    [ProtoBuf.ProtoMember(9)] public DateTime CreatedAt { get; init; }
    [ProtoBuf.ProtoMember(10)] public DateTime UpdatedAt { get; init; }

    public string Etag => EtagOf(Version);

    public static string EtagOf(long version) => "v" + version.ToString(CultureInfo.InvariantCulture);

    public User ToContract() => new()
    {
        Id = Id.ToString(),
        Email = Email,
        DisplayName = DisplayName,
        AvatarUrl = AvatarUrl,
        TimeZone = TimeZone,
        Status = (UserStatus)Status,
        CreatedAt = DateTime.SpecifyKind(CreatedAt, DateTimeKind.Utc),
        UpdatedAt = DateTime.SpecifyKind(UpdatedAt, DateTimeKind.Utc),
        Etag = Etag,
    };
}
