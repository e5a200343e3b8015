using Dapper;
using Npgsql;
using StackExchange.Redis;

namespace PyAirtable.Tools;

/// <summary>
/// A benchmark's own database (created on the server given, dropped after) and Redis key prefix (its keys deleted after),
/// so a bench never touches the data of a running platform that shares the servers.
/// </summary>
internal sealed class ScratchEnvironment : IAsyncDisposable
{
    private readonly NpgsqlConnectionStringBuilder _server;
    private readonly string _redis;

    private ScratchEnvironment(NpgsqlConnectionStringBuilder server, string database, string redis, string prefix)
    {
        _server = server;
        _redis = redis;
        Database = database;
        Prefix = prefix;
    }

    public string Database { get; }

    /// <summary>The Redis key prefix (<c>Redis:InstanceName</c>) of everything the bench writes there.</summary>
    public string Prefix { get; }

    /// <summary>A connection string to the scratch database.</summary>
    public string ConnectionString(int maxPoolSize) =>
        new NpgsqlConnectionStringBuilder(_server.ConnectionString) { Database = Database, Pooling = true, MaxPoolSize = maxPoolSize }.ConnectionString;

    public static async Task<ScratchEnvironment> CreateAsync(string postgres, string redis, string name, CancellationToken ct)
    {
        // An empty --redis (say, from a shell variable that was never set) would quietly measure single-instance mode.
        if (string.IsNullOrWhiteSpace(postgres) || string.IsNullOrWhiteSpace(redis))
        {
            throw new ArgumentException("--postgres and --redis must not be empty");
        }

        var id = Guid.NewGuid().ToString("N")[..10];
        var server = new NpgsqlConnectionStringBuilder(postgres) { Pooling = false };
        var database = $"pyairtable_{name}_{id}";
        await using (var admin = new NpgsqlConnection(server.ConnectionString))
        {
            await admin.OpenAsync(ct);
            await admin.ExecuteAsync($"CREATE DATABASE \"{database}\"");
        }

        return new ScratchEnvironment(server, database, redis, $"{name}-{id}:");
    }

    public async ValueTask DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        await using (var admin = new NpgsqlConnection(_server.ConnectionString))
        {
            await admin.OpenAsync(CancellationToken.None);
            for (var attempt = 1; ; attempt++)
            {
                try
                {
                    await admin.ExecuteAsync($"DROP DATABASE IF EXISTS \"{Database}\" WITH (FORCE)");
                    break;
                }
                catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.InsufficientPrivilege && attempt < 40)
                {
                    // An autovacuum worker (another role) is at work on the tables just written; it ends soon.
                    await Task.Delay(250, CancellationToken.None);
                }
            }
        }

        await using var connection = await ConnectionMultiplexer.ConnectAsync(_redis);
        foreach (var key in connection.GetServers()[0].Keys(pattern: Prefix + "*"))
        {
            await connection.GetDatabase().KeyDeleteAsync(key);
        }
    }
}
