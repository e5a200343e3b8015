using System.Collections.Concurrent;
using System.Globalization;
using PyAirtable.Services.Infrastructure.SharedState;
using PyAirtable.Services.Permissions.Stores;

namespace PyAirtable.Services.Permissions;

/// <summary>
/// Decisions of CheckPermission and BatchCheckPermission kept in this host's memory, so a repeated check reads no table.
/// Every write of the service publishes its revision on the <see cref="ChangeFeed"/> after it commits (item
/// <c>p&lt;revision&gt;</c>); applying one, on any host, starts a new generation, and only entries computed in the current
/// generation answer. A decision is therefore computed after the last write this host has seen, and a write reaches every
/// host within <c>ChangeFeed:Bound</c>, or that host stops answering from here (<see cref="ChangeFeed.IsCurrent"/>) and
/// computes in PostgreSQL. One write invalidates everything: writes are rare next to checks, and what a grant, role or
/// move changes (a whole subtree, a whole workspace) is not cheap to work out exactly.
/// A check that carries a consistency token is answered here only when this host has applied that very revision (its
/// writer publishes before answering, so the token's holder can otherwise only be ahead of this host); else PostgreSQL.
/// </summary>
public sealed class PermissionDecisionCache(ChangeFeed feed) : IChangeFollower
{
    private const int MaxRevisions = 10_000;

    private readonly GenerationCache<Query, (Decision Decision, string Token)> _decisions = new(200_000);
    private readonly ConcurrentDictionary<long, byte> _applied = new(); // revisions applied since the last reset

    /// <summary>The kind of this cache's items on the change feed.</summary>
    public const char FeedKind = 'p';

    public char Kind => FeedKind;

    /// <summary>Taken before a decision is computed, and given back to <see cref="Put"/>: a write applied meanwhile voids it.</summary>
    public long Generation => _decisions.Generation;

    /// <summary>The feed item for a write that took <paramref name="token"/> (<c>r&lt;n&gt;</c>).</summary>
    public static string ItemFor(string token) => token[1..];

    /// <summary>The decision and the consistency token it was computed with, when this host may answer from memory.</summary>
    internal bool TryGet(Query query, long? tokenRevision, out Decision decision, out string token)
    {
        if (feed.IsCurrent && (tokenRevision is not { } revision || _applied.ContainsKey(revision))
            && _decisions.TryGet(query, out var held))
        {
            (decision, token) = held;
            return true;
        }

        (decision, token) = (default, "");
        return false;
    }

    /// <summary>Keeps a decision computed in <paramref name="generation"/> (ignored if a write was applied since).</summary>
    internal void Put(Query query, Decision decision, string token, long generation) => _decisions.Put(query, (decision, token), generation);

    public void Apply(string item)
    {
        if (long.TryParse(item, NumberStyles.None, CultureInfo.InvariantCulture, out var revision))
        {
            if (_applied.Count >= MaxRevisions)
            {
                _applied.Clear(); // tokens seen before this go to PostgreSQL: safe, only slower
            }

            _applied[revision] = 0;
        }

        _decisions.Invalidate();
    }

    public Task ResetAsync(CancellationToken cancellationToken)
    {
        _applied.Clear();
        _decisions.Invalidate();
        return Task.CompletedTask;
    }
}
