using System.Globalization;
using Dapper;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace PyAirtable.Services.Infrastructure.SharedState;

/// <summary>
/// Credentials revoked before they expire: sessions (logout, refresh-token reuse), users
/// (deactivation) and API keys. <c>platform.revocations</c> in PostgreSQL is the record, written in the
/// same transaction as the change that revokes; the shared state (Redis) holds a mirror so the gateway's
/// per-call check is one round trip. A revocation therefore survives a Redis restart, flush or failover:
/// <list type="bullet">
/// <item>a marker key says the mirror is complete; when Redis comes back empty the marker is gone, checks
/// read PostgreSQL and <see cref="RevocationMirror"/> rebuilds the mirror before setting the marker again;</item>
/// <item>while Redis is unreachable, checks read PostgreSQL (a primary-key lookup), so authenticated calls
/// keep working and stay correct;</item>
/// <item>a mirror write that failed after the commit is repaired by the mirror's next pass (≤ 1 s).</item>
/// </list>
/// Entries live <c>Identity:RevocationTtl</c> (1 day), longer than any access token or cached API-key
/// verdict they must outlive; the durable state of the account (disabled, sessions revoked) stays in its tables.
/// </summary>
public sealed partial class RevocationList(ISharedState state, NpgsqlDataSource database, IConfiguration configuration, ILogger<RevocationList> logger)
{
    /// <summary>Present while the mirror holds every revocation (see <see cref="RevocationMirror"/>).</summary>
    internal const string MirrorCompleteKey = "revoked:mirror-complete";

    private volatile bool _loadRequested;

    public TimeSpan Ttl { get; } = TimeSpan.TryParse(configuration["Identity:RevocationTtl"], CultureInfo.InvariantCulture, out var ttl)
        ? ttl
        : TimeSpan.FromDays(1);

    public static string Session(string sessionId) => "revoked:session:" + sessionId;

    public static string User(string userId) => "revoked:user:" + userId;

    public static string ApiKey(string keyId) => "revoked:api_key:" + keyId;

    /// <summary>Set when a check found the mirror incomplete; the mirror reloads it on its next pass.</summary>
    internal bool TakeLoadRequest()
    {
        var requested = _loadRequested;
        _loadRequested = false;
        return requested;
    }

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
        try
        {
            foreach (var key in keys)
            {
                await state.SetFlagAsync(key, Ttl);
            }
        }
        catch (SharedStateUnavailableException ex)
        {
            LogPublishFailed(logger, keys.Length, ex.Message);
        }
    }

    /// <summary>True when the credential (session or API key) or its user is revoked.</summary>
    public async Task<bool> IsRevokedAsync(string credentialKey, string userId, CancellationToken cancellationToken = default)
    {
        string[] keys = [credentialKey, User(userId)];
        try
        {
            var found = await state.ExistAsync([MirrorCompleteKey, .. keys], cancellationToken);
            if (found[0])
            {
                return found[1] || found[2];
            }

            _loadRequested = true; // Redis lost the mirror (restart, flush, failover): PostgreSQL answers until it is rebuilt
        }
        catch (SharedStateUnavailableException)
        {
            // Redis is down: PostgreSQL is the record.
        }

        return await IsRecordedAsync(keys, cancellationToken);
    }

    private async Task<bool> IsRecordedAsync(string[] keys, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        return await connection.ExecuteScalarAsync<bool>(new CommandDefinition(
            "SELECT EXISTS (SELECT FROM platform.revocations WHERE key = ANY(@keys) AND expires_at > now())",
            new { keys }, cancellationToken: cancellationToken));
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Count} revocation(s) committed but not mirrored to Redis ({Error}); the mirror repairs it on its next pass")]
    private static partial void LogPublishFailed(ILogger logger, int count, string error);
}
