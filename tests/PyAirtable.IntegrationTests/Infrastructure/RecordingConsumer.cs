using Dapper;
using Npgsql;
using PyAirtable.IntegrationTests.Diagnostics;
using PyAirtable.Services.Infrastructure.Events;

namespace PyAirtable.IntegrationTests.Infrastructure;

/// <summary>
/// A test consumer of <see cref="ItemCreated"/>: writes each event it handles into testing.received_events in one
/// transaction with the consumer's record of handled events (so a redelivery changes nothing), and can be told to fail.
/// </summary>
public sealed class RecordingConsumer : IEventConsumer<ItemCreated>
{
    public const string Name = "testing.recorder";
    private readonly Lock _gate = new();
    private int _duplicates;

    public string HostName { get; set; } = "host";

    public string ConnectionString { get; set; } = "";

    /// <summary>Deliveries of these stream positions throw this many times before succeeding (int.MaxValue: always).</summary>
    public Dictionary<long, int> FailuresBySequence { get; } = [];

    /// <summary>Redeliveries absorbed by the record of handled events.</summary>
    public int Duplicates => Volatile.Read(ref _duplicates);

    /// <summary>Every envelope handled, in order (with the data decoded).</summary>
    public List<(PyAirtable.Contracts.Events.EventEnvelope Envelope, ItemCreated Data)> Handled { get; } = [];

    public async Task HandleAsync(ItemCreated domainEvent, EventContext context, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (FailuresBySequence.TryGetValue(context.Envelope.Sequence, out var remaining) && remaining > 0)
            {
                FailuresBySequence[context.Envelope.Sequence] = remaining == int.MaxValue ? remaining : remaining - 1;
                throw new InvalidOperationException($"simulated consumer failure for {context.Envelope.Sequence}");
            }
        }

        await using var connection = new NpgsqlConnection(ConnectionString);
        await connection.OpenAsync(cancellationToken);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken);
        if (!await context.FirstDeliveryAsync(tx, cancellationToken))
        {
            Interlocked.Increment(ref _duplicates);
            return;
        }

        await connection.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO testing.received_events (event_id, sequence, event_type, host_name, aggregate, attempt)
            VALUES (@id, @seq, @type, @host, @aggregate, @attempt)
            """,
            new
            {
                id = Guid.Parse(context.Envelope.Id), seq = context.Envelope.Sequence, type = context.Envelope.Type, host = HostName,
                aggregate = context.Envelope.Subject, attempt = context.Attempt,
            }, tx, cancellationToken: cancellationToken));
        await tx.CommitAsync(cancellationToken);
        lock (_gate)
        {
            Handled.Add((context.Envelope, domainEvent));
        }
    }
}
