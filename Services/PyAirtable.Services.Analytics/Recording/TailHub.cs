using System.Threading.Channels;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using ProtoBuf;
using PyAirtable.Contracts.Analytics;
using PyAirtable.Services.Infrastructure.SharedState;
using StackExchange.Redis;

namespace PyAirtable.Services.Analytics.Recording;

/// <summary>
/// Carries written calls to live tails on every host: each written batch is published once on the Redis channel
/// <c>{InstanceName}analytics:tail</c> (protobuf <see cref="TailMetricsResponse"/>), and every host that has tails
/// subscribes and hands each call to its matching tails. Without Redis (single-instance mode) batches go straight to
/// this host's tails. Pub/sub is at most once: a call published while Redis is down reaches no tail (it is still stored).
/// <para>
/// A batch is converted and published only when some host listens (<c>PUBSUB NUMSUB</c>, asked after the batch is written):
/// most of the time nobody tails, and every served call would otherwise pay for its message. A tail that started before the
/// question is counted, so it still gets every call written after it started.
/// </para>
/// </summary>
public sealed partial class TailHub : IAsyncDisposable
{
    /// <summary>Calls a tail may fall behind by before the oldest are skipped.</summary>
    public const int TailCapacity = 10_000;

    private readonly IConnectionMultiplexer? _redis;
    private readonly RedisSharedState? _shared; // its breaker: while it is open, nobody could be reached anyway
    private readonly string _channelName;
    private readonly RedisChannel _channel;
    private readonly ILogger<TailHub> _logger;

    /// <summary>
    /// How long a batch waits to learn whether anyone tails (<c>Redis:OperationTimeout</c>): a hung Redis must not hold up
    /// the writer for long, but a healthy one on a host whose CPUs are saturated may take far more than a millisecond to
    /// answer, and a "no" that was only slow drops the batch for every tail. The same cap as every other Redis operation.
    /// </summary>
    private readonly TimeSpan _listenerQuestionTimeout;

    private readonly Lock _gate = new();
    private readonly List<Subscriber> _subscribers = [];
    private Task? _subscribed;
    private long _lastWarning;

    public TailHub(IServiceProvider services, IOptions<RedisOptions> redisOptions, ILogger<TailHub> logger)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(redisOptions);
        _redis = services.GetService<IConnectionMultiplexer>();
        _shared = services.GetService<ISharedState>() as RedisSharedState;
        _channelName = redisOptions.Value.InstanceName + "analytics:tail";
        _channel = RedisChannel.Literal(_channelName);
        _logger = logger;
        _listenerQuestionTimeout = redisOptions.Value.OperationTimeout;
    }

    /// <summary>Tails open on this host.</summary>
    internal int SubscriberCount
    {
        get
        {
            lock (_gate)
            {
                return _subscribers.Count;
            }
        }
    }

    /// <summary>Sends calls just written to the tails of every host.</summary>
    internal async Task PublishAsync(IReadOnlyList<CallRow> calls)
    {
        if (calls.Count == 0)
        {
            return;
        }

        if (_redis is null)
        {
            if (SubscriberCount > 0)
            {
                Deliver([.. calls.Select(c => c.ToContract())]);
            }

            return;
        }

        if (!await AnyoneListensAsync())
        {
            return;
        }

        using var buffer = new MemoryStream();
        Serializer.Serialize(buffer, new TailMetricsResponse { Metrics = [.. calls.Select(c => c.ToContract())] });
        try
        {
            // Fire and forget: a hung Redis must not hold up the writer (and so fill the buffer).
            await _redis.GetSubscriber().PublishAsync(_channel, buffer.ToArray(), CommandFlags.FireAndForget);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            WarnOnce(ex);
        }
    }

    /// <summary>Whether any host subscribes to the tail channel now; false when Redis cannot say so within its operation timeout.</summary>
    private async Task<bool> AnyoneListensAsync()
    {
        if (_shared?.IsFailingFast == true)
        {
            return false;
        }

        try
        {
            var reply = await _redis!.GetDatabase().ExecuteAsync("PUBSUB", "NUMSUB", _channelName).WaitAsync(_listenerQuestionTimeout);
            // [channel, subscribers]
            return reply.Resp2Type == ResultType.Array && (RedisResult[])reply! is [_, var count] && (long)count > 0;
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            WarnOnce(ex);
            return false;
        }
    }

    /// <summary>
    /// A tail of this host: the calls that pass <paramref name="filter"/> until it is disposed. It counts as started
    /// once this host listens on Redis: calls written after this returns reach it.
    /// </summary>
    internal async Task<Subscriber> SubscribeAsync(Func<ApiMetrics, bool> filter)
    {
        if (_redis is not null)
        {
            Task subscribed;
            lock (_gate)
            {
                if (_subscribed is { IsFaulted: true } or { IsCanceled: true })
                {
                    _subscribed = null; // Redis was down when the last tail started: try again
                }

                subscribed = _subscribed ??= _redis.GetSubscriber().SubscribeAsync(_channel, (_, message) => OnMessage(message));
            }

            await subscribed;
        }

        var subscriber = new Subscriber(this, filter);
        lock (_gate)
        {
            _subscribers.Add(subscriber);
        }

        return subscriber;
    }

    public async ValueTask DisposeAsync()
    {
        if (_redis is not null && _subscribed is not null)
        {
            try
            {
                await _redis.GetSubscriber().UnsubscribeAsync(_channel);
            }
            catch (Exception ex) when (ex is RedisException or TimeoutException)
            {
                // going away anyway
            }
        }
    }

    private void OnMessage(RedisValue message)
    {
        TailMetricsResponse batch;
        try
        {
            batch = Serializer.Deserialize<TailMetricsResponse>((ReadOnlyMemory<byte>)message);
        }
        catch (ProtoException ex)
        {
            WarnOnce(ex);
            return;
        }

        Deliver(batch.Metrics);
    }

    private void Deliver(IReadOnlyList<ApiMetrics> metrics)
    {
        Subscriber[] subscribers;
        lock (_gate)
        {
            if (_subscribers.Count == 0)
            {
                return;
            }

            subscribers = [.. _subscribers];
        }

        foreach (var subscriber in subscribers)
        {
            foreach (var metric in metrics)
            {
                subscriber.Offer(metric);
            }
        }
    }

    private void Remove(Subscriber subscriber)
    {
        lock (_gate)
        {
            _subscribers.Remove(subscriber);
        }
    }

    private void WarnOnce(Exception ex)
    {
        var now = Environment.TickCount64;
        var last = Interlocked.Read(ref _lastWarning);
        if (now - last > 10_000 && Interlocked.CompareExchange(ref _lastWarning, now, last) == last)
        {
            LogPublishFailed(_logger, ex);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Analytics live tail: a batch did not reach other hosts' tails (Redis); the calls are stored")]
    private static partial void LogPublishFailed(ILogger logger, Exception exception);

    /// <summary>One tail: a bounded queue of matching calls that drops the oldest when the reader lags.</summary>
    internal sealed class Subscriber : IDisposable
    {
        private readonly TailHub _hub;
        private readonly Func<ApiMetrics, bool> _filter;
        private long _skipped;

        public Subscriber(TailHub hub, Func<ApiMetrics, bool> filter)
        {
            _hub = hub;
            _filter = filter;
            Queue = Channel.CreateBounded<ApiMetrics>(
                new BoundedChannelOptions(TailCapacity) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true },
                _ => Interlocked.Increment(ref _skipped));
        }

        public Channel<ApiMetrics> Queue { get; }

        /// <summary>Calls skipped since the last time this was read.</summary>
        public long TakeSkipped() => Interlocked.Exchange(ref _skipped, 0);

        public void Offer(ApiMetrics metric)
        {
            if (_filter(metric))
            {
                Queue.Writer.TryWrite(metric);
            }
        }

        public void Dispose()
        {
            _hub.Remove(this);
            Queue.Writer.TryComplete();
        }
    }
}
