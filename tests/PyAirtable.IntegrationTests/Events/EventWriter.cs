using Dapper;
using Npgsql;
using PyAirtable.IntegrationTests.Diagnostics;
using PyAirtable.IntegrationTests.Infrastructure;
using PyAirtable.Services.Infrastructure.Events;

namespace PyAirtable.IntegrationTests.Events;

/// <summary>Writes test events straight into the outbox, as a service's transaction would, and reads back what consumers did.</summary>
internal sealed class EventWriter(string connectionString)
{
    private static readonly EventOrigin Origin = new("/pyairtable.testing.v1.EventWriter", "", "");

    /// <summary>Writes <paramref name="count"/> events spread over <paramref name="aggregates"/> aggregates, by several writers at once.</summary>
    public async Task WriteAsync(int count, int aggregates, int writers, int perTransaction = 10)
    {
        var next = -1;
        await Task.WhenAll(Enumerable.Range(0, writers).Select(async _ =>
        {
            await using var connection = new NpgsqlConnection(connectionString);
            await connection.OpenAsync();
            while (true)
            {
                var first = Interlocked.Add(ref next, perTransaction) - perTransaction + 1;
                if (first >= count)
                {
                    return;
                }

                await using var tx = await connection.BeginTransactionAsync();
                // A transaction that writes events of several aggregates locks them in the order it writes them: in one
                // order for all (here by name), or two such transactions can deadlock (PostgreSQL then aborts one).
                var batch = Enumerable.Range(first, Math.Min(count, first + perTransaction) - first)
                    .Select(i => new ItemCreated { ItemId = i, Name = "n" + i, Aggregate = "agg-" + (i % aggregates) })
                    .OrderBy(e => e.Aggregate, StringComparer.Ordinal);
                foreach (var item in batch)
                {
                    await Outbox.EnqueueAsync(tx, item, Origin, default);
                }

                await tx.CommitAsync();
            }
        }));
    }

    public async Task<long> ScalarAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        return await connection.ExecuteScalarAsync<long>(sql);
    }

    public async Task WaitForReceivedAsync(int count, int seconds = 60) =>
        await Eventually.TrueAsync(async () => await ScalarAsync("SELECT count(*) FROM testing.received_events") >= count,
            $"{count} events are handled", TimeSpan.FromSeconds(seconds));

    public async Task<List<Received>> ReceivedAsync()
    {
        await using var connection = new NpgsqlConnection(connectionString);
        return (await connection.QueryAsync<Received>(
            """
            SELECT event_id AS EventId, sequence AS Sequence, aggregate AS Aggregate, host_name AS HostName, attempt AS Attempt
              FROM testing.received_events ORDER BY received_order
            """)).AsList();
    }

    public sealed record Received(Guid EventId, long Sequence, string Aggregate, string HostName, int Attempt);
}
