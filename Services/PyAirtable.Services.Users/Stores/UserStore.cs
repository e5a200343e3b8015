using System.Globalization;
using Dapper;
using PyAirtable.Contracts.Users;

namespace PyAirtable.Services.Users.Stores;

/// <summary>Profiles (users.users): read by id or page, changed under an optimistic version, created for accounts.</summary>
internal sealed class UserStore(UserSession session)
{
    private const string Columns =
        "id AS Id, email AS Email, display_name AS DisplayName, avatar_url AS AvatarUrl, time_zone AS TimeZone, status AS Status, " +
        "version AS Version, seq AS Seq, created_at AS CreatedAt, updated_at AS UpdatedAt";

    public Task<UserRow?> FindAsync(Guid id, CancellationToken ct) =>
        session.Connection.QuerySingleOrDefaultAsync<UserRow?>(new CommandDefinition(
            $"SELECT {Columns} FROM users.users WHERE id = @id", new { id }, session.Transaction, cancellationToken: ct));

    /// <summary>The profiles of those of <paramref name="ids"/> that exist, in no particular order.</summary>
    public async Task<List<UserRow>> FindManyAsync(Guid[] ids, CancellationToken ct) =>
        (await session.Connection.QueryAsync<UserRow>(new CommandDefinition(
            $"SELECT {Columns} FROM users.users WHERE id = ANY(@visible)", new { visible = ids },
            session.Transaction, cancellationToken: ct))).ToList();

    /// <summary>Profiles in insertion order (seq) after <paramref name="after"/>; only <paramref name="only"/>'s unless null.</summary>
    public async Task<List<UserRow>> ListAsync(Guid? only, long? after, int limit, CancellationToken ct) =>
        (await session.Connection.QueryAsync<UserRow>(new CommandDefinition(
            $"""
            SELECT {Columns} FROM users.users
             WHERE (@only::uuid IS NULL OR id = @only) AND (@after::bigint IS NULL OR seq > @after)
             ORDER BY seq LIMIT @limit
            """, new { only, after, limit }, session.Transaction, cancellationToken: ct))).ToList();

    public Task<long> CountAsync(Guid? only, CancellationToken ct) =>
        session.Connection.ExecuteScalarAsync<long>(new CommandDefinition(
            "SELECT count(*) FROM users.users WHERE (@only::uuid IS NULL OR id = @only)", new { only },
            session.Transaction, cancellationToken: ct));

    /// <summary>
    /// Changes the fields that are not null if the row is still at <paramref name="version"/>, bumping it; null when the
    /// profile is missing or was changed since (tell them apart with <see cref="VersionOfAsync"/>).
    /// </summary>
    public Task<UserRow?> UpdateAsync(
        Guid id, long? version, string? displayName, string? avatarUrl, string? timeZone, CancellationToken ct) =>
        session.Connection.QuerySingleOrDefaultAsync<UserRow?>(new CommandDefinition(
            $"""
            UPDATE users.users
               SET display_name = coalesce(@displayName, display_name),
                   avatar_url = coalesce(@avatarUrl, avatar_url),
                   time_zone = coalesce(@timeZone, time_zone),
                   version = version + 1, updated_at = now()
             WHERE id = @id AND version = @version
            RETURNING {Columns}
            """, new { id, version, displayName, avatarUrl, timeZone }, session.Transaction, cancellationToken: ct));

    /// <summary>The row version of the profile, or null if there is none.</summary>
    public Task<long?> VersionOfAsync(Guid id, CancellationToken ct) =>
        session.Connection.ExecuteScalarAsync<long?>(new CommandDefinition(
            "SELECT version FROM users.users WHERE id = @id", new { id }, session.Transaction, cancellationToken: ct));

    /// <summary>Deactivates the profile, bumping its version; null when it is missing or was deactivated before.</summary>
    public Task<UserRow?> DeactivateAsync(Guid id, CancellationToken ct) =>
        session.Connection.QuerySingleOrDefaultAsync<UserRow?>(new CommandDefinition(
            $"""
            UPDATE users.users SET status = @deactivated, version = version + 1, updated_at = now()
             WHERE id = @id AND status <> @deactivated
            RETURNING {Columns}
            """, new { id, deactivated = (short)UserStatus.Deactivated }, session.Transaction, cancellationToken: ct));

    /// <summary>The new profile; null when its id or its e-mail address is taken already.</summary>
    public Task<UserRow?> InsertAsync(Guid id, string email, string displayName, CancellationToken ct) =>
        session.Connection.QuerySingleOrDefaultAsync<UserRow?>(new CommandDefinition(
            $"""
            INSERT INTO users.users (id, email, display_name) VALUES (@id, @email, @displayName)
            ON CONFLICT DO NOTHING
            RETURNING {Columns}
            """, new { id, email, displayName }, session.Transaction, cancellationToken: ct));

    /// <summary>Gives the profile holding <paramref name="email"/> to the account <paramref name="id"/>, as if new.</summary>
    public Task<UserRow> ReclaimAsync(Guid id, string email, string displayName, CancellationToken ct) =>
        session.Connection.QuerySingleAsync<UserRow>(new CommandDefinition(
            $"""
            UPDATE users.users SET id = @id, display_name = @displayName, avatar_url = '', time_zone = '',
                   status = @active, version = version + 1, created_at = now(), updated_at = now()
             WHERE email = @email
            RETURNING {Columns}
            """, new { id, email, displayName, active = (short)UserStatus.Active }, session.Transaction, cancellationToken: ct));
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
