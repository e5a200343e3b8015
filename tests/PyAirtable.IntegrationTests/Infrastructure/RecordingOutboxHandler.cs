using Dapper;
using PyAirtable.Services.Infrastructure.Outbox;

namespace PyAirtable.IntegrationTests.Infrastructure;

/// <summary>
/// A test subscriber: writes each delivery into testing.received_events through the delivery
/// transaction, and can be told to stall or fail on a given event to simulate crashes.
/// </summary>
public sealed class RecordingOutboxHandler : IOutboxHandler
{
    private readonly Lock _gate = new();

    public string HostName { get; set; } = "host";

    /// <summary>When set, the first delivery of this sequence stalls after recording, until released.</summary>
    public long? StallOnSequence { get; set; }

    public TaskCompletionSource<int> Stalled { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public TaskCompletionSource Release { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>The first delivery of this sequence closes the delivery connection and throws (a badly behaved handler).</summary>
    public long? BreakConnectionOnSequence { get; set; }

    /// <summary>Deliveries of these sequences throw this many times before succeeding.</summary>
    public Dictionary<long, int> FailuresBySequence { get; } = [];

    public async ValueTask HandleAsync(OutboxMessage message, OutboxDelivery delivery, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (FailuresBySequence.TryGetValue(message.Sequence, out var remaining) && remaining > 0)
            {
                FailuresBySequence[message.Sequence] = remaining - 1;
                throw new InvalidOperationException($"simulated handler failure for {message.Sequence}");
            }
        }

        if (BreakConnectionOnSequence == message.Sequence)
        {
            BreakConnectionOnSequence = null;
            await delivery.Connection.CloseAsync();
            throw new InvalidOperationException("handler broke its connection");
        }

        await delivery.Connection.ExecuteAsync(new CommandDefinition(
            "INSERT INTO testing.received_events (event_id, sequence, event_type, host_name) VALUES (@EventId, @Sequence, @EventType, @host)",
            new { message.EventId, message.Sequence, message.EventType, host = HostName },
            delivery.Transaction, cancellationToken: cancellationToken));

        if (StallOnSequence == message.Sequence && !Stalled.Task.IsCompleted)
        {
            // The effect is written but not committed: a crash now must not lose or double it.
            Stalled.TrySetResult(delivery.Connection.ProcessID);
            await Release.Task.ConfigureAwait(false);
        }
    }
}
