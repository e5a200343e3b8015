using Dapper;
using Npgsql;
using PyAirtable.Contracts.Events;

namespace PyAirtable.IntegrationTests.Infrastructure;

/// <summary>The events a service wrote to the outbox for one aggregate, decoded, oldest first.</summary>
public static class OutboxEvents
{
    public static async Task<List<TEvent>> OfAsync<TEvent>(string connectionString, string aggregateId)
        where TEvent : IDomainEvent
    {
        await using var connection = new NpgsqlConnection(connectionString);
        var payloads = await connection.QueryAsync<byte[]>(
            "SELECT payload FROM platform.outbox WHERE aggregate_id = @aggregateId AND event_type = @type ORDER BY id",
            new { aggregateId, type = EventTypes.NameOf<TEvent>() });
        return payloads.Select(p => ProtoBuf.Serializer.Deserialize<TEvent>((ReadOnlyMemory<byte>)p)).ToList();
    }
}
