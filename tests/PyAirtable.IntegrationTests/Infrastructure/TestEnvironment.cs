using System.Net;
using System.Net.Sockets;
using Npgsql;

namespace PyAirtable.IntegrationTests.Infrastructure;

/// <summary>
/// The PostgreSQL and Redis that ./test.sh starts, found through environment variables. A missing
/// one fails the test that needs it: nothing is skipped.
/// </summary>
public static class TestEnvironment
{
    public static string PostgresAdmin => Required("PYAIRTABLE_TEST_POSTGRES");

    public static string Redis => Required("PYAIRTABLE_TEST_REDIS");

    /// <summary>The S3-compatible server (s3rver) that ./test.sh starts, e.g. <c>http://127.0.0.1:56390</c>.</summary>
    public static string S3 => Required("PYAIRTABLE_TEST_S3");

    /// <summary>The repository root (for scripts/ and the built host).</summary>
    public static string RepositoryRoot
    {
        get
        {
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "PyAirtable.sln")))
            {
                dir = dir.Parent;
            }

            return dir?.FullName ?? throw new InvalidOperationException("PyAirtable.sln not found above " + AppContext.BaseDirectory);
        }
    }

    // Ports are handed out from one counter below Linux's ephemeral range (32768+), so two tests
    // running in parallel never get the same one (asking the OS for port 0 and releasing it let a
    // parallel test take the same port before the host bound it).
    private static int _nextPort = 20_000 + Random.Shared.Next(0, 10_000);

    public static int FreeTcpPort()
    {
        while (true)
        {
            var port = Interlocked.Increment(ref _nextPort);
            if (port >= 32_000)
            {
                Interlocked.CompareExchange(ref _nextPort, 20_000, port);
                continue;
            }

            try
            {
                using var listener = new TcpListener(IPAddress.Loopback, port);
                listener.Start();
                return port;
            }
            catch (SocketException)
            {
                // taken by something else on the machine: try the next one
            }
        }
    }

    private static string Required(string name) =>
        Environment.GetEnvironmentVariable(name) is { Length: > 0 } value
            ? value
            : throw new InvalidOperationException($"{name} is not set: run the suite with ./test.sh, which starts PostgreSQL and Redis and sets it.");
}

/// <summary>A database of its own for one test class, dropped afterwards.</summary>
public sealed class TestDatabase : IAsyncDisposable
{
    private readonly string _adminConnectionString;

    private TestDatabase(string adminConnectionString, string name, string connectionString)
    {
        _adminConnectionString = adminConnectionString;
        Name = name;
        ConnectionString = connectionString;
    }

    public string Name { get; }

    public string ConnectionString { get; }

    public static async Task<TestDatabase> CreateAsync(string? adminConnectionString = null)
    {
        adminConnectionString ??= TestEnvironment.PostgresAdmin;
        var name = "test_" + Guid.NewGuid().ToString("N")[..16];
        await using (var connection = new NpgsqlConnection(adminConnectionString))
        {
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", connection);
            await command.ExecuteNonQueryAsync();
        }

        var builder = new NpgsqlConnectionStringBuilder(adminConnectionString) { Database = name, ApplicationName = "pyairtable-test" };
        return new TestDatabase(adminConnectionString, name, builder.ConnectionString);
    }

    public async ValueTask DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        await using var connection = new NpgsqlConnection(_adminConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{Name}\" WITH (FORCE)", connection);
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await command.ExecuteNonQueryAsync();
                return;
            }
            catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.InsufficientPrivilege && attempt < 20)
            {
                // FORCE may not end a process of another role working in the database (an autovacuum worker, seen
                // under load): it is gone in a moment, then the drop goes through.
                await Task.Delay(250);
            }
        }
    }
}

/// <summary>Base of test classes whose every test gets a fresh database (and starts hosts of its own).</summary>
public abstract class DatabasePerTest : IAsyncLifetime
{
    private TestDatabase? _database;

    protected TestDatabase Database => _database ?? throw new InvalidOperationException("not initialized");

    public virtual async Task InitializeAsync() => _database = await TestDatabase.CreateAsync();

    public virtual async Task DisposeAsync()
    {
        if (_database is not null)
        {
            await _database.DisposeAsync();
        }
    }
}
