using System.Text;
using Dapper;
using Npgsql;

namespace PyAirtable.Services.Infrastructure.Events;

/// <summary>
/// Which host handles which partition of a consumer: PostgreSQL session advisory locks on one connection per consumer
/// per host. A lock is exclusive for as long as its session lives — no lease to outlast, no clock involved, untouched by
/// a Redis restart — and PostgreSQL frees it the moment the session ends (host killed, connection cut). Every host also
/// holds a shared "member" lock, so the live members can be counted to share the partitions fairly.
/// </summary>
internal sealed class PartitionLocks(NpgsqlDataSource db, string consumer) : IAsyncDisposable
{
    // Two-key advisory locks (class, consumer hash): a key space apart from the platform's single-key locks.
    private const int MemberClass = 0x5045_0000;
    private const int PartitionClass = 0x5045_0100;
    private readonly int _consumerKey = StableHash(consumer);
    private readonly SemaphoreSlim _gate = new(1, 1); // one connection: one command at a time, whoever asks
    private NpgsqlConnection? _connection;

    /// <summary>Changes whenever the session changed: every lock taken before is gone.</summary>
    public int Session { get; private set; }

    /// <summary>How many hosts run this consumer now (this one included).</summary>
    public Task<int> LiveMembersAsync(CancellationToken ct) => Exclusively(async connection =>
        await connection.ExecuteScalarAsync<int>(new CommandDefinition(
            """
            SELECT count(*) FROM pg_locks
             WHERE locktype = 'advisory' AND granted AND objsubid = 2 AND classid = @memberClass AND objid = @key
               AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
            """, new { memberClass = (long)MemberClass, key = (long)_consumerKey }, cancellationToken: ct)), ct);

    public Task<bool> TryAcquireAsync(short part, CancellationToken ct) => Exclusively(async connection =>
        await connection.ExecuteScalarAsync<bool>(new CommandDefinition(
            "SELECT pg_try_advisory_lock(@cls, @key)", new { cls = PartitionClass + part, key = _consumerKey }, cancellationToken: ct)), ct);

    public Task ReleaseAsync(short part, CancellationToken ct) => Exclusively(async connection =>
        await connection.ExecuteAsync(new CommandDefinition(
            "SELECT pg_advisory_unlock(@cls, @key)", new { cls = PartitionClass + part, key = _consumerKey }, cancellationToken: ct)), ct);

    /// <summary>Throws when the session is gone (its locks with it): the caller must stop handling its partitions.</summary>
    public async Task EnsureHeldAsync(CancellationToken ct)
    {
        await _gate.WaitAsync(ct);
        try
        {
            if (_connection is not { FullState: System.Data.ConnectionState.Open })
            {
                throw new NpgsqlException("The partition locks' session is closed.");
            }

            await _connection.ExecuteAsync(new CommandDefinition("SELECT 1", cancellationToken: ct));
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Ends the session: PostgreSQL releases every lock it held.</summary>
    public async ValueTask DisposeAsync()
    {
        await _gate.WaitAsync();
        try
        {
            await CloseAsync();
        }
        finally
        {
            _gate.Release();
        }
    }

    private async ValueTask CloseAsync()
    {
        if (_connection is null)
        {
            return;
        }

        try
        {
            if (_connection.FullState == System.Data.ConnectionState.Open)
            {
                // A pooled connection keeps its session, and session locks with it, until reused: free them now.
                await _connection.ExecuteAsync("SELECT pg_advisory_unlock_all()");
            }
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException)
        {
            // The session is broken: PostgreSQL frees its locks when it ends.
        }
        finally
        {
            await _connection.DisposeAsync();
            _connection = null;
        }
    }

    private async Task<T> Exclusively<T>(Func<NpgsqlConnection, Task<T>> action, CancellationToken ct)
    {
        await _gate.WaitAsync(ct);
        try
        {
            return await action(await ConnectionAsync(ct));
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task<NpgsqlConnection> ConnectionAsync(CancellationToken ct)
    {
        if (_connection is { FullState: System.Data.ConnectionState.Open })
        {
            return _connection;
        }

        await CloseAsync();
        var connection = await db.OpenConnectionAsync(ct);
        await connection.ExecuteAsync(new CommandDefinition(
            "SELECT pg_advisory_lock_shared(@cls, @key)", new { cls = MemberClass, key = _consumerKey }, cancellationToken: ct));
        _connection = connection;
        Session++;
        return connection;
    }

    /// <summary>FNV-1a of the name, non-negative: the same on every host and every .NET version (string.GetHashCode is not).</summary>
    private static int StableHash(string value)
    {
        var hash = 2166136261u;
        foreach (var b in Encoding.UTF8.GetBytes(value))
        {
            hash = (hash ^ b) * 16777619u;
        }

        return (int)(hash & 0x7fff_ffff);
    }
}
