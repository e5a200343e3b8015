using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Npgsql;
using PyAirtable.Services.Infrastructure.SharedState;

namespace PyAirtable.UnitTests;

/// <summary>
/// The change feed when things go wrong: the staleness bound, rebuilds that fail, a log Redis lost, appends and resets
/// that do not reach Redis, and the feed running (or not) as a hosted service.
/// </summary>
public sealed class ChangeFeedRecoveryTests
{
    private sealed class Follower : IChangeFollower
    {
        public List<string> Applied { get; } = [];

        public int Resets { get; private set; }

        public List<bool> CurrentDuringReset { get; } = [];

        public ChangeFeed? Feed { get; set; }

        public Exception? FailNextReset { get; set; }

        public char Kind => 'x';

        public void Apply(string item) => Applied.Add(item);

        public Task ResetAsync(CancellationToken cancellationToken)
        {
            CurrentDuringReset.Add(Feed!.IsCurrent);
            if (FailNextReset is { } failure)
            {
                FailNextReset = null;
                throw failure;
            }

            Resets++;
            return Task.CompletedTask;
        }
    }

    /// <summary>The in-memory shared state, with Redis's failures switched on at will.</summary>
    private sealed class FlakyState(ISharedState inner) : ISharedState
    {
        public bool FailAppends { get; set; }

        public bool FailReads { get; set; }

        public bool FailResets { get; set; }

        /// <summary>The log's items gone while its numbers remain (e.g. the log key evicted).</summary>
        public bool DropItems { get; set; }

        private static SharedStateUnavailableException Down() => new("Redis is unavailable (test).");

        public Task<(long Count, TimeSpan Remaining)> IncrementAsync(string key, TimeSpan window) => inner.IncrementAsync(key, window);

        public Task DecrementAsync(string key) => inner.DecrementAsync(key);

        public Task<(long Count, TimeSpan Remaining)> GetCounterAsync(string key) => inner.GetCounterAsync(key);

        public Task SetFlagAsync(string key, TimeSpan ttl) => inner.SetFlagAsync(key, ttl);

        public Task<bool[]> ExistAsync(string[] keys, CancellationToken cancellationToken = default) => inner.ExistAsync(keys, cancellationToken);

        public Task SetTextAsync(string key, string value) => inner.SetTextAsync(key, value);

        public Task<bool> SetIfGuardAsync(string key, string value, string guardKey, string guardValue) =>
            inner.SetIfGuardAsync(key, value, guardKey, guardValue);

        public Task DeleteAsync(string key) => inner.DeleteAsync(key);

        public Task<VersionedEntry?> GetVersionedAsync(string key) => inner.GetVersionedAsync(key);

        public Task<bool> SetVersionedIfNewerAsync(string key, VersionedEntry entry, TimeSpan ttl) => inner.SetVersionedIfNewerAsync(key, entry, ttl);

        public Task AppendChangesAsync(IReadOnlyList<string> items) => FailAppends ? throw Down() : inner.AppendChangesAsync(items);

        public async Task<ChangeBatch> ReadChangesAsync(long after, int max, string newEpoch, CancellationToken cancellationToken = default)
        {
            if (FailReads)
            {
                throw Down();
            }

            var batch = await inner.ReadChangesAsync(after, max, newEpoch, cancellationToken);
            return DropItems ? batch with { Items = [] } : batch;
        }

        public Task ResetChangesAsync(string newEpoch) => FailResets ? throw Down() : inner.ResetChangesAsync(newEpoch);
    }

    private sealed class ListLogger<T> : ILogger<T>
    {
        public List<(LogLevel Level, string Message)> Entries { get; } = [];

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            Entries.Add((logLevel, formatter(state, exception)));
    }

    private static (ChangeFeed Feed, Follower Follower) Host(
        ISharedState state, TimeProvider time, ChangeFeedOptions? options = null, ILogger<ChangeFeed>? logger = null)
    {
        var follower = new Follower();
        var services = new ServiceCollection().AddSingleton<IChangeFollower>(follower).BuildServiceProvider();
        var feed = new ChangeFeed(state, services, Options.Create(options ?? new ChangeFeedOptions()), time, logger ?? NullLogger<ChangeFeed>.Instance);
        follower.Feed = feed;
        return (feed, follower);
    }

    [Fact]
    public async Task IsCurrent_UntilTheBoundHasPassedSinceTheLastRead_AndAgainAfterTheNextRead()
    {
        var time = new FakeTimeProvider();
        var (feed, _) = Host(new MemorySharedState(time), time);
        var bound = new ChangeFeedOptions().Bound;

        await feed.PollAsync(CancellationToken.None);
        time.Advance(bound);
        Assert.True(feed.IsCurrent); // the bound's last instant
        Assert.Equal(bound, feed.Age);

        time.Advance(TimeSpan.FromTicks(1));
        Assert.False(feed.IsCurrent);

        await feed.PollAsync(CancellationToken.None); // nothing new: an ordinary read proves the host current again
        Assert.True(feed.IsCurrent);
    }

    [Fact]
    public async Task DuringARebuild_TheMirrorsDoNotAnswer()
    {
        var state = new MemorySharedState(TimeProvider.System);
        var (feed, follower) = Host(state, TimeProvider.System);
        await feed.PollAsync(CancellationToken.None);
        Assert.True(feed.IsCurrent);

        await state.ResetChangesAsync("another");
        await feed.PollAsync(CancellationToken.None);
        Assert.Equal([false, false], follower.CurrentDuringReset);
        Assert.True(feed.IsCurrent);
    }

    [Fact]
    public async Task ARebuildThatFailed_IsDoneAgainOnTheNextRead()
    {
        var state = new MemorySharedState(TimeProvider.System);
        var (feed, follower) = Host(state, TimeProvider.System);
        await feed.PollAsync(CancellationToken.None);

        await state.ResetChangesAsync("another");
        follower.FailNextReset = new NpgsqlException("PostgreSQL is down (test)");
        await feed.PollAsync(CancellationToken.None); // the failure is an outage, not a crash
        Assert.False(feed.IsCurrent);
        Assert.Equal(1, follower.Resets);

        await feed.PollAsync(CancellationToken.None); // same epoch, no new items: still a rebuild
        Assert.Equal(2, follower.Resets);
        Assert.True(feed.IsCurrent);
    }

    [Fact]
    public async Task AFailureThatIsNotAnOutage_IsNotSwallowed()
    {
        var (feed, follower) = Host(new MemorySharedState(TimeProvider.System), TimeProvider.System);
        follower.FailNextReset = new InvalidOperationException("a bug in a follower");
        await Assert.ThrowsAsync<InvalidOperationException>(() => feed.PollAsync(CancellationToken.None));
    }

    [Fact]
    public async Task EmptyItems_AreSkipped()
    {
        var state = new MemorySharedState(TimeProvider.System);
        var (feed, follower) = Host(state, TimeProvider.System);
        await feed.PollAsync(CancellationToken.None);
        await state.AppendChangesAsync(["", "x1"]);
        await feed.PollAsync(CancellationToken.None);
        Assert.Equal(["1"], follower.Applied);
        Assert.True(feed.IsCurrent);
    }

    [Fact]
    public async Task ALogWhoseItemsAreGoneWhileItsNumbersAdvanced_Rebuilds()
    {
        var state = new FlakyState(new MemorySharedState(TimeProvider.System));
        var (feed, follower) = Host(state, TimeProvider.System);
        await feed.PollAsync(CancellationToken.None);

        await state.AppendChangesAsync(["x1", "x2"]);
        state.DropItems = true;
        await feed.PollAsync(CancellationToken.None);
        Assert.Equal(2, follower.Resets);
        Assert.Empty(follower.Applied);
    }

    [Fact]
    public async Task PublishedItems_ReachEveryOtherHost()
    {
        var state = new MemorySharedState(TimeProvider.System);
        var (writer, _) = Host(state, TimeProvider.System);
        var (reader, readerFollower) = Host(state, TimeProvider.System);
        await reader.PollAsync(CancellationToken.None);

        await writer.PublishAsync('x', "1", "2");
        await reader.PollAsync(CancellationToken.None);
        Assert.Equal(["1", "2"], readerFollower.Applied);
        await Assert.ThrowsAsync<ArgumentNullException>(() => writer.PublishAsync('x', null!));
    }

    [Fact]
    public async Task AnAppendThatDidNotReachRedis_MakesEveryHostRebuild_OnceRedisAnswers()
    {
        var state = new FlakyState(new MemorySharedState(TimeProvider.System));
        var (writer, writerFollower) = Host(state, TimeProvider.System);
        var (reader, readerFollower) = Host(state, TimeProvider.System);
        await writer.PollAsync(CancellationToken.None);
        await reader.PollAsync(CancellationToken.None);

        state.FailAppends = true;
        await writer.PublishAsync('x', "lost"); // does not throw: the change is committed, only its notice is lost
        Assert.Equal(["lost"], writerFollower.Applied);

        state.FailAppends = false;
        state.FailResets = true; // Redis still refuses the new epoch: asked again on the next read
        await writer.PollAsync(CancellationToken.None);
        state.FailResets = false;
        await writer.PollAsync(CancellationToken.None);

        await reader.PollAsync(CancellationToken.None);
        Assert.Equal(2, readerFollower.Resets); // the reader never saw "lost": it rebuilds from the record
        Assert.Equal(2, writerFollower.Resets);
    }

    [Fact]
    public async Task AnOutage_IsLoggedOnce_AndTheRecoveryOnce()
    {
        var logger = new ListLogger<ChangeFeed>();
        var state = new FlakyState(new MemorySharedState(TimeProvider.System));
        var (feed, _) = Host(state, TimeProvider.System, logger: logger);
        await feed.PollAsync(CancellationToken.None);
        var rebuilt = Assert.Single(logger.Entries);
        Assert.Equal(LogLevel.Information, rebuilt.Level);
        Assert.Contains("mirrors rebuilt", rebuilt.Message, StringComparison.Ordinal);
        var before = logger.Entries.Count;

        state.FailReads = true;
        await feed.PollAsync(CancellationToken.None);
        await feed.PollAsync(CancellationToken.None);
        state.FailReads = false;
        await feed.PollAsync(CancellationToken.None);
        await feed.PollAsync(CancellationToken.None);

        var entries = logger.Entries.Skip(before).ToList();
        Assert.Equal(2, entries.Count);
        Assert.Equal(LogLevel.Warning, entries[0].Level);
        Assert.Contains("cannot be read", entries[0].Message, StringComparison.Ordinal);
        Assert.Equal((LogLevel.Information, "Change feed read again"), entries[1]);
    }

    [Fact]
    public async Task AnAppendThatDidNotReachRedis_IsLoggedAsAWarning()
    {
        var logger = new ListLogger<ChangeFeed>();
        var state = new FlakyState(new MemorySharedState(TimeProvider.System)) { FailAppends = true };
        var (feed, _) = Host(state, TimeProvider.System, logger: logger);
        await feed.PublishAsync('x', "1", "2");
        var (level, message) = Assert.Single(logger.Entries);
        Assert.Equal(LogLevel.Warning, level);
        Assert.Contains("2 change(s) of kind 'x'", message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AsAHostedService_TheFeedIsFollowedByDefault()
    {
        var state = new MemorySharedState(TimeProvider.System);
        var (feed, follower) = Host(state, TimeProvider.System);
        await feed.StartAsync(CancellationToken.None);
        try
        {
            for (var i = 0; i < 500 && !feed.IsCurrent; i++)
            {
                await Task.Delay(20); // the first read (a rebuild)
            }

            await state.AppendChangesAsync(["x1"]);
            for (var i = 0; i < 500 && !follower.Applied.Contains("1"); i++)
            {
                await Task.Delay(20);
            }

            Assert.Contains("1", follower.Applied);
        }
        finally
        {
            await feed.StopAsync(CancellationToken.None);
        }
    }

    [Fact]
    public async Task Disabled_TheFeedIsNeverRead()
    {
        var (feed, follower) = Host(new MemorySharedState(TimeProvider.System), TimeProvider.System, new ChangeFeedOptions { Enabled = false });
        await feed.StartAsync(CancellationToken.None);
        await feed.ExecuteTask!.WaitAsync(TimeSpan.FromSeconds(10)); // done at once: no polling loop
        Assert.Equal(0, follower.Resets);
        Assert.False(feed.IsCurrent);
        await feed.StopAsync(CancellationToken.None);
    }
}
