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

    private readonly GenerationCache<Guid, BaseRow> _bases = new(100_000);

    public char Kind => FeedKind;

    /// <summary>Taken before a row is read from the database, and given back to <see cref="Put"/>.</summary>
    public long Generation => _bases.Generation;

    internal bool TryGet(Guid id, out BaseRow row)
    {
        row = null!;
        return feed.IsCurrent && _bases.TryGet(id, out row);
    }

    internal void Put(BaseRow row, long generation) => _bases.Put(row.Id, row, generation);

    /// <summary>After a write of the service committed: every host drops what it read before.</summary>
    internal Task PublishAsync() => feed.PublishAsync(FeedKind, "");

    public void Apply(string item) => _bases.Invalidate();

    public Task ResetAsync(CancellationToken cancellationToken)
    {
        _bases.Invalidate();
        return Task.CompletedTask;
    }
}
