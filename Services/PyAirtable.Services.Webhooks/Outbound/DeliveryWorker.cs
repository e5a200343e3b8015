using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using PyAirtable.Contracts.Events;
using PyAirtable.Contracts.Webhooks;
using PyAirtable.Services.Infrastructure.Events;
using PyAirtable.Services.Webhooks.Stores;

namespace PyAirtable.Services.Webhooks.Outbound;

/// <summary>
/// Sends due deliveries. Every host that serves the Webhook service runs one; they share the queue in PostgreSQL: a
/// worker leases rows (<see cref="DeliveryStore.ClaimAsync"/>), makes the attempts side by side (up to
/// <see cref="WebhookOptions.MaxConcurrency"/>), then records each outcome and either finishes the row or schedules its
/// next attempt. A host killed mid-attempt leaves its lease, which expires: another host then sends the same row again
/// (same webhook-id and body) — at least once. An endpoint failing without a success for
/// <see cref="WebhookOptions.DisableAfter"/> is disabled in the transaction that writes <see cref="WebhookDisabled"/>.
/// </summary>
public sealed partial class DeliveryWorker(
    NpgsqlDataSource dataSource, GuardedHttp http, WebhookSecrets secrets, IOptions<WebhookOptions> options, TimeProvider clock,
    ILogger<DeliveryWorker> logger) : BackgroundService
{
    private static readonly EventOrigin Origin = new("/" + typeof(IWebhookService).GetCustomAttributes(typeof(ProtoBuf.Grpc.Configuration.ServiceAttribute), false)
        .Cast<ProtoBuf.Grpc.Configuration.ServiceAttribute>().Single().Name, "", "");

    private static readonly TimeSpan PurgeInterval = TimeSpan.FromMinutes(10);
    private readonly SemaphoreSlim _wake = new(0, 1);
    private readonly IReadOnlyList<TimeSpan> _schedule = options.Value.ParsedSchedule();
    private int _inFlight;

    /// <summary>New deliveries were queued on this host: look now rather than at the next poll.</summary>
    public void Wake()
    {
        try
        {
            if (_wake.CurrentCount == 0)
            {
                _wake.Release();
            }
        }
        catch (SemaphoreFullException)
        {
            // already signalled
        }
    }

    public override void Dispose()
    {
        _wake.Dispose();
        base.Dispose();
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var settings = options.Value;
        if (!settings.WorkerEnabled)
        {
            return;
        }

        var running = new List<Task>();
        var recorder = Task.Run(RecordLoopAsync, CancellationToken.None);
        var nextPurge = DateTime.UtcNow;
        while (!stoppingToken.IsCancellationRequested)
        {
            var claimed = 0;
            try
            {
                var free = settings.MaxConcurrency - Volatile.Read(ref _inFlight);
                if (free > 0)
                {
                    var token = Guid.NewGuid();
                    List<ClaimedDelivery> batch;
                    await using (var db = await WebhookSession.OpenAsync(dataSource, stoppingToken))
                    {
                        batch = await db.Deliveries.ClaimAsync(free, settings.LeaseDuration, token, stoppingToken);
                    }

                    claimed = batch.Count;
                    foreach (var delivery in batch)
                    {
                        Interlocked.Increment(ref _inFlight);
                        running.Add(Task.Run(() => AttemptAsync(delivery, token, stoppingToken), CancellationToken.None));
                    }
                }

                running.RemoveAll(t => t.IsCompleted);
                if (DateTime.UtcNow >= nextPurge)
                {
                    nextPurge = DateTime.UtcNow + PurgeInterval;
                    await using var db = await WebhookSession.OpenAsync(dataSource, stoppingToken);
                    await db.Deliveries.PurgeAsync(DateTime.UtcNow - settings.DeliveryRetention, stoppingToken);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                // PostgreSQL away, a pool exhausted…: keep the worker (and the host) alive and look again after the poll.
                LogQueueUnavailable(logger, $"{ex.GetType().Name}: {ex.Message}");
                claimed = 0;
            }

            if (claimed == 0 || Volatile.Read(ref _inFlight) >= settings.MaxConcurrency)
            {
                try
                {
                    await _wake.WaitAsync(settings.PollInterval, stoppingToken);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
        }

        await Task.WhenAll(running);
        _records.Writer.TryComplete();
        await recorder;
    }

    /// <summary>One attempt of one leased delivery, and its record.</summary>
    private async Task AttemptAsync(ClaimedDelivery delivery, Guid token, CancellationToken stoppingToken)
    {
        try
        {
            var attempt = await SendAsync(delivery, stoppingToken);
            if (attempt is null)
            {
                // Stopping: hand the lease back so another host sends it at once.
                await using var db = await WebhookSession.OpenAsync(dataSource, CancellationToken.None);
                await db.Deliveries.ReleaseAsync(delivery.Id, token, CancellationToken.None);
                return;
            }

            await RecordAsync(delivery, token, attempt);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
        {
            // Not recorded (PostgreSQL away, a secret that does not decrypt…): the lease expires and the delivery is tried again.
            LogRecordFailed(logger, delivery.MessageId, $"{ex.GetType().Name}: {ex.Message}");
        }
        finally
        {
            Interlocked.Decrement(ref _inFlight);
            Wake();
        }
    }

    /// <summary>The POST; null when the host is stopping before it ended.</summary>
    private async Task<AttemptRow?> SendAsync(ClaimedDelivery delivery, CancellationToken stoppingToken)
    {
        var settings = options.Value;
        var started = clock.GetUtcNow();
        var timestamp = started.ToUnixTimeSeconds();
        var signature = WebhookSecrets.Sign(await secrets.DecryptAsync(delivery.Secret, stoppingToken), delivery.MessageId, timestamp, delivery.Body);
        if (delivery.PreviousSecret is { } previous && delivery.PreviousSecretExpiresAt > started.UtcDateTime)
        {
            signature += " " + WebhookSecrets.Sign(await secrets.DecryptAsync(previous, stoppingToken), delivery.MessageId, timestamp, delivery.Body);
        }

        using var request = new HttpRequestMessage(HttpMethod.Post, delivery.Url)
        {
            Content = new StringContent(delivery.Body, Encoding.UTF8, new MediaTypeHeaderValue("application/json")),
        };
        request.Headers.TryAddWithoutValidation("webhook-id", delivery.MessageId);
        request.Headers.TryAddWithoutValidation("webhook-timestamp", timestamp.ToString(CultureInfo.InvariantCulture));
        request.Headers.TryAddWithoutValidation("webhook-signature", signature);
        request.Headers.UserAgent.ParseAdd("PyAirtable-Webhooks/1.0");
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        timeout.CancelAfter(settings.Timeout);
        var stopwatch = Stopwatch.StartNew();
        int status = 0;
        string error;
        try
        {
            using var response = await http.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
            status = (int)response.StatusCode;
            error = status is >= 200 and < 300 ? "" : $"HTTP {status}";
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            return null;
        }
        catch (OperationCanceledException)
        {
            error = $"timed out after {settings.Timeout.TotalSeconds:0.###} s";
        }
        catch (HttpRequestException ex)
        {
            error = Describe(ex);
        }

        var row = new AttemptRow
        {
            AttemptedAt = started.UtcDateTime, StatusCode = status, LatencyMs = (int)Math.Min(int.MaxValue, stopwatch.ElapsedMilliseconds),
            Succeeded = error.Length == 0, Error = error.Length > 500 ? error[..500] : error,
        };
        LogAttempt(logger, delivery.MessageId, delivery.WebhookId, delivery.Attempts + 1, status, row.LatencyMs, error);
        return row;
    }

    private static string Describe(HttpRequestException ex)
    {
        for (Exception? e = ex; e is not null; e = e.InnerException)
        {
            if (e is AddressRefusedException refused)
            {
                return refused.Message;
            }
        }

        return ex.InnerException is { } inner ? $"{ex.Message} ({inner.Message})" : ex.Message;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Webhook delivery {MessageId} to {WebhookId}, attempt {Attempt}: status {Status} in {LatencyMs} ms {Error}")]
    private static partial void LogAttempt(ILogger logger, string messageId, Guid webhookId, int attempt, int status, int latencyMs, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Webhook {WebhookId} disabled: every attempt failed since {FailingSince}")]
    private static partial void LogDisabled(ILogger logger, Guid webhookId, DateTime failingSince);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Webhook deliveries: the queue is unavailable: {Reason}")]
    private static partial void LogQueueUnavailable(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Webhook delivery {MessageId}: the outcome was not recorded ({Reason}); it will be sent again")]
    private static partial void LogRecordFailed(ILogger logger, string messageId, string reason);
}
