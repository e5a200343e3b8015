using System.Collections.Concurrent;
using System.Globalization;
using Microsoft.Extensions.Options;
using PyAirtable.Contracts.Users;
using PyAirtable.Services.Infrastructure.SharedState;
using PyAirtable.Services.Users.Stores;

namespace PyAirtable.Services.Users;

/// <summary>
/// The first level of GetUser's cache: profiles in this host's memory, in front of the shared (Redis) level, so a warm read
/// touches no network. Writers publish <c>u&lt;id&gt;|&lt;version&gt;</c> on the <see cref="ChangeFeed"/> after storing
/// the new version in the shared level; every host then drops older versions and remembers the newest version it has heard
/// of, so a reader that fetched an older row before the change cannot put it back afterwards (the same never-older rule
/// as the shared level). Entries answer only while the feed is current (<c>ChangeFeed:Bound</c>): a change reaches every
/// host within the bound, or that host reads the shared level again.
/// </summary>
public sealed class ProfileMemory(ChangeFeed feed, IOptions<UserServiceOptions> options, TimeProvider time) : IChangeFollower
{
    /// <summary>The kind of this cache's items on the change feed.</summary>
    public const char FeedKind = 'u';

    private const int MaxEntries = 100_000;

    private readonly ConcurrentDictionary<Guid, Slot> _slots = new();
    private long _generation;

    /// <summary>A profile (or none, only the newest version heard of), kept in one generation until it expires.</summary>
    private sealed record Slot(HeldProfile? Row, long MinVersion, long Generation, long ExpiresAt);

    public char Kind => FeedKind;

    /// <summary>Taken before the shared level or the database is read, and given back to <see cref="Put"/>.</summary>
    public long Generation => Volatile.Read(ref _generation);

    internal static string ItemFor(UserRow row) => row.Id.ToString("N") + "|" + row.Version.ToString(CultureInfo.InvariantCulture);

    internal bool TryGet(Guid id, out UserRow row)
    {
        var found = TryGetHeld(id, out var held);
        row = found ? held.Row : null!;
        return found;
    }

    /// <summary>The profile as this host keeps it, with what GetUser derives from it (derived once per kept version).</summary>
    internal bool TryGetHeld(Guid id, out HeldProfile held)
    {
        if (feed.IsCurrent && _slots.TryGetValue(id, out var slot) && slot.Row is { } cached && slot.Generation == Generation
            && cached.Row.Version >= slot.MinVersion && slot.ExpiresAt > time.GetTimestamp())
        {
            held = cached;
            return true;
        }

        held = null!;
        return false;
    }

    /// <summary>Keeps <paramref name="row"/>, read in <paramref name="generation"/>, unless a newer version is known here.</summary>
    internal void Put(UserRow row, long generation)
    {
        if (generation != Generation)
        {
            return;
        }

        if (_slots.Count >= MaxEntries)
        {
            Clear();
            return;
        }

        var expires = time.GetTimestamp() + (long)(options.Value.CacheTtl.TotalSeconds * time.TimestampFrequency);
        _slots.AddOrUpdate(row.Id,
            _ => new Slot(new HeldProfile(row), row.Version, generation, expires),
            (_, slot) => slot.Generation != generation
                ? new Slot(new HeldProfile(row), row.Version, generation, expires)
                : row.Version < slot.MinVersion || (slot.Row is { } held && held.Row.Version >= row.Version)
                    ? slot
                    : new Slot(new HeldProfile(row), row.Version, generation, expires));
    }

    public void Apply(string item)
    {
        var bar = item.IndexOf('|', StringComparison.Ordinal);
        if (bar <= 0 || !Guid.TryParseExact(item.AsSpan(0, bar), "N", out var id)
            || !long.TryParse(item.AsSpan(bar + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var version))
        {
            Clear(); // an item this host cannot read: forget everything rather than guess
            return;
        }

        var generation = Generation;
        var expires = time.GetTimestamp() + (long)(options.Value.CacheTtl.TotalSeconds * time.TimestampFrequency);
        // A newer version drops the kept row: a slot's row is always its floor's version (Put sets both), so a row at
        // least as new as a version above the floor cannot exist.
        _slots.AddOrUpdate(id,
            _ => new Slot(null, version, generation, expires),
            (_, slot) => slot.Generation == generation && version <= slot.MinVersion ? slot : new Slot(null, version, generation, expires));
    }

    public Task ResetAsync(CancellationToken cancellationToken)
    {
        Clear();
        return Task.CompletedTask;
    }

    /// <summary>A new generation: every entry and every read in flight is void.</summary>
    private void Clear()
    {
        Interlocked.Increment(ref _generation);
        _slots.Clear();
    }
}

/// <summary>
/// A profile version as a host keeps it, with its contract form and etag made once: a warm GetUser answers with them as they are
/// (the contract records are immutable, and the serializer only reads them).
/// </summary>
internal sealed class HeldProfile(UserRow row)
{
    private User? _contract;

    public UserRow Row { get; } = row;

    public string Etag { get; } = row.Etag;

    /// <summary>Made on first use; two calls racing may each make one, which are equal.</summary>
    public User Contract => _contract ??= Row.ToContract();
}
