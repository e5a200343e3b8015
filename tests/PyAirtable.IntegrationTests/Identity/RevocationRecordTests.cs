using Dapper;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Npgsql;
using PyAirtable.IntegrationTests.Infrastructure;
using PyAirtable.Services.Infrastructure.Database;
using PyAirtable.Services.Infrastructure.SharedState;
using StackExchange.Redis;

namespace PyAirtable.IntegrationTests.Identity;

/// <summary>
/// The revocation list against a real PostgreSQL (its record) without a host: a revocation commits or rolls back with
/// the change that revokes, checks answer from the local copy, the shared state's mirror or PostgreSQL (whichever can be
/// trusted), the mirror is rebuilt and kept complete from the record, and the local copy is rebuilt from it too.
/// </summary>
public sealed class RevocationRecordTests : DatabasePerTest
{
    private const string Session = "revoked:session:s1";

    private NpgsqlDataSource? _db;
    private readonly List<ChangeFeed> _feeds = [];

    private readonly Warnings<RevocationList> _listWarnings = new();
    private readonly Warnings<RevocationMirror> _mirrorWarnings = new();

    private NpgsqlDataSource Db => _db!;

    /// <summary>Counts the warnings logged (what an operator sees of an outage).</summary>
    private sealed class Warnings<T> : ILogger<T>
    {
        private int _count;

        public int Count => Volatile.Read(ref _count);

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (logLevel == LogLevel.Warning)
            {
                Interlocked.Increment(ref _count);
            }
        }
    }

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        _db = NpgsqlDataSource.Create(Database.ConnectionString);
        await new MigrationRunner(_db, [new MigrationSet("platform", typeof(MigrationRunner).Assembly, "PyAirtable.Services.Infrastructure.Migrations.")],
            NullLogger<MigrationRunner>.Instance).RunAsync();
    }

    public override async Task DisposeAsync()
    {
        foreach (var feed in _feeds)
        {
            feed.Dispose();
        }

        if (_db is not null)
        {
            await _db.DisposeAsync();
        }

        await base.DisposeAsync();
    }

    private (RevocationList List, LocalRevocations Local) Create(ISharedState state, string? ttl = null)
    {
        LocalRevocations? local = null;
        // As in a host: the local copy follows the feed (resolved at the feed's first use, once it exists).
        var services = new ServiceCollection().AddSingleton<IChangeFollower>(_ => local!).BuildServiceProvider();
        var feed = new ChangeFeed(state, services, Options.Create(new ChangeFeedOptions()), TimeProvider.System, NullLogger<ChangeFeed>.Instance);
        _feeds.Add(feed);
        local = new LocalRevocations(feed, Db, TimeProvider.System);
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["Identity:RevocationTtl"] = ttl }).Build();
        return (new RevocationList(state, Db, configuration, _listWarnings, local, feed), local);
    }

    private RevocationMirror Mirror(RevocationList list, ISharedState state, TimeProvider? time = null, string? interval = null) =>
        new(list, state, Db, new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["Identity:RevocationSyncInterval"] = interval })
            .Build(), time ?? TimeProvider.System, _mirrorWarnings);

    private async Task RecordAsync(RevocationList list, params string[] keys)
    {
        await using var connection = await Db.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        await list.RecordAsync(transaction, keys, CancellationToken.None);
        await transaction.CommitAsync();
    }

    private async Task InsertAsync(string key, string revokedAgo, string expiresIn)
    {
        await using var connection = await Db.OpenConnectionAsync();
        await connection.ExecuteAsync(
            "INSERT INTO platform.revocations (key, revoked_at, expires_at) VALUES (@key, now() - @revokedAgo::interval, now() + @expiresIn::interval)",
            new { key, revokedAgo, expiresIn });
    }

    /// <summary>A shared state whose Redis is not there (nothing listens on port 1): every operation is refused at once.</summary>
    private static async Task<RedisSharedState> UnreachableRedisAsync()
    {
        var options = ConfigurationOptions.Parse("127.0.0.1:1");
        options.AbortOnConnectFail = false;
        options.BacklogPolicy = BacklogPolicy.FailFast;
        var redis = await ConnectionMultiplexer.ConnectAsync(options);
        return new RedisSharedState(redis, Options.Create(new RedisOptions()), TimeProvider.System, NullLogger<RedisSharedState>.Instance);
    }

    [Fact]
    public async Task ARevocation_CommitsWithTheChangeThatRevokes_OrRollsBackWithIt()
    {
        var (list, _) = Create(new MemorySharedState(TimeProvider.System));
        await using (var connection = await Db.OpenConnectionAsync())
        {
            await using var transaction = await connection.BeginTransactionAsync();
            await list.RecordAsync(transaction, Session, CancellationToken.None);
            // The caller's own transaction sees it before the commit (a check made with its connection).
            Assert.True(await list.IsRevokedAsync(Session, "u1", connection, transaction, CancellationToken.None));
            await transaction.RollbackAsync();
        }

        Assert.False(await list.IsRevokedAsync(Session, "u1"));
        await RecordAsync(list, Session);
        Assert.True(await list.IsRevokedAsync(Session, "u1")); // no mirror yet: PostgreSQL answers
        Assert.False(await list.IsRevokedAsync("revoked:session:s2", "u1"));
        await RecordAsync(list, RevocationList.User("u2"));
        Assert.True(await list.IsRevokedAsync("revoked:session:s2", "u2"));
    }

    [Fact]
    public async Task ARevocation_LivesItsTtl_ADayUnlessConfigured_AndRevokingAgainNeverShortensIt()
    {
        Assert.Equal(TimeSpan.FromDays(1), Create(new MemorySharedState(TimeProvider.System)).List.Ttl);
        var (list, _) = Create(new MemorySharedState(TimeProvider.System), "00:30:00");
        Assert.Equal(TimeSpan.FromMinutes(30), list.Ttl);

        await InsertAsync(Session, "0 s", "2 hours");
        await RecordAsync(list, Session, RevocationList.ApiKey("k1"));
        await using var connection = await Db.OpenConnectionAsync();
        var left = (await connection.QueryAsync<(string Key, double Minutes)>(
            "SELECT key, extract(epoch FROM expires_at - now()) / 60 FROM platform.revocations ORDER BY key")).ToList();
        Assert.Equal("revoked:api_key:k1", left[0].Key);
        Assert.InRange(left[0].Minutes, 29, 30.1);
        Assert.InRange(left[1].Minutes, 119, 120.1); // the longer expiry kept
    }

    [Fact]
    public async Task Checks_TrustTheCompleteMirror_ElsePostgreSQL_AndTheLocalCopyWhileItIsCurrent()
    {
        var state = new MemorySharedState(TimeProvider.System);
        var (list, local) = Create(state);
        await state.SetFlagAsync(Session, TimeSpan.FromMinutes(1)); // in the mirror only

        Assert.False(await list.IsRevokedAsync(Session, "u1")); // the mirror is not complete: PostgreSQL, which has nothing
        await state.SetTextAsync("revoked:mirror-complete", "1");
        Assert.True(await list.IsRevokedAsync(Session, "u1"));
        await state.SetFlagAsync(RevocationList.User("u2"), TimeSpan.FromMinutes(1));
        Assert.True(await list.IsRevokedAsync("revoked:session:s2", "u2"));
        Assert.False(await list.IsRevokedAsync("revoked:session:s2", "u3"));

        await _feeds[^1].PollAsync(CancellationToken.None); // the local copy is current, and holds nothing
        Assert.False(await list.IsRevokedAsync(Session, "u1"));
        local.Apply(local.ItemFor("revoked:session:s3", TimeSpan.FromMinutes(1)));
        Assert.True(await list.IsRevokedAsync("revoked:session:s3", "u1"));
    }

    [Fact]
    public async Task WithRedisUnreachable_PostgreSQLAnswers_AndAPublishThatFailed_AsksTheMirrorToCopyEverything()
    {
        var (list, local) = Create(await UnreachableRedisAsync());
        await RecordAsync(list, Session);
        Assert.True(await list.IsRevokedAsync(Session, "u1"));

        await list.PublishAsync(Session); // does not throw: the record has it
        Assert.Equal(1, _listWarnings.Count); // but it is not silent
        Assert.Equal(1, local.Count); // this host's copy has it at once
        Assert.True(list.TakeLoadRequest());
        Assert.False(list.TakeLoadRequest());
    }

    [Fact]
    public async Task RecordAndPublish_RefuseNull()
    {
        var (list, _) = Create(new MemorySharedState(TimeProvider.System));
        await Assert.ThrowsAsync<ArgumentNullException>(() => list.RecordAsync(null!, Session, CancellationToken.None));
        await using var connection = await Db.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        await Assert.ThrowsAsync<ArgumentNullException>(() => list.RecordAsync(transaction, (IReadOnlyCollection<string>)null!, CancellationToken.None));
        await Assert.ThrowsAsync<ArgumentNullException>(() => list.PublishAsync(null!));
        Assert.Equal("revoked:session:s", RevocationList.Session("s"));
    }

    [Fact]
    public async Task TheMirror_KeepsRunningThroughAnOutage()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var (list, _) = Create(new MemorySharedState(TimeProvider.System));
        using var mirror = Mirror(list, await UnreachableRedisAsync(), time);
        await mirror.StartAsync(CancellationToken.None);
        for (var i = 0; i < 3; i++)
        {
            await Task.Delay(200);
            time.Advance(TimeSpan.FromSeconds(1)); // the next pass, which fails like the first
        }

        await Task.Delay(200);
        Assert.False(mirror.ExecuteTask!.IsCompleted); // not ended by the outage: it syncs again once Redis answers
        Assert.Equal(1, _mirrorWarnings.Count); // four failed passes, one warning
        await mirror.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task TheMirror_RunsAtTheConfiguredInterval()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var state = new MemorySharedState(time);
        var (list, _) = Create(state);
        using var mirror = Mirror(list, state, time, "00:00:05");
        await mirror.StartAsync(CancellationToken.None);
        try
        {
            await WaitForAsync(async () => (await state.ExistAsync(["revoked:mirror-complete"]))[0], "the first pass");
            await state.DeleteAsync("revoked:mirror-complete"); // Redis flushed: the next pass rebuilds it

            time.Advance(TimeSpan.FromSeconds(1)); // the default interval, not this one
            await Task.Delay(300);
            Assert.False((await state.ExistAsync(["revoked:mirror-complete"]))[0]);

            time.Advance(TimeSpan.FromSeconds(4));
            await WaitForAsync(async () => (await state.ExistAsync(["revoked:mirror-complete"]))[0], "the pass after 5 s");
        }
        finally
        {
            await mirror.StopAsync(CancellationToken.None);
        }
    }

    [Fact]
    public async Task Publish_CopiesIntoTheMirror()
    {
        var state = new MemorySharedState(TimeProvider.System);
        var (list, _) = Create(state);
        await list.PublishAsync(Session, RevocationList.User("u1"));
        Assert.Equal(new[] { true, true }, await state.ExistAsync([Session, RevocationList.User("u1")]));
        Assert.False(list.TakeLoadRequest());
    }

    [Fact]
    public async Task TheMirror_IsRebuiltFromTheRecord_ThenKeptCompleteByCopyingWhatWasRevokedSince()
    {
        var mirrorState = new MemorySharedState(TimeProvider.System);
        var (list, _) = Create(await UnreachableRedisAsync()); // this host's publishes fail; its mirror reaches Redis
        var mirror = Mirror(list, mirrorState);
        await InsertAsync("revoked:session:old", "3 hours", "1 hour");
        await InsertAsync("revoked:session:expired", "3 hours", "-1 minute");

        await mirror.SyncAsync(CancellationToken.None); // no marker: a full load, then the marker
        Assert.Equal(new[] { true, true, false },
            await mirrorState.ExistAsync(["revoked:mirror-complete", "revoked:session:old", "revoked:session:expired"]));

        await RecordAsync(list, Session); // committed, never published (the writer died)
        await InsertAsync("revoked:session:late", "2 hours", "1 hour"); // a transaction that committed long after it revoked
        await mirror.SyncAsync(CancellationToken.None);
        Assert.Equal(new[] { true, false }, await mirrorState.ExistAsync([Session, "revoked:session:late"]));

        await list.PublishAsync("revoked:session:other"); // fails: the next pass copies everything, whenever it was revoked
        await mirror.SyncAsync(CancellationToken.None);
        Assert.Equal(new[] { true }, await mirrorState.ExistAsync(["revoked:session:late"]));
    }

    [Fact]
    public async Task TheMirror_RunsEveryInterval_AndOnceAMinuteDeletesWhatExpiredAnHourAgo()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var state = new MemorySharedState(time);
        var (list, _) = Create(state);
        await InsertAsync("revoked:session:long-gone", "1 day", "-61 minutes");
        await InsertAsync("revoked:session:just-expired", "1 day", "-30 minutes");
        await InsertAsync(Session, "1 minute", "1 hour");
        using var mirror = Mirror(list, state, time);
        await mirror.StartAsync(CancellationToken.None);
        try
        {
            await WaitForAsync(async () => (await state.ExistAsync([Session]))[0], "the first pass");
            Assert.Equal(3, await CountAsync()); // not swept before a minute has passed

            time.Advance(TimeSpan.FromMinutes(1));
            await WaitForAsync(async () => await CountAsync() == 2, "the sweep");
            await using var connection = await Db.OpenConnectionAsync();
            Assert.Equal(["revoked:session:just-expired", Session],
                (await connection.QueryAsync<string>("SELECT key FROM platform.revocations ORDER BY key")).Order(StringComparer.Ordinal));
        }
        finally
        {
            await mirror.StopAsync(CancellationToken.None);
        }
    }

    [Fact]
    public async Task TheLocalCopy_IsRebuiltFromTheRecord_LiveRevocationsOnly()
    {
        var (list, local) = Create(new MemorySharedState(TimeProvider.System));
        await RecordAsync(list, Session, RevocationList.User("u2"));
        await InsertAsync("revoked:session:expired", "1 day", "-1 second");
        local.Apply(local.ItemFor("revoked:session:held-expired", TimeSpan.FromSeconds(-1))); // held from the feed, expired since

        await local.ResetAsync(CancellationToken.None);
        Assert.Equal(2, local.Count); // the rebuild also drops what expired
        await _feeds[^1].PollAsync(CancellationToken.None);
        Assert.True(local.TryCheck(Session, RevocationList.User("u1"), out var revoked) && revoked);
        Assert.True(local.TryCheck("revoked:session:s2", RevocationList.User("u2"), out revoked) && revoked);
        Assert.True(local.TryCheck("revoked:session:expired", RevocationList.User("u1"), out revoked) && !revoked);
    }

    private async Task<long> CountAsync()
    {
        await using var connection = await Db.OpenConnectionAsync();
        return await connection.ExecuteScalarAsync<long>("SELECT count(*) FROM platform.revocations");
    }

    private static async Task WaitForAsync(Func<Task<bool>> condition, string what)
    {
        for (var i = 0; i < 200; i++)
        {
            if (await condition())
            {
                return;
            }

            await Task.Delay(50);
        }

        Assert.Fail(what + " did not happen within 10 s");
    }
}
