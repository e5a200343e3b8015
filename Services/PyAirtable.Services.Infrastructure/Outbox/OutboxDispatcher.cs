using Dapper;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;

namespace PyAirtable.Services.Infrastructure.Outbox;

/// <summary>
/// Delivers outbox events to every <see cref="IOutboxHandler"/>, one event per transaction, in
/// outbox order. Only one host dispatches at a time (a PostgreSQL advisory lock), so order holds
/// across instances. A delivery that fails is retried with backoff and blocks the events behind it
/// (order first) until it has failed <see cref="OutboxOptions.MaxAttempts"/> times; then it is set
/// aside with <c>failed_at</c> and an error is logged.
/// </summary>
public sealed partial class OutboxDispatcher(
    NpgsqlDataSource dataSource,
    IEnumerable<IOutboxHandler> handlers,
    IOptions<OutboxOptions> options,
    TimeProvider time,
    ILogger<OutboxDispatcher> logger) : BackgroundService
{
    private const long DispatchLockKey = 0x5079_4169_7254_0003;
    private readonly IOutboxHandler[] _handlers = handlers.ToArray();

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var settings = options.Value;
        if (!settings.DispatcherEnabled)
        {
            LogDisabled(logger);
            return;
        }

        while (!stoppingToken.IsCancellationRequested)
        {
            var delivered = 0;
            try
            {
                delivered = await DispatchOnceAsync(stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is NpgsqlException or TimeoutException or System.Net.Sockets.SocketException)
            {
                // The database is down or the connection died: the events stay pending; try later.
                LogDatabaseUnavailable(logger, ex.Message);
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                // Anything else (a handler that broke the delivery connection, say) must not stop the
                // host: nothing was committed for the event in flight, so it is retried next round.
                LogRoundFailed(logger, ex);
            }

            if (delivered == 0)
            {
                try
                {
                    await Task.Delay(settings.PollInterval, time, stoppingToken);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    /// <summary>Delivers the events that are due now; returns how many were delivered.</summary>
    public async Task<int> DispatchOnceAsync(CancellationToken cancellationToken)
    {
        var settings = options.Value;
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var locked = await connection.ExecuteScalarAsync<bool>(new CommandDefinition(
            "SELECT pg_try_advisory_lock(@key)", new { key = DispatchLockKey }, cancellationToken: cancellationToken));
        if (!locked)
        {
            return 0; // another host is dispatching
        }

        try
        {
            var batch = (await connection.QueryAsync<OutboxRow>(new CommandDefinition(
                """
                SELECT id, event_id, event_type, aggregate_type, aggregate_id, payload, request_id,
                       occurred_at, attempts, coalesce(next_attempt_at > now(), false) AS backing_off
                FROM platform.outbox
                WHERE dispatched_at IS NULL AND failed_at IS NULL
                ORDER BY id
                LIMIT @limit
                """,
                new { limit = settings.BatchSize }, cancellationToken: cancellationToken))).ToList();

            var delivered = 0;
            foreach (var row in batch)
            {
                if (row.backing_off)
                {
                    break; // the head is backing off; later events wait to keep order
                }

                var message = row.ToMessage();
                var failure = await TryDeliverAsync(connection, message, cancellationToken);
                if (failure is null)
                {
                    delivered++;
                    continue;
                }

                if (!await RecordFailureAsync(connection, message, failure, settings, cancellationToken))
                {
                    break; // will be retried: nothing behind it may overtake it
                }
            }

            return delivered;
        }
        finally
        {
            if (connection.FullState == System.Data.ConnectionState.Open)
            {
                await connection.ExecuteAsync(new CommandDefinition(
                    "SELECT pg_advisory_unlock(@key)", new { key = DispatchLockKey }, cancellationToken: CancellationToken.None));
            }
        }
    }

    /// <returns>Null when delivered and committed, else the handler's failure (rolled back).</returns>
    private async Task<Exception?> TryDeliverAsync(NpgsqlConnection connection, OutboxMessage message, CancellationToken cancellationToken)
    {
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        try
        {
            var delivery = new OutboxDelivery(connection, transaction);
            foreach (var handler in _handlers)
            {
                await handler.HandleAsync(message, delivery, cancellationToken);
            }

            // Guarded: if the event was dispatched meanwhile (a second dispatcher that got past the
            // lock, e.g. behind a transaction-pooling proxy), this delivery rolls back instead of doubling.
            var marked = await connection.ExecuteAsync(new CommandDefinition(
                "UPDATE platform.outbox SET dispatched_at = now(), attempts = attempts + 1, last_error = NULL WHERE id = @id AND dispatched_at IS NULL AND failed_at IS NULL",
                new { id = message.Sequence }, transaction, cancellationToken: cancellationToken));
            if (marked != 1)
            {
                await transaction.RollbackAsync(cancellationToken);
                return null;
            }

            await transaction.CommitAsync(cancellationToken);
            return null;
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            if (connection.FullState != System.Data.ConnectionState.Open)
            {
                throw; // the connection itself died: the whole round is over, nothing was committed
            }

            await transaction.RollbackAsync(CancellationToken.None);
            return ex;
        }
    }

    /// <returns>True when the event was set aside for good (later events may proceed).</returns>
    private async Task<bool> RecordFailureAsync(NpgsqlConnection connection, OutboxMessage message, Exception failure, OutboxOptions settings, CancellationToken cancellationToken)
    {
        var attempts = message.Attempts + 1;
        var error = $"{failure.GetType().Name}: {failure.Message}";
        if (error.Length > 2000)
        {
            error = error[..2000];
        }

        if (attempts >= settings.MaxAttempts)
        {
            await connection.ExecuteAsync(new CommandDefinition(
                "UPDATE platform.outbox SET attempts = @attempts, failed_at = now(), last_error = @error WHERE id = @id",
                new { id = message.Sequence, attempts, error }, cancellationToken: cancellationToken));
            LogGaveUp(logger, failure, message.EventType, message.EventId, message.Sequence, attempts);
            return true;
        }

        var delay = TimeSpan.FromTicks(Math.Min(settings.MaxRetryDelay.Ticks, settings.RetryDelay.Ticks * (1L << Math.Min(attempts - 1, 20))));
        await connection.ExecuteAsync(new CommandDefinition(
            "UPDATE platform.outbox SET attempts = @attempts, next_attempt_at = now() + @delay, last_error = @error WHERE id = @id",
            new { id = message.Sequence, attempts, delay, error }, cancellationToken: cancellationToken));
        LogRetrying(logger, message.EventType, message.EventId, attempts, delay, error);
        return false;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Outbox dispatcher disabled on this host (Outbox:DispatcherEnabled=false)")]
    private static partial void LogDisabled(ILogger logger);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Outbox dispatch paused: database unavailable ({Reason})")]
    private static partial void LogDatabaseUnavailable(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Outbox dispatch round failed; retrying")]
    private static partial void LogRoundFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Delivery of {EventType} {EventId} failed (attempt {Attempts}); retrying in {Delay}: {Error}")]
    private static partial void LogRetrying(ILogger logger, string eventType, Guid eventId, int attempts, TimeSpan delay, string error);

    [LoggerMessage(Level = LogLevel.Error, Message = "Gave up delivering {EventType} {EventId} (outbox id {Sequence}) after {Attempts} attempts; it is marked failed")]
    private static partial void LogGaveUp(ILogger logger, Exception? exception, string eventType, Guid eventId, long sequence, int attempts);

#pragma warning disable IDE1006, CA1707 // column-named members for Dapper materialization
    private sealed record OutboxRow(
        long id, Guid event_id, string event_type, string aggregate_type, string aggregate_id, byte[] payload,
        string? request_id, DateTime occurred_at, int attempts, bool backing_off)
    {
        public OutboxMessage ToMessage() =>
            new(id, event_id, event_type, aggregate_type, aggregate_id, payload, request_id, occurred_at, attempts);
    }
#pragma warning restore IDE1006, CA1707
}
