using System.Collections.Concurrent;
using System.Globalization;
using Dapper;
using Npgsql;

namespace PyAirtable.Services.Infrastructure.SharedState;

/// <summary>
/// This host's copy of every live revocation, so the gateway checks a credential without a network round trip. Fed by the
/// <see cref="ChangeFeed"/> (items <c>r&lt;key&gt;|&lt;expiry, unix ms&gt;</c>) and rebuilt from <c>platform.revocations</c>
/// whenever the feed loses continuity. Revocations are only ever added until they expire, so a rebuild adds what
/// PostgreSQL holds to what is here: a revocation applied on this host during a rebuild cannot be lost by it.
/// </summary>
public sealed class LocalRevocations(ChangeFeed feed, NpgsqlDataSource database, TimeProvider time) : IChangeFollower
{
    private readonly ConcurrentDictionary<string, long> _expiries = new(StringComparer.Ordinal);
    private int _applied;

    public char Kind => 'r';

    /// <summary>How many revocations are held (expired ones until the next sweep).</summary>
    public int Count => _expiries.Count;

    /// <summary>The feed item for a revocation of <paramref name="key"/> that lives <paramref name="ttl"/> from now.</summary>
    public string ItemFor(string key, TimeSpan ttl) =>
        key + "|" + (time.GetUtcNow() + ttl).ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture);

    /// <summary>
    /// Answers from memory when the feed is current: true with <paramref name="revoked"/> set; false when this host cannot
    /// prove its copy current within the bound, and the caller must ask the shared state or PostgreSQL.
    /// </summary>
    public bool TryCheck(string credentialKey, string userKey, out bool revoked) => TryCheck(credentialKey, userKey.AsSpan(), out revoked);

    /// <inheritdoc cref="TryCheck(string, string, out bool)"/>
    public bool TryCheck(string credentialKey, ReadOnlySpan<char> userKey, out bool revoked)
    {
        if (!feed.IsCurrent)
        {
            revoked = false;
            return false;
        }

        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        revoked = (_expiries.TryGetValue(credentialKey, out var a) && a > now)
            || (_expiries.GetAlternateLookup<ReadOnlySpan<char>>().TryGetValue(userKey, out var b) && b > now);
        return true;
    }

    public void Apply(string item)
    {
        var bar = item.LastIndexOf('|');
        if (bar <= 0 || !long.TryParse(item.AsSpan(bar + 1), NumberStyles.Integer, CultureInfo.InvariantCulture, out var expiry))
        {
            return; // not ours to guess at; a rebuild would bring it from PostgreSQL
        }

        Add(item[..bar], expiry);
        if ((Interlocked.Increment(ref _applied) & 4095) == 0)
        {
            Sweep();
        }
    }

    public async Task ResetAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        var rows = await connection.QueryAsync<(string Key, DateTime ExpiresAt)>(new CommandDefinition(
            "SELECT key, expires_at FROM platform.revocations WHERE expires_at > now()", cancellationToken: cancellationToken));
        foreach (var (key, expiresAt) in rows)
        {
            Add(key, new DateTimeOffset(DateTime.SpecifyKind(expiresAt, DateTimeKind.Utc)).ToUnixTimeMilliseconds());
        }

        Sweep();
    }

    private void Add(string key, long expiry) => _expiries.AddOrUpdate(key, expiry, (_, current) => Math.Max(current, expiry));

    private void Sweep()
    {
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        foreach (var entry in _expiries)
        {
            if (entry.Value <= now)
            {
                _expiries.TryRemove(entry);
            }
        }
    }
}
