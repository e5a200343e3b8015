using Npgsql;
using PyAirtable.Services.Infrastructure.Database;

namespace PyAirtable.Services.Users.Stores;

/// <summary>A connection of the platform pool and, for an RPC that writes, its transaction, with the store over users.users.</summary>
internal sealed class UserSession(NpgsqlConnection connection, NpgsqlTransaction? transaction) : DatabaseSession(connection, transaction)
{
    private UserStore? _users;

    public UserStore Users => _users ??= new(this);

    /// <summary>A session without a transaction, for RPCs that only read.</summary>
    public static Task<UserSession> OpenAsync(NpgsqlDataSource dataSource, CancellationToken ct) =>
        OpenAsync(dataSource, write: false, (c, t) => new UserSession(c, t), ct);

    /// <summary>A session in a transaction, for RPCs that write: the row and its outbox event commit together.</summary>
    public static Task<UserSession> BeginAsync(NpgsqlDataSource dataSource, CancellationToken ct) =>
        OpenAsync(dataSource, write: true, (c, t) => new UserSession(c, t), ct);
}
