using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Npgsql;
using PyAirtable.Services.Infrastructure.SharedState;

namespace PyAirtable.UnitTests;

/// <summary>
/// Each host's in-memory copy of the revocations: it answers only while the change feed proves it current, a revocation
/// holds until its expiry (the latest one when revoked twice) and not an instant longer, malformed feed items are skipped,
/// and expired entries are swept so the copy does not grow without end. (The rebuild from PostgreSQL is covered by the
/// integration tests.)
/// </summary>
public sealed class LocalRevocationsTests : IDisposable
{
    private const string Session = "revoked:session:s1";
    private const string User = "revoked:user:u1";

    private readonly FakeTimeProvider _time = new();
    private readonly ChangeFeed _feed;
    private readonly LocalRevocations _local;

    // Never opened: only ResetAsync reads PostgreSQL, and the feed here has no followers to reset.
    private readonly NpgsqlDataSource _database = NpgsqlDataSource.Create("Host=127.0.0.1;Port=1");

    public LocalRevocationsTests()
    {
        _feed = new ChangeFeed(new MemorySharedState(_time), new ServiceCollection().BuildServiceProvider(),
            Options.Create(new ChangeFeedOptions()), _time, NullLogger<ChangeFeed>.Instance);
        _local = new LocalRevocations(_feed, _database, _time);
    }

    public void Dispose() => _database.Dispose();

    private long NowMs => _time.GetUtcNow().ToUnixTimeMilliseconds();

    private static string Item(string key, long expiresMs) => key + "|" + expiresMs.ToString(CultureInfo.InvariantCulture);

    private async Task<bool> CheckAsync(string credential, string user)
    {
        await _feed.PollAsync(CancellationToken.None); // proven current now
        Assert.True(_local.TryCheck(credential, user, out var revoked));
        return revoked;
    }

    [Fact]
    public async Task AnswersOnlyWhileTheFeedIsCurrent()
    {
        _local.Apply(Item(Session, NowMs + 60_000));
        Assert.False(_local.TryCheck(Session, User, out var unproven)); // never read the feed: the caller must ask Redis or PostgreSQL
        Assert.False(unproven);

        await _feed.PollAsync(CancellationToken.None);
        Assert.True(_local.TryCheck(Session, User, out var revoked));
        Assert.True(revoked);

        _time.Advance(new ChangeFeedOptions().Bound + TimeSpan.FromMilliseconds(1));
        Assert.False(_local.TryCheck(Session, User, out var stale));
        Assert.False(stale);
    }

    [Fact]
    public async Task ARevokedCredentialOrARevokedUser_IsRevoked_OthersAreNot()
    {
        _local.Apply(_local.ItemFor(Session, TimeSpan.FromMinutes(1)));
        _local.Apply(_local.ItemFor("revoked:user:u2", TimeSpan.FromMinutes(1)));

        Assert.True(await CheckAsync(Session, User));
        Assert.True(await CheckAsync("revoked:session:s2", "revoked:user:u2"));
        Assert.False(await CheckAsync("revoked:session:s3", User));
    }

    [Fact]
    public async Task ARevocationEndsExactlyAtItsExpiry()
    {
        _local.Apply(_local.ItemFor(Session, TimeSpan.FromMilliseconds(50)));
        _local.Apply(_local.ItemFor("revoked:user:u2", TimeSpan.FromMilliseconds(50)));
        _time.Advance(TimeSpan.FromMilliseconds(49));
        Assert.True(await CheckAsync(Session, User));
        Assert.True(await CheckAsync("revoked:session:s2", "revoked:user:u2"));

        _time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.False(await CheckAsync(Session, User));
        Assert.False(await CheckAsync("revoked:session:s2", "revoked:user:u2"));
    }

    [Fact]
    public async Task RevokedTwice_TheLaterExpiryHolds_WhicheverArrivesFirst()
    {
        _local.Apply(Item(Session, NowMs + 60_000));
        _local.Apply(Item(Session, NowMs + 10_000)); // an older item delivered late
        _time.Advance(TimeSpan.FromSeconds(30));
        Assert.True(await CheckAsync(Session, User));
    }

    [Fact]
    public void ItemFor_IsTheKeyAndTheExpiryInUnixMilliseconds()
    {
        Assert.Equal(Session + "|" + (NowMs + 1500).ToString(CultureInfo.InvariantCulture), _local.ItemFor(Session, TimeSpan.FromSeconds(1.5)));
    }

    [Fact]
    public async Task MalformedItems_AreSkipped_AndAKeyMayContainTheSeparator()
    {
        _local.Apply("no-separator");
        _local.Apply("|" + (NowMs + 60_000).ToString(CultureInfo.InvariantCulture)); // no key
        _local.Apply(Session + "|soon");
        _local.Apply(Session + "|");
        Assert.Equal(0, _local.Count);

        _local.Apply(Item("revoked:api_key:a|b", NowMs + 60_000));
        Assert.Equal(1, _local.Count);
        Assert.True(await CheckAsync("revoked:api_key:a|b", User));
        Assert.False(await CheckAsync("revoked:api_key:a", User));
    }

    [Fact]
    public void ExpiredRevocations_AreSwept_SoTheCopyDoesNotGrowWithoutEnd()
    {
        _local.Apply(Item("revoked:session:old", NowMs + 1));
        _time.Advance(TimeSpan.FromMilliseconds(1)); // it expires exactly now
        for (var i = 1; i < 4095; i++)
        {
            _local.Apply(Item("revoked:session:live" + i, NowMs + 60_000));
        }

        _local.Apply(Item("revoked:session:live-last", NowMs + 60_000));
        Assert.Equal(4095, _local.Count); // a sweep (every 4096 items) dropped the expired one
    }
}
