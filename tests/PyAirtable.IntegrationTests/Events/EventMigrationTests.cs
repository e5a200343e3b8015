using Dapper;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using PyAirtable.Contracts.Events;
using PyAirtable.IntegrationTests.Infrastructure;
using PyAirtable.Services.Infrastructure.Database;

namespace PyAirtable.IntegrationTests.Events;

/// <summary>Upgrading a database written by the old in-process outbox dispatcher to the event stream.</summary>
public sealed class EventMigrationTests : DatabasePerTest
{
    private const string Prefix = "PyAirtable.Services.Infrastructure.Migrations.";

    [Fact]
    public async Task UpgradeFromTheDispatcher_KeepsOnlyWhatAConsumerStillNeeds_Typed()
    {
        await using var db = NpgsqlDataSource.Create(Database.ConnectionString);
        await MigrateAsync(db, Prefix + "0001");
        await MigrateAsync(db, Prefix + "0002");
        var userId = Guid.NewGuid();
        await using (var connection = await db.OpenConnectionAsync())
        {
            await connection.ExecuteAsync(
                """
                INSERT INTO platform.outbox (event_id, event_type, aggregate_type, aggregate_id, payload, dispatched_at)
                VALUES (gen_random_uuid(), 'user.registered', 'user', @other, '\x0a01'::bytea, now());
                INSERT INTO platform.outbox (event_id, event_type, aggregate_type, aggregate_id, payload, failed_at)
                VALUES (gen_random_uuid(), 'user.deactivated', 'user', @other, '\x0a01'::bytea, now());
                INSERT INTO platform.outbox (event_id, event_type, aggregate_type, aggregate_id, payload)
                VALUES (gen_random_uuid(), 'workspace.created', 'workspace', @other, '\x0a01'::bytea);
                INSERT INTO platform.outbox (event_id, event_type, aggregate_type, aggregate_id, payload)
                VALUES (gen_random_uuid(), 'user.deactivated', 'user', @user, '\x0a01'::bytea);
                """, new { user = userId.ToString(), other = Guid.NewGuid().ToString() });
        }

        await MigrateAsync(db, Prefix);

        await using var check = await db.OpenConnectionAsync();
        var left = (await check.QueryAsync<(string Type, byte[] Payload)>("SELECT event_type, payload FROM platform.outbox")).AsList();
        var (type, payload) = Assert.Single(left);
        Assert.Equal(EventTypes.NameOf<UserDeactivated>(), type);
        Assert.Equal(userId.ToString(), ProtoBuf.Serializer.Deserialize<UserDeactivated>((ReadOnlyMemory<byte>)payload).UserId);
    }

    private static Task MigrateAsync(NpgsqlDataSource db, string resourcePrefix) =>
        new MigrationRunner(db, [new MigrationSet("platform", typeof(MigrationRunner).Assembly, resourcePrefix)],
            NullLogger<MigrationRunner>.Instance).RunAsync();
}
