using System.Globalization;
using System.Threading.Channels;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using PyAirtable.Contracts.Permissions;
using PyAirtable.Services.Infrastructure.Contracts;
using PyAirtable.Services.Infrastructure.Identity;
using PyAirtable.Services.Infrastructure.SharedState;
using PyAirtable.Services.Notifications.Stores;
using StackExchange.Redis;
using CallContext = ProtoBuf.Grpc.CallContext;

namespace PyAirtable.Services.Notifications;

/// <summary>
/// The feeds of every stream open on this host, read for them together. A user whose feed grew is marked due — by the
/// host's one Redis pub/sub subscription (<c>{InstanceName}notifications</c>, a message = the user ids) wherever the
/// notification was written, or locally — and one loop (<c>FeedSignals.Dispatch.cs</c>) then reads the new rows of all
/// due users in one query, checks them in one permission batch and hands each stream its rows in memory. A stream holds
/// no thread, connection or subscription of its own: only a <see cref="Subscription"/> here. A signal carries no data, so
/// a lost message costs at most <see cref="NotificationOptions.PollInterval"/> (every open feed is read then), never a
/// notification. Without Redis it signals locally.
/// </summary>
public sealed partial class FeedSignals(
    IServiceProvider services, IOptions<RedisOptions> redisOptions, IOptions<NotificationOptions> options, NpgsqlDataSource dataSource,
    IPermissionService permissions, IConfiguration configuration, ILogger<FeedSignals> logger) : IHostedService, IDisposable
{
    /// <summary>Most rows read per user per read, and most rows a stream may have waiting before it gets more.</summary>
    internal const int ReadBatch = 200;

    private readonly Dictionary<Guid, HashSet<Subscription>> _streams = [];
    private readonly HashSet<Guid> _due = [];
    private readonly SemaphoreSlim _work = new(0, 1);
    private readonly CancellationTokenSource _stopping = new();
    private readonly RedisChannel _channel = RedisChannel.Literal(redisOptions.Value.InstanceName + "notifications");
    private IConnectionMultiplexer? _redis;
    private Task _loop = Task.CompletedTask;

    /// <summary>Streams open on this host.</summary>
    public int OpenStreams
    {
        get
        {
            lock (_streams)
            {
                return _streams.Values.Sum(w => w.Count);
            }
        }
    }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        _serviceToken = configuration.IsRemote<IPermissionService>() ? services.GetService<IServiceTokenIssuer>() : null;
        _checkPerStream = configuration.IsRemote<IPermissionService>() && _serviceToken is null;
        _loop = Task.Run(() => DispatchLoopAsync(_stopping.Token), CancellationToken.None);
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

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync();
        await _loop.WaitAsync(cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    public void Dispose()
    {
        _stopping.Dispose();
        _work.Dispose();
    }

    /// <summary>
    /// Registers a stream of <paramref name="user"/> that has delivered through <paramref name="cursor"/>: it is handed every
    /// visible row after it, in order (read after this call, so nothing committed after the caller's own read falls between).
    /// <paramref name="context"/> is the stream's call, for checks made with the user's own credentials when this host has
    /// no service identity for a remote Permission service.
    /// </summary>
    public Subscription Register(Guid user, long cursor, CallContext context)
    {
        var subscription = new Subscription(this, user, cursor, context);
        lock (_streams)
        {
            if (!_streams.TryGetValue(user, out var set))
            {
                _streams[user] = set = [];
            }

            set.Add(subscription);
        }

        Wake([user]);
        return subscription;
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
        var any = false;
        lock (_streams)
        {
            foreach (var user in users)
            {
                if (_streams.ContainsKey(user))
                {
                    _due.Add(user);
                    any = true;
                }
            }
        }

        if (any)
        {
            Signal();
        }
    }

    private void Signal()
    {
        try
        {
            _work.Release();
        }
        catch (SemaphoreFullException)
        {
            // the loop runs again anyway: it takes every due user at once
        }
        catch (ObjectDisposedException)
        {
            // stopped
        }
    }

    private static List<Guid> Parse(RedisValue message) =>
        ((string?)message ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries)
            .Select(s => Guid.TryParse(s, CultureInfo.InvariantCulture, out var id) ? id : Guid.Empty).Where(id => id != Guid.Empty).ToList();

    private void Remove(Subscription subscription)
    {
        lock (_streams)
        {
            if (_streams.TryGetValue(subscription.User, out var set) && set.Remove(subscription) && set.Count == 0)
            {
                _streams.Remove(subscription.User);
            }
        }
    }

    /// <summary>Rows read for one stream, with their verdicts (null: the stream checks them itself, with its own credentials).</summary>
    internal sealed record Batch(IReadOnlyList<InboxRow> Rows, bool[]? Visible);

    /// <summary>
    /// One stream's registration: the rows handed to it and not yet sent. <see cref="Through"/> (the last offset handed over)
    /// is advanced by the dispatch loop only; a stream with <see cref="ReadBatch"/> rows waiting gets no more until it has
    /// sent them, so a slow reader holds at most that many rows here, whatever it missed.
    /// </summary>
    public sealed class Subscription(FeedSignals owner, Guid user, long cursor, CallContext context) : IDisposable
    {
        private readonly Channel<Batch> _batches =
            Channel.CreateUnbounded<Batch>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        private int _waiting;

        public Guid User { get; } = user;

        internal CallContext Context { get; } = context;

        internal long Through { get; private set; } = cursor;

        /// <summary>Whether the loop may hand it more rows now.</summary>
        internal bool Ready => Volatile.Read(ref _waiting) < ReadBatch;

        internal void Hand(Batch batch)
        {
            Through = batch.Rows[^1].Offset;
            Interlocked.Add(ref _waiting, batch.Rows.Count);
            _batches.Writer.TryWrite(batch);
        }

        /// <summary>The next rows, or null when <paramref name="timeout"/> passed without any.</summary>
        internal async Task<Batch?> NextAsync(TimeSpan timeout, CancellationToken ct)
        {
            if (!_batches.Reader.TryRead(out var batch))
            {
                using var wait = CancellationTokenSource.CreateLinkedTokenSource(ct);
                wait.CancelAfter(timeout);
                try
                {
                    batch = await _batches.Reader.ReadAsync(wait.Token);
                }
                catch (OperationCanceledException) when (!ct.IsCancellationRequested)
                {
                    return null;
                }
            }

            return batch;
        }

        /// <summary>The stream sent a batch: when that made room after the loop held rows back, its user is due again.</summary>
        internal void Sent(int rows)
        {
            var before = Interlocked.Add(ref _waiting, -rows) + rows;
            if (before >= ReadBatch)
            {
                owner.Wake([User]);
            }
        }

        public void Dispose()
        {
            owner.Remove(this);
            _batches.Writer.TryComplete();
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Notification streams poll PostgreSQL only (no Redis subscription): {Reason}")]
    private static partial void LogNoSubscription(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Notification signal not published (other hosts' streams poll): {Reason}")]
    private static partial void LogPublishFailed(ILogger logger, string reason);
}
