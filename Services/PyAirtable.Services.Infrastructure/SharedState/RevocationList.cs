using System.Globalization;
using Dapper;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace PyAirtable.Services.Infrastructure.SharedState;

/// <summary>
/// Credentials revoked before they expire: sessions (logout, refresh-token reuse), users
/// (deactivation) and API keys. <c>platform.revocations</c> in PostgreSQL is the record, written in the
/// same transaction as the change that revokes. Each host holds a copy in memory (<see cref="LocalRevocations"/>, kept
/// current by the <see cref="ChangeFeed"/>), so the gateway's per-call check costs no round trip while that copy is
/// proven current within <c>ChangeFeed:Bound</c>; past it the check asks the shared state (Redis), which holds a mirror
/// of its own, and PostgreSQL behind it. A revocation therefore survives a Redis restart, flush or failover:
/// <list type="bullet">
/// <item>a marker key says the mirror is complete; when Redis comes back empty the marker is gone, checks
/// read PostgreSQL and <see cref="RevocationMirror"/> rebuilds the mirror before setting the marker again;</item>
/// <item>while Redis is unreachable, checks read PostgreSQL (a primary-key lookup), so authenticated calls
/// keep working and stay correct;</item>
/// <item>a mirror write that failed after the commit is repaired by the mirrors' next successful pass:
/// every host copies what was revoked since its own last good pass, and the host whose write failed copies
/// everything, however long Redis was away.</item>
/// </list>
/// The mirror needs Redis to keep keys until they expire: run it with <c>maxmemory-policy noeviction</c>
/// (scripts/redis.sh does; so do most defaults), or an evicted flag would read as "not revoked".
/// Entries live <c>Identity:RevocationTtl</c> (1 day), longer than any access token or cached API-key
/// verdict they must outlive; the durable state of the account (disabled, sessions revoked) stays in its tables.
/// </summary>
public sealed partial class RevocationList(
    ISharedState state, NpgsqlDataSource database, IConfiguration configuration, ILogger<RevocationList> logger, LocalRevocations local,
    ChangeFeed feed)
{
    /// <summary>Present while the mirror holds every revocation (see <see cref="RevocationMirror"/>).</summary>
    internal const string MirrorCompleteKey = "revoked:mirror-complete";

    private int _loadRequested; // 1 after a failed publish, until the mirror takes it

    public TimeSpan Ttl { get; } = TimeSpan.TryParse(configuration["Identity:RevocationTtl"], CultureInfo.InvariantCulture, out var ttl)
        ? ttl
        : TimeSpan.FromDays(1);

    public static string Session(string sessionId) => "revoked:session:" + sessionId;

    public static string User(string userId) => UserKeyPrefix + userId;

    private const string UserKeyPrefix = "revoked:user:";

    public static string ApiKey(string keyId) => "revoked:api_key:" + keyId;

    /// <summary>Set when a publish failed on this host; its mirror then copies everything on its next pass.</summary>
    internal bool TakeLoadRequest() => Interlocked.Exchange(ref _loadRequested, 0) == 1;

    /// <summary>
    /// Records revocations inside <paramref name="transaction"/>, so they commit (or roll back) with the
    /// change that revokes. Call <see cref="PublishAsync"/> after the commit.
    /// </summary>
    public async Task RecordAsync(NpgsqlTransaction transaction, IReadOnlyCollection<string> keys, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(transaction);
        ArgumentNullException.ThrowIfNull(keys);
        await transaction.Connection!.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO platform.revocations (key, expires_at)
            SELECT k, clock_timestamp() + @ttl FROM unnest(@keys) AS k
            ON CONFLICT (key) DO UPDATE SET revoked_at = excluded.revoked_at, expires_at = greatest(platform.revocations.expires_at, excluded.expires_at)
            """, new { keys = keys.ToArray(), ttl = Ttl }, transaction, cancellationToken: cancellationToken));
    }

    /// <inheritdoc cref="RecordAsync(NpgsqlTransaction, IReadOnlyCollection{string}, CancellationToken)"/>
    public Task RecordAsync(NpgsqlTransaction transaction, string key, CancellationToken cancellationToken) =>
        RecordAsync(transaction, [key], cancellationToken);

    /// <summary>
    /// Copies committed revocations into the mirror so the next call on every host sees them. Best effort:
    /// when Redis cannot take them, checks read PostgreSQL (Redis down) or the mirror's next pass copies them.
    /// </summary>
    public async Task PublishAsync(params string[] keys)
    {
        ArgumentNullException.ThrowIfNull(keys);
        await feed.PublishAsync(local.Kind, keys.Select(k => local.ItemFor(k, Ttl)).ToArray());
        try
        {
            foreach (var key in keys)
            {
                await state.SetFlagAsync(key, Ttl);
            }
        }
        catch (SharedStateUnavailableException ex)
        {
            Volatile.Write(ref _loadRequested, 1); // copy everything on the next pass that reaches Redis
            LogPublishFailed(logger, keys.Length, ex.Message);
        }
    }

    /// <summary>
    /// True when the credential (session or API key) or its user is revoked. A caller that already holds a
    /// connection passes it (and its transaction), so the PostgreSQL fallback does not wait for a second one
    /// from the same pool — under load that wait could never end.
    /// </summary>
    public Task<bool> IsRevokedAsync(string credentialKey, string userId, CancellationToken cancellationToken = default) =>
        IsRevokedAsync(credentialKey, userId, null, null, cancellationToken);

    /// <inheritdoc cref="IsRevokedAsync(string, string, CancellationToken)"/>
    public async Task<bool> IsRevokedAsync(string credentialKey, string userId, NpgsqlConnection? connection, NpgsqlTransaction? transaction,
        CancellationToken cancellationToken)
    {
        if (TryCheckLocal(credentialKey, userId, out var revoked))
        {
            return revoked;
        }

        string[] keys = [credentialKey, User(userId)];
        try
        {
            var found = await state.ExistAsync([MirrorCompleteKey, .. keys], cancellationToken);
            if (found[0])
            {
                return found[1] || found[2];
            }

            // Redis lost the mirror (restart, flush, failover): PostgreSQL answers until a mirror rebuilds it.
        }
        catch (SharedStateUnavailableException)
        {
            // Redis is down: PostgreSQL is the record.
        }

        const string Sql = "SELECT EXISTS (SELECT FROM platform.revocations WHERE key = ANY(@keys) AND expires_at > now())";
        if (connection is not null)
        {
            return await connection.ExecuteScalarAsync<bool>(new CommandDefinition(Sql, new { keys }, transaction, cancellationToken: cancellationToken));
        }

        await using var own = await database.OpenConnectionAsync(cancellationToken);
        return await own.ExecuteScalarAsync<bool>(new CommandDefinition(Sql, new { keys }, cancellationToken: cancellationToken));
    }

    /// <summary>The in-process answer, if the local copy is current; the user's key is spelled on the stack (every call asks).</summary>
    private bool TryCheckLocal(string credentialKey, string userId, out bool revoked)
    {
        if (userId.Length > 128)
        {
            return local.TryCheck(credentialKey, User(userId), out revoked);
        }

        Span<char> userKey = stackalloc char[UserKeyPrefix.Length + userId.Length];
        UserKeyPrefix.CopyTo(userKey);
        userId.CopyTo(userKey[UserKeyPrefix.Length..]);
        return local.TryCheck(credentialKey, userKey, out revoked);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Count} revocation(s) committed but not mirrored to Redis ({Error}); checks read PostgreSQL meanwhile and the mirror copies them when Redis answers")]
    private static partial void LogPublishFailed(ILogger logger, int count, string error);
}
