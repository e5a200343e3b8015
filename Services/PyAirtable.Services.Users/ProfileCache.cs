using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using PyAirtable.Services.Infrastructure.SharedState;
using PyAirtable.Services.Users.Stores;

namespace PyAirtable.Services.Users;

/// <summary>
/// GetUser's read-through cache: this host's memory (<see cref="ProfileMemory"/>) in front of the shared state, with the
/// row version as the entry version at both levels: writers store the new version before returning and the caches only
/// ever accept a newer version, so a reader that loaded an older row cannot put it back after an update.
/// </summary>
internal sealed partial class ProfileCache(ISharedState cache, ProfileMemory memory, ChangeFeed feed, IOptions<UserServiceOptions> options, ILogger logger)
{
    /// <summary>How long an entry stays, and how long clients may keep a profile (cache expires_at).</summary>
    public TimeSpan Ttl => options.Value.CacheTtl;

    /// <summary>Taken before a read of the shared level or the database; <see cref="WriteAsync"/> gives it back to the memory level.</summary>
    public long Generation => memory.Generation;

    /// <summary>The profile if this host holds it (no network), as GetUser answers with it.</summary>
    public bool TryGetHeld(Guid id, out HeldProfile held) => memory.TryGetHeld(id, out held);

    public async Task<UserRow?> ReadAsync(Guid id)
    {
        if (memory.TryGet(id, out var held))
        {
            return held;
        }

        var generation = memory.Generation;
        try
        {
            var entry = await cache.GetVersionedAsync(Key(id));
            if (entry is null)
            {
                return null;
            }

            var row = ProtoBuf.Serializer.Deserialize<UserRow>(entry.Value.Data.AsSpan());
            memory.Put(row, generation);
            return row;
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
    public async Task WriteAsync(UserRow row, long generation, bool changed = false)
    {
        using var buffer = new MemoryStream();
        ProtoBuf.Serializer.Serialize(buffer, row);
        try
        {
            await cache.SetVersionedIfNewerAsync(Key(row.Id), new VersionedEntry(row.Version, buffer.ToArray()), Ttl);
            await AfterWriteAsync(row, generation, changed);
            return;
        }
        catch (SharedStateUnavailableException ex)
        {
            LogCacheUnavailable(logger, ex.Message);
        }

        await AfterWriteAsync(row, generation, changed);
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

    /// <summary>
    /// A change is published after the shared level holds it (or lost it), so a host that drops its older copy reads the new
    /// one there; then this host keeps it. A plain read-through only fills this host's memory.
    /// </summary>
    private async Task AfterWriteAsync(UserRow row, long generation, bool changed)
    {
        if (changed)
        {
            await feed.PublishAsync(ProfileMemory.FeedKind, ProfileMemory.ItemFor(row));
            generation = memory.Generation;
        }

        memory.Put(row, generation);
    }

    private static string Key(Guid id) => "users:user:" + id.ToString("N");

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "Could not drop the cached profile {UserId} after a change; it may be served until it expires: {Error}")]
    private static partial void LogStaleEntryLeft(ILogger logger, Guid userId, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Profile cache unavailable, using PostgreSQL: {Error}")]
    private static partial void LogCacheUnavailable(ILogger logger, string error);
}
