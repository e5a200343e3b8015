using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using PyAirtable.Services.Analytics.Stores;

namespace PyAirtable.Services.Analytics.Recording;

/// <summary>
/// Writes buffered calls to analytics.calls in batches (binary COPY): when <c>Analytics:BatchSize</c> calls wait or the
/// oldest has waited <c>Analytics:FlushInterval</c>. Each written batch goes to the live tails. On shutdown (after the
/// server stopped taking calls) whatever is left is written. A batch PostgreSQL refuses is tried three times, then
/// dropped and counted (reason <c>write_failed</c>): the buffer must keep draining for requests never to wait.
/// </summary>
internal sealed partial class CallWriter(
    CallBuffer buffer, NpgsqlDataSource dataSource, TailHub tails, IOptions<AnalyticsOptions> options, ILogger<CallWriter> logger)
    : BackgroundService
{
    private const int Attempts = 3;
    private static readonly TimeSpan ShutdownFlushTimeout = TimeSpan.FromSeconds(10);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var settings = options.Value;
        var batch = new List<CallRow>(settings.BatchSize);
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                if (!await buffer.Reader.WaitToReadAsync(stoppingToken))
                {
                    break;
                }

                await buffer.WaitForBatchAsync(settings.FlushInterval, stoppingToken);
                await DrainAsync(batch, settings.BatchSize, stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // shutting down: flush below
        }

        using var flush = new CancellationTokenSource(ShutdownFlushTimeout);
        try
        {
            await DrainAsync(batch, settings.BatchSize, flush.Token);
        }
        catch (OperationCanceledException)
        {
            LogShutdownFlushTimedOut(logger, buffer.Reader.Count);
        }
    }

    /// <summary>Writes everything waiting now, a batch at a time.</summary>
    private async Task DrainAsync(List<CallRow> batch, int batchSize, CancellationToken ct)
    {
        while (true)
        {
            batch.Clear();
            while (batch.Count < batchSize && buffer.Reader.TryRead(out var row))
            {
                batch.Add(row);
            }

            if (batch.Count == 0)
            {
                return;
            }

            await WriteAsync(batch, ct);
            if (batch.Count < batchSize)
            {
                return;
            }
        }
    }

    /// <summary>Writes one batch and hands it to the tails.</summary>
    internal async Task WriteAsync(IReadOnlyList<CallRow> batch, CancellationToken ct)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await using (var db = await AnalyticsSession.OpenAsync(dataSource, ct))
                {
                    await db.Calls.InsertAsync(batch, ct);
                }

                break;
            }
            catch (Exception ex) when (ex is NpgsqlException or TimeoutException && !ct.IsCancellationRequested)
            {
                if (attempt == Attempts)
                {
                    buffer.CountDropped(batch.Count, "write_failed");
                    LogWriteFailed(logger, ex, batch.Count);
                    return;
                }

                await Task.Delay(TimeSpan.FromMilliseconds(200 * attempt), ct);
            }
        }

        await tails.PublishAsync(batch);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Analytics: {Calls} recorded calls could not be written to PostgreSQL and were dropped")]
    private static partial void LogWriteFailed(ILogger logger, Exception exception, int calls);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Analytics: shutdown flush timed out with {Calls} calls unwritten")]
    private static partial void LogShutdownFlushTimedOut(ILogger logger, int calls);
}
