using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using PyAirtable.Services.Infrastructure.SharedState;
using PyAirtable.Services.Users.Stores;

namespace PyAirtable.Services.Users;

/// <summary>
/// GetUser's read-through cache in the shared state, with the row version as the entry version: writers store the new
/// version before returning and the cache only ever accepts a newer version, so a reader that loaded an older row
/// cannot put it back after an update.
/// </summary>
internal sealed partial class ProfileCache(ISharedState cache, IOptions<UserServiceOptions> options, ILogger logger)
{
    /// <summary>How long an entry stays, and how long clients may keep a profile (cache expires_at).</summary>
    public TimeSpan Ttl => options.Value.CacheTtl;

    public async Task<UserRow?> ReadAsync(Guid id)
    {
        try
        {
            var entry = await cache.GetVersionedAsync(Key(id));
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
    public async Task WriteAsync(UserRow row, bool changed = false)
    {
        using var buffer = new MemoryStream();
        ProtoBuf.Serializer.Serialize(buffer, row);
        try
        {
            await cache.SetVersionedIfNewerAsync(Key(row.Id), new VersionedEntry(row.Version, buffer.ToArray()), Ttl);
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
                await cache.DeleteAsync(Key(row.Id));
            }
            catch (SharedStateUnavailableException ex)
            {
                // The old version may be served until the entry expires (Users:CacheTtl).
                LogStaleEntryLeft(logger, row.Id, ex.Message);
            }
        }
    }

    private static string Key(Guid id) => "users:user:" + id.ToString("N");

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "Could not drop the cached profile {UserId} after a change; it may be served until it expires: {Error}")]
    private static partial void LogStaleEntryLeft(ILogger logger, Guid userId, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Profile cache unavailable, using PostgreSQL: {Error}")]
    private static partial void LogCacheUnavailable(ILogger logger, string error);
}
