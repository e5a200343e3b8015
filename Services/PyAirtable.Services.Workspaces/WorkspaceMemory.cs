using System.Collections.Concurrent;
using PyAirtable.Services.Infrastructure.SharedState;
using PyAirtable.Services.Workspaces.Stores;

namespace PyAirtable.Services.Workspaces;

/// <summary>
/// Bases as GetBase last read them, in this host's memory, so a read after the (in-memory) permission check touches no
/// database. Every write of the Workspace service publishes on the <see cref="ChangeFeed"/> after it commits (item
/// <c>w</c>); applying one, on any host, starts a new generation and only rows read in the current generation answer.
/// Writes are rare next to reads, and a workspace's deletion removes all its bases at once, so one write voids all.
/// Rows answer only while the feed is current (<c>ChangeFeed:Bound</c>).
/// </summary>
public sealed class WorkspaceMemory(ChangeFeed feed) : IChangeFollower
{
    /// <summary>The kind of this cache's items on the change feed.</summary>
    public const char FeedKind = 'w';

    private const int MaxEntries = 100_000;

    private readonly ConcurrentDictionary<Guid, (BaseRow Row, long Generation)> _bases = new();
    private long _generation;

    public char Kind => FeedKind;

    /// <summary>Taken before a row is read from the database, and given back to <see cref="Put"/>.</summary>
    public long Generation => Volatile.Read(ref _generation);

    internal bool TryGet(Guid id, out BaseRow row)
    {
        if (feed.IsCurrent && _bases.TryGetValue(id, out var held) && held.Generation == Generation)
        {
            row = held.Row;
            return true;
        }

        row = null!;
        return false;
    }

    internal void Put(BaseRow row, long generation)
    {
        if (generation != Generation)
        {
            return;
        }

        if (_bases.Count >= MaxEntries)
        {
            _bases.Clear();
        }

        _bases[row.Id] = (row, generation);
    }

    /// <summary>After a write of the service committed: every host drops what it read before.</summary>
    internal Task PublishAsync() => feed.PublishAsync(FeedKind, "");

    public void Apply(string item)
    {
        Interlocked.Increment(ref _generation);
        _bases.Clear();
    }

    public Task ResetAsync(CancellationToken cancellationToken)
    {
        Apply("");
        return Task.CompletedTask;
    }
}
