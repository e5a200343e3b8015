using Dapper;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using PyAirtable.Services.Infrastructure;
using PyAirtable.Services.Infrastructure.Database;
using PyAirtable.IntegrationTests.Infrastructure;

namespace PyAirtable.IntegrationTests.Data;

public sealed class MigrationTests : DatabasePerTest
{

    private static MigrationSet[] Sets =>
    [
        new("platform", typeof(ServiceCollectionExtensions).Assembly, "PyAirtable.Services.Infrastructure.Migrations."),
        new("concurrency", typeof(MigrationTests).Assembly, "PyAirtable.IntegrationTests.ConcurrencyMigrations."),
    ];

    [Fact]
    public async Task RunAsync_TwoHostsAtOnce_EachScriptRunsOnce()
    {
        // Two data sources: two hosts with pools of their own.
        await using var first = NpgsqlDataSource.Create(Database.ConnectionString);
        await using var second = NpgsqlDataSource.Create(Database.ConnectionString);
        var runners = new[] { first, second }.Select(ds => new MigrationRunner(ds, Sets, NullLogger<MigrationRunner>.Instance));

        await Task.WhenAll(runners.Select(r => r.RunAsync()));

        await using var connection = await first.OpenConnectionAsync();
        var counter = (await connection.QueryAsync<int>("SELECT n FROM concurrency.counter ORDER BY n")).ToArray();
        Assert.Equal(new[] { 1, 2 }, counter);
        Assert.Equal(2, await connection.ExecuteScalarAsync<long>("SELECT count(*) FROM concurrency.schema_versions"));
        var platformScripts = typeof(ServiceCollectionExtensions).Assembly.GetManifestResourceNames()
            .Count(n => n.StartsWith("PyAirtable.Services.Infrastructure.Migrations.", StringComparison.Ordinal));
        Assert.Equal(platformScripts, await connection.ExecuteScalarAsync<long>("SELECT count(*) FROM platform.schema_versions"));
    }

    [Fact]
    public async Task RunAsync_Again_IsANoOp()
    {
        await using var dataSource = NpgsqlDataSource.Create(Database.ConnectionString);
        var runner = new MigrationRunner(dataSource, Sets, NullLogger<MigrationRunner>.Instance);

        await runner.RunAsync();
        await runner.RunAsync();

        await using var connection = await dataSource.OpenConnectionAsync();
        Assert.Equal(2, await connection.ExecuteScalarAsync<long>("SELECT count(*) FROM concurrency.counter"));
    }

    [Fact]
    public async Task RunAsync_FailingScript_ReportsScriptAndLeavesNothingHalfApplied()
    {
        await using var dataSource = NpgsqlDataSource.Create(Database.ConnectionString);
        await using (var setup = await dataSource.OpenConnectionAsync())
        {
            // The first script will collide with this table.
            await setup.ExecuteAsync("CREATE SCHEMA concurrency; CREATE TABLE concurrency.counter (n integer)");
        }

        var runner = new MigrationRunner(dataSource, Sets, NullLogger<MigrationRunner>.Instance);

        var ex = await Assert.ThrowsAsync<InvalidOperationException>(() => runner.RunAsync());

        Assert.Contains("0001_counter.sql", ex.Message, StringComparison.Ordinal);
        await using var connection = await dataSource.OpenConnectionAsync();
        Assert.Equal(0, await connection.ExecuteScalarAsync<long>("SELECT count(*) FROM concurrency.counter"));
        // The journal entry rolled back with the script (the journal table itself too, as it was created in that transaction).
        Assert.Null(await connection.ExecuteScalarAsync<string?>("SELECT to_regclass('concurrency.schema_versions')::text"));
    }
}
