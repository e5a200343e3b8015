using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using PyAirtable.Services.Infrastructure.SharedState;
using StackExchange.Redis;

namespace PyAirtable.Services.Notifications;

/// <summary>
/// Wakes the streams open on this host when their users' feeds grew, wherever the notification was written: one Redis
/// pub/sub subscription per host (<c>{InstanceName}notifications</c>, a message = the user ids), fanned out in memory to
/// the streams of those users. A stream holds no thread, connection or subscription of its own while it waits: only a
/// registration here. A signal carries no data — the stream reads its feed from PostgreSQL by offset — so a lost message
/// costs at most <see cref="NotificationOptions.PollInterval"/>, never a notification. Without Redis it signals locally.
/// </summary>
public sealed partial class FeedSignals(IServiceProvider services, IOptions<RedisOptions> redisOptions, ILogger<FeedSignals> logger)
    : IHostedService
{
    private readonly Dictionary<Guid, HashSet<Waiter>> _waiters = [];
    private readonly RedisChannel _channel = RedisChannel.Literal(redisOptions.Value.InstanceName + "notifications");
    private IConnectionMultiplexer? _redis;

    /// <summary>Streams open on this host.</summary>
    public int OpenStreams
    {
        get
        {
            lock (_waiters)
            {
                return _waiters.Values.Sum(w => w.Count);
            }
        }
    }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        _redis = services.GetService<IConnectionMultiplexer>();
        if (_redis is null)
        {
            return;
        }

        try
        {
            await _redis.GetSubscriber().SubscribeAsync(_channel, (_, message) => Wake(Parse(message)));
        }
        catch (RedisException ex)
        {
            LogNoSubscription(logger, ex.Message);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Registers a stream of <paramref name="user"/>; register before reading the feed so no signal falls in between.</summary>
    public Waiter Register(Guid user)
    {
        var waiter = new Waiter(this, user);
        lock (_waiters)
        {
            if (!_waiters.TryGetValue(user, out var set))
            {
                _waiters[user] = set = [];
            }

            set.Add(waiter);
        }

        return waiter;
    }

    /// <summary>Tells every host that these users' feeds grew (after the commit that grew them).</summary>
    public async Task PublishAsync(IReadOnlyCollection<Guid> users)
    {
        Wake(users);
        if (_redis is null || users.Count == 0)
        {
            return;
        }

        try
        {
            await _redis.GetSubscriber().PublishAsync(_channel, string.Join(',', users), CommandFlags.FireAndForget);
        }
        catch (RedisException ex)
        {
            LogPublishFailed(logger, ex.Message); // the other hosts' streams find it at their next poll
        }
    }

    private void Wake(IEnumerable<Guid> users)
    {
        lock (_waiters)
        {
            foreach (var user in users)
            {
                if (_waiters.TryGetValue(user, out var set))
                {
                    foreach (var waiter in set)
                    {
                        waiter.Signal();
                    }
                }
            }
        }
    }

    private static List<Guid> Parse(RedisValue message) =>
        ((string?)message ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries)
            .Select(s => Guid.TryParse(s, CultureInfo.InvariantCulture, out var id) ? id : Guid.Empty).Where(id => id != Guid.Empty).ToList();

    private void Remove(Waiter waiter)
    {
        lock (_waiters)
        {
            if (_waiters.TryGetValue(waiter.User, out var set) && set.Remove(waiter) && set.Count == 0)
            {
                _waiters.Remove(waiter.User);
            }
        }
    }

    /// <summary>One stream's registration: a signal that at most one wake-up is pending.</summary>
    public sealed class Waiter(FeedSignals owner, Guid user) : IDisposable
    {
        private readonly SemaphoreSlim _signal = new(0, 1);

        public Guid User { get; } = user;

        internal void Signal()
        {
            try
            {
                _signal.Release();
            }
            catch (SemaphoreFullException)
            {
                // one pending wake-up is enough: the stream reads everything new
            }
            catch (ObjectDisposedException)
            {
                // the stream ended meanwhile
            }
        }

        /// <summary>True when woken, false when <paramref name="timeout"/> passed.</summary>
        public Task<bool> WaitAsync(TimeSpan timeout, CancellationToken ct) => _signal.WaitAsync(timeout, ct);

        public void Dispose()
        {
            owner.Remove(this);
            _signal.Dispose();
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Notification streams poll PostgreSQL only (no Redis subscription): {Reason}")]
    private static partial void LogNoSubscription(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Notification signal not published (other hosts' streams poll): {Reason}")]
    private static partial void LogPublishFailed(ILogger logger, string reason);
}
