using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using PyAirtable.Contracts.Events;
using PyAirtable.Contracts.Webhooks;
using PyAirtable.Services.Infrastructure.Events;
using PyAirtable.Services.Webhooks.Stores;

namespace PyAirtable.Services.Webhooks.Outbound;

/// <summary>
/// Recording outcomes: attempts that ended while a transaction was being written wait for the next one, so under load
/// many outcomes share one transaction (two statements for all of them, one more for the endpoints that succeeded)
/// instead of a transaction of four statements each. An attempt keeps its concurrency slot until its outcome is
/// committed, so what is sent never runs far ahead of what is recorded; an outcome that is not recorded (PostgreSQL
/// away, the host killed) leaves its lease to expire and the delivery is sent again, under the same webhook-id.
/// </summary>
public sealed partial class DeliveryWorker
{
    private const int MaxRecordBatch = 256;

    private readonly Channel<Recording> _records = Channel.CreateUnbounded<Recording>(new UnboundedChannelOptions { SingleReader = true });

    private sealed record Recording(ClaimedDelivery Delivery, Outcome Outcome, TaskCompletionSource Done);

    /// <summary>Hands the outcome to the recording loop and waits until it is committed.</summary>
    private Task RecordAsync(ClaimedDelivery delivery, Guid token, AttemptRow attempt)
    {
        var made = delivery.Attempts + 1;
        var giveUp = made >= _schedule.Count;
        var outcome = attempt.Succeeded
            ? new Outcome(delivery.Id, token, attempt, DeliveryStatus.Succeeded, null)
            : new Outcome(delivery.Id, token, attempt, giveUp ? DeliveryStatus.Failed : DeliveryStatus.Pending,
                giveUp ? null : DateTime.UtcNow + _schedule[made]);
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!_records.Writer.TryWrite(new Recording(delivery, outcome, done)))
        {
            done.SetException(new InvalidOperationException("the worker is stopping"));
        }

        return done.Task;
    }

    private async Task RecordLoopAsync()
    {
        var batch = new List<Recording>(MaxRecordBatch);
        while (await _records.Reader.WaitToReadAsync(CancellationToken.None))
        {
            batch.Clear();
            while (batch.Count < MaxRecordBatch && _records.Reader.TryRead(out var recording))
            {
                batch.Add(recording);
            }

            try
            {
                await RecordBatchAsync(batch, CancellationToken.None);
                batch.ForEach(r => r.Done.TrySetResult());
            }
            catch (Exception ex)
            {
                batch.ForEach(r => r.Done.TrySetException(ex));
            }
        }
    }

    private async Task RecordBatchAsync(List<Recording> batch, CancellationToken ct)
    {
        var settings = options.Value;
        await using var db = await WebhookSession.BeginAsync(dataSource, ct);
        await db.Deliveries.RecordManyAsync(batch.Select(r => r.Outcome).ToList(), ct);
        var healthy = batch.Where(r => r.Outcome.Attempt.Succeeded).Select(r => r.Delivery.WebhookId).Distinct().ToArray();
        if (healthy.Length > 0)
        {
            await db.Endpoints.MarkHealthyAsync(healthy, ct);
        }

        foreach (var (delivery, outcome, _) in batch.Where(r => !r.Outcome.Attempt.Succeeded))
        {
            var attempt = outcome.Attempt;
            var endpoint = await db.Endpoints.MarkFailingAsync(delivery.WebhookId, attempt.AttemptedAt, ct);
            if (endpoint.Enabled && endpoint.FailingSince is { } since && attempt.AttemptedAt - since >= settings.DisableAfter)
            {
                var reason = $"every attempt failed since {since:u}; the last: {attempt.Error}";
                if (await db.Endpoints.DisableAsync(endpoint.Id, reason, ct))
                {
                    await Outbox.EnqueueAsync(db.WriteTransaction, new WebhookDisabled
                    {
                        WebhookId = endpoint.Id.ToString(), WorkspaceId = endpoint.WorkspaceId.ToString(),
                        BaseId = endpoint.BaseId?.ToString() ?? "", Url = endpoint.Url, Reason = reason, FailingSince = since,
                    }, Origin, ct);
                    LogDisabled(logger, endpoint.Id, since);
                }
            }
        }

        // Webhooks of a deleted workspace or base go once their last delivery finished (migration 0002).
        var finished = batch.Where(r => r.Outcome.Status != DeliveryStatus.Pending).Select(r => r.Delivery.WebhookId).Distinct().ToArray();
        if (finished.Length > 0)
        {
            await db.Endpoints.DeleteRetiredAsync(finished, ct);
        }

        await db.CommitAsync(ct);
    }
}
