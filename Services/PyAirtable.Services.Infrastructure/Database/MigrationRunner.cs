using System.Text.RegularExpressions;
using Dapper;
using DbUp;
using DbUp.Engine.Output;
using DbUp.Postgresql;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace PyAirtable.Services.Infrastructure.Database;

/// <summary>
/// Runs every registered <see cref="MigrationSet"/> with DbUp, each journalled in its own schema
/// (<c>&lt;schema&gt;.schema_versions</c>). A PostgreSQL advisory lock makes it safe for several
/// hosts to start at once: one migrates, the others wait and then find nothing to do.
/// </summary>
public sealed partial class MigrationRunner(NpgsqlDataSource dataSource, IEnumerable<MigrationSet> sets, ILogger<MigrationRunner> logger)
{
    // An arbitrary application-wide key ("pyairtable migrations"); advisory locks are per database.
    private const long MigrationLockKey = 0x5079_4169_7254_0001;

    public async Task RunAsync(CancellationToken cancellationToken = default)
    {
        var ordered = sets.GroupBy(s => s.Schema).Select(g => g.First()).ToList();
        foreach (var set in ordered)
        {
            if (!SchemaName().IsMatch(set.Schema))
            {
                throw new InvalidOperationException($"Schema name '{set.Schema}' must be lower_snake_case.");
            }
        }

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        // No command timeout: another host may hold the lock for as long as its migrations take.
        await connection.ExecuteAsync(new CommandDefinition("SELECT pg_advisory_lock(@key)", new { key = MigrationLockKey }, commandTimeout: 0, cancellationToken: cancellationToken));
        try
        {
            foreach (var set in ordered)
            {
                // The schema name is checked against a strict pattern above; identifiers cannot be parameters.
                await connection.ExecuteAsync(new CommandDefinition($"CREATE SCHEMA IF NOT EXISTS \"{set.Schema}\"", cancellationToken: cancellationToken));
                Upgrade(set);
            }
        }
        finally
        {
            await connection.ExecuteAsync(new CommandDefinition("SELECT pg_advisory_unlock(@key)", new { key = MigrationLockKey }, cancellationToken: CancellationToken.None));
        }
    }

    private void Upgrade(MigrationSet set)
    {
        var upgrader = DeployChanges.To
            .PostgresqlDatabase(new PostgresqlConnectionManager(dataSource))
            .WithScriptsEmbeddedInAssembly(set.Assembly, name => name.StartsWith(set.ResourcePrefix, StringComparison.Ordinal))
            .JournalToPostgresqlTable(set.Schema, "schema_versions")
            .WithTransactionPerScript()
            .WithVariablesDisabled()
            .LogTo(new UpgradeLog(logger))
            .Build();

        var result = upgrader.PerformUpgrade();
        if (!result.Successful)
        {
            throw new InvalidOperationException(
                $"Migration '{result.ErrorScript?.Name}' of schema '{set.Schema}' failed: {result.Error?.Message}", result.Error);
        }

        foreach (var script in result.Scripts)
        {
            LogApplied(logger, set.Schema, script.Name);
        }
    }

    [GeneratedRegex("^[a-z_][a-z0-9_]{0,62}$")]
    private static partial Regex SchemaName();

    [LoggerMessage(Level = LogLevel.Information, Message = "Applied migration {Script} to schema {Schema}")]
    private static partial void LogApplied(ILogger logger, string schema, string script);

    /// <summary>DbUp's chatter goes to debug; its errors surface through the result above.</summary>
#pragma warning disable CA2254 // DbUp hands us its own format strings.
    private sealed class UpgradeLog(ILogger logger) : IUpgradeLog
    {
        public void LogTrace(string format, params object[] args) { }
        public void LogDebug(string format, params object[] args) { }
        public void LogInformation(string format, params object[] args) => logger.LogDebug(format, args);
        public void LogWarning(string format, params object[] args) => logger.LogWarning(format, args);
        public void LogError(string format, params object[] args) => logger.LogDebug(format, args);
        public void LogError(Exception ex, string format, params object[] args) => logger.LogDebug(ex, format, args);
    }
#pragma warning restore CA2254
}
