using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;

namespace PyAirtable.Services.Infrastructure.SharedState;

/// <summary>Settings of the <see cref="ChangeFeed"/> (section <c>ChangeFeed</c>).</summary>
public sealed class ChangeFeedOptions
{
    public const string Section = "ChangeFeed";

    /// <summary>Off: no in-process mirror or cache is used, every check asks Redis or PostgreSQL as before.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>How often each host reads the feed (one Redis round trip): the usual delay before a change reaches it.</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromMilliseconds(20);

    /// <summary>
    /// The staleness bound: the in-process mirrors answer only while the last read that found the host up to date started
    /// within it. Past it (Redis slow, hung or gone, a host too loaded to poll) callers ask Redis or PostgreSQL instead.
    /// </summary>
    public TimeSpan Bound { get; set; } = TimeSpan.FromMilliseconds(100);
}

/// <summary>
/// One kind of item on the <see cref="ChangeFeed"/>: an in-process mirror or cache of durable state that the feed keeps current.
/// </summary>
public interface IChangeFollower
{
    /// <summary>The item's kind, its first character: <c>r</c> revocations, <c>p</c> permissions, <c>u</c> user profiles.</summary>
    char Kind { get; }

    /// <summary>Applies one item (without its kind). Items may arrive twice (the writer's host applies its own at once): idempotent.</summary>
    void Apply(string item);

    /// <summary>The feed lost continuity (first start, Redis restarted or flushed, items trimmed, a publish lost): rebuild from the record.</summary>
    Task ResetAsync(CancellationToken cancellationToken);
}

/// <summary>
/// Keeps each host's in-process mirrors (revocations, permission decisions, profiles) current without a network round
/// trip per call. Writers append small items to a numbered log in Redis after their PostgreSQL commit; every host reads
/// the log every <see cref="ChangeFeedOptions.PollInterval"/> and applies what is new. Numbers and an epoch make a gap
/// visible: a log that was trimmed past this host's position, or a feed that Redis lost, resets every follower, which
/// rebuilds from PostgreSQL. <see cref="IsCurrent"/> says whether the last read that found the host up to date started
/// within <see cref="ChangeFeedOptions.Bound"/>; followers answer from memory only then, so a change reaches every host
/// within the bound or that host stops trusting its mirror (and asks Redis/PostgreSQL, failing closed if neither answers).
/// A writer whose append fails (Redis unreachable from it) asks for a new epoch as soon as Redis answers again, so every
/// host rebuilds rather than miss the change.
/// </summary>
public sealed partial class ChangeFeed(
    ISharedState state, IServiceProvider services, IOptions<ChangeFeedOptions> options, TimeProvider time, ILogger<ChangeFeed> logger)
    : BackgroundService
{
    /// <summary>Items Redis keeps: far more than a host falls behind in one poll; a host further behind rebuilds.</summary>
    public const int Retained = 10_000;

    private const int MaxBatch = 1_000;

    private readonly ChangeFeedOptions _options = options.Value;
    private Dictionary<char, IChangeFollower>? _followers;
    private string? _epoch;
    private long _last;
    private bool _mustReset = true;
    private int _resetRequested;
    private long _provenAt; // TimeProvider timestamp of the start of the last read that found this host current; 0 = never
    private bool _failing;

    /// <summary>True while the in-process mirrors may answer: the host was proven current less than the bound ago.</summary>
    public bool IsCurrent
    {
        get
        {
            var provenAt = Volatile.Read(ref _provenAt);
            return provenAt != 0 && time.GetElapsedTime(provenAt) <= _options.Bound;
        }
    }

    /// <summary>How long ago this host was last proven current (null: never), for health and metrics.</summary>
    public TimeSpan? Age => Volatile.Read(ref _provenAt) is var at && at != 0 ? time.GetElapsedTime(at) : null;

    /// <summary>
    /// Publishes items of one kind after the change they describe committed: applied on this host at once, then appended for
    /// the others. Never throws for Redis: a lost append makes every host rebuild once Redis answers.
    /// </summary>
    public async Task PublishAsync(char kind, params string[] items)
    {
        ArgumentNullException.ThrowIfNull(items);
        if (Followers.TryGetValue(kind, out var follower))
        {
            foreach (var item in items)
            {
                follower.Apply(item);
            }
        }

        try
        {
            await state.AppendChangesAsync(items.Select(i => kind + i).ToArray());
        }
        catch (SharedStateUnavailableException ex)
        {
            Volatile.Write(ref _resetRequested, 1);
            LogAppendFailed(logger, items.Length, kind, ex.Message);
        }
    }

    /// <summary>Asks every host to rebuild its mirrors from PostgreSQL (after a change that reached the record but not the feed).</summary>
    public void RequestReset() => Volatile.Write(ref _resetRequested, 1);

    private Dictionary<char, IChangeFollower> Followers =>
        _followers ??= services.GetServices<IChangeFollower>().ToDictionary(f => f.Kind);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!_options.Enabled)
        {
            return;
        }

        using var timer = new PeriodicTimer(_options.PollInterval, time);
        try
        {
            do
            {
                await PollAsync(stoppingToken);
            }
            while (await timer.WaitForNextTickAsync(stoppingToken));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // stopping
        }
    }

    /// <summary>One read (more while a backlog remains): applies new items, or resets every follower on a gap.</summary>
    internal async Task PollAsync(CancellationToken cancellationToken)
    {
        try
        {
            if (Interlocked.Exchange(ref _resetRequested, 0) == 1)
            {
                try
                {
                    await state.ResetChangesAsync(Guid.NewGuid().ToString("N"));
                }
                catch
                {
                    Volatile.Write(ref _resetRequested, 1);
                    throw;
                }
            }

            while (true)
            {
                var started = time.GetTimestamp();
                var batch = await state.ReadChangesAsync(_last, MaxBatch, Guid.NewGuid().ToString("N"), cancellationToken);
                var continuous = !_mustReset && batch.Epoch == _epoch && batch.Last >= _last
                    && (batch.Last == _last || (batch.Items.Count > 0 && batch.Items[0].Sequence == _last + 1));
                if (!continuous)
                {
                    // Position first, then the record: whatever committed before the rebuild is in PostgreSQL, the rest follows here.
                    Volatile.Write(ref _provenAt, 0);
                    _mustReset = true;
                    _epoch = batch.Epoch;
                    _last = batch.Last;
                    foreach (var follower in Followers.Values)
                    {
                        await follower.ResetAsync(cancellationToken);
                    }

                    _mustReset = false;
                    Volatile.Write(ref _provenAt, started);
                    LogReset(logger, batch.Epoch, batch.Last);
                    continue; // items appended during the rebuild
                }

                foreach (var (sequence, item) in batch.Items)
                {
                    if (item.Length > 0 && Followers.TryGetValue(item[0], out var follower))
                    {
                        follower.Apply(item[1..]);
                    }

                    _last = sequence;
                }

                if (_last >= batch.Last)
                {
                    Volatile.Write(ref _provenAt, started);
                    break;
                }
            }

            if (_failing)
            {
                _failing = false;
                LogRecovered(logger);
            }
        }
        catch (Exception ex) when (ex is SharedStateUnavailableException or NpgsqlException or TimeoutException && !cancellationToken.IsCancellationRequested)
        {
            if (!_failing)
            {
                _failing = true;
                LogFailing(logger, ex.GetType().Name, ex.Message);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "{Count} change(s) of kind '{Kind}' committed but not appended to the change feed ({Error}); every host rebuilds when Redis answers")]
    private static partial void LogAppendFailed(ILogger logger, int count, char kind, string error);

    [LoggerMessage(Level = LogLevel.Information, Message = "Change feed followed from epoch {Epoch} at {Last}: in-process mirrors rebuilt")]
    private static partial void LogReset(ILogger logger, string epoch, long last);

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "Change feed cannot be read ({Kind}: {Error}); in-process mirrors stop answering past the bound, checks ask Redis/PostgreSQL")]
    private static partial void LogFailing(ILogger logger, string kind, string error);

    [LoggerMessage(Level = LogLevel.Information, Message = "Change feed read again")]
    private static partial void LogRecovered(ILogger logger);
}
