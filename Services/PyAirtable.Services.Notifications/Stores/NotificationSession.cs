using Npgsql;
using PyAirtable.Services.Infrastructure.Database;

namespace PyAirtable.Services.Notifications.Stores;

/// <summary>A connection of the platform pool and, for what writes, its transaction, with the notifications schema's store.</summary>
internal sealed class NotificationSession(NpgsqlConnection connection, NpgsqlTransaction? transaction)
    : DatabaseSession(connection, transaction)
{
    private FeedStore? _feeds;

    public FeedStore Feeds => _feeds ??= new(this);

    public static Task<NotificationSession> OpenAsync(NpgsqlDataSource dataSource, CancellationToken ct) =>
        OpenAsync(dataSource, write: false, (c, t) => new NotificationSession(c, t), ct);

    public static Task<NotificationSession> BeginAsync(NpgsqlDataSource dataSource, CancellationToken ct) =>
        OpenAsync(dataSource, write: true, (c, t) => new NotificationSession(c, t), ct);
}
