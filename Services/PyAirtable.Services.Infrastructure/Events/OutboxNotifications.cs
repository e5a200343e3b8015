using System.Threading.Channels;
using Dapper;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace PyAirtable.Services.Infrastructure.Events;

/// <summary>
/// Wakes the relay when an outbox write commits: <see cref="Outbox.EnqueueAsync{TEvent}"/> notifies the channel
/// <see cref="Channel"/> in the writer's transaction (PostgreSQL delivers it at commit, once per transaction), and this host
/// keeps one connection listening on it. So an idle relay waits for work instead of polling PostgreSQL every few
/// milliseconds, and still relays an event as soon as it commits.
/// </summary>
/// <remarks>
/// While the listening connection is down (PostgreSQL restarting, the connection killed), <see cref="Listening"/> is false
/// and the relay looks every <c>Events:RelayInterval</c> as it did before; once listening again it is woken once, for what
/// committed meanwhile. The connection is held from the data source's pool for the host's lifetime.
/// </remarks>
public sealed partial class OutboxNotifications(NpgsqlDataSource db, TimeProvider time, ILogger<OutboxNotifications> logger)
{
    /// <summary>The PostgreSQL notification channel outbox writers notify.</summary>
    public const string Channel = "pyairtable_outbox";

    private static readonly TimeSpan RetryDelay = TimeSpan.FromSeconds(1);

    // One pending wake-up is enough: the relay reads everything committed when it wakes.
    private readonly Channel<bool> _wake = System.Threading.Channels.Channel.CreateBounded<bool>(
        new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });

    private volatile bool _listening;

    /// <summary>True while this host receives the notifications (the relay may then wait for them).</summary>
    public bool Listening => _listening;

    /// <summary>Forgets wake-ups already received: the round about to start reads what they announced.</summary>
    public void Reset()
    {
        while (_wake.Reader.TryRead(out _))
        {
        }
    }

    /// <summary>Waits until an outbox write commits (or one committed since <see cref="Reset"/>), at most <paramref name="timeout"/>.</summary>
    public async Task WaitAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(timeout);
        try
        {
            await _wake.Reader.WaitToReadAsync(limit.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            // timed out: look anyway
        }
    }

    /// <summary>Listens until <paramref name="stoppingToken"/> fires, reconnecting after a failure.</summary>
    public async Task RunAsync(CancellationToken stoppingToken)
    {
        var lost = false;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await using var connection = await db.OpenConnectionAsync(stoppingToken);
                connection.Notification += (_, _) => _wake.Writer.TryWrite(true);
                await connection.ExecuteAsync(new CommandDefinition($"LISTEN {Channel}", cancellationToken: stoppingToken));
                _listening = true;
                _wake.Writer.TryWrite(true); // whatever committed while nobody listened
                if (lost)
                {
                    LogListening(logger);
                    lost = false;
                }

                while (true)
                {
                    await connection.WaitAsync(stoppingToken);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is NpgsqlException or TimeoutException or System.Net.Sockets.SocketException
                                           or InvalidOperationException or ObjectDisposedException)
            {
                _listening = false;
                if (!lost)
                {
                    LogLost(logger, ex.GetType().Name, ex.Message);
                    lost = true;
                }
            }

            try
            {
                await Task.Delay(RetryDelay, time, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "Outbox notifications lost ({Kind}: {Reason}); the relay polls every Events:RelayInterval until they are back")]
    private static partial void LogLost(ILogger logger, string kind, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Outbox notifications back: the relay waits for them again")]
    private static partial void LogListening(ILogger logger);
}
