using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using PyAirtable.IntegrationTests.Infrastructure;
using PyAirtable.Services.Infrastructure.SharedState;
using StackExchange.Redis;

namespace PyAirtable.IntegrationTests.Adversarial;

/// <summary>
/// The Redis shared state's operations against a real Redis (the one ./test.sh starts), each test under a key prefix of
/// its own: the same semantics as the in-memory state every host falls back to (see MemorySharedStateTests).
/// </summary>
public sealed class RedisSharedStateTests : IAsyncLifetime
{
    private readonly string _prefix = $"state-{Guid.NewGuid():N}:";
    private ConnectionMultiplexer? _redis;

    private ConnectionMultiplexer Redis => _redis!;

    /// <summary>
    /// These tests state what the operations do, not how fast: a roomy operation timeout, since the first commands of a
    /// run (a script load among them) on a busy box can take longer than the product's 1 s (CI saw that at 5 s into a run).
    /// </summary>
    private static readonly TimeSpan Roomy = TimeSpan.FromSeconds(15);

    private RedisSharedState State(RedisOptions? options = null) =>
        new(Redis, Options.Create(options ?? new RedisOptions { InstanceName = _prefix, OperationTimeout = Roomy }),
            TimeProvider.System, NullLogger<RedisSharedState>.Instance);

    public async Task InitializeAsync() => _redis = await ConnectionMultiplexer.ConnectAsync(TestEnvironment.Redis);

    public async Task DisposeAsync()
    {
        if (_redis is not null)
        {
            await _redis.DisposeAsync();
        }
    }

    [Fact]
    public async Task Counter_CountsWithinItsWindow_ReportsTheTimeLeft_AndADecrementNeverRevivesAMissingOne()
    {
        var state = State();
        var window = TimeSpan.FromMinutes(15);
        Assert.Equal((0, TimeSpan.Zero), await state.GetCounterAsync("k"));

        var (first, left) = await state.IncrementAsync("k", window);
        Assert.Equal(1, first);
        Assert.InRange(left, window - TimeSpan.FromSeconds(10), window);
        Assert.Equal(2, (await state.IncrementAsync("k", window)).Count);

        var (count, remaining) = await state.GetCounterAsync("k");
        Assert.Equal(2, count);
        Assert.InRange(remaining, window - TimeSpan.FromSeconds(10), window); // the window is not extended by later increments

        await state.DecrementAsync("k");
        Assert.Equal(1, (await state.GetCounterAsync("k")).Count);

        await state.DecrementAsync("never-counted");
        Assert.Equal((0, TimeSpan.Zero), await state.GetCounterAsync("never-counted"));
        var (revived, revivedLeft) = await state.IncrementAsync("never-counted", window); // a fresh counter with a whole window
        Assert.Equal(1, revived);
        Assert.InRange(revivedLeft, window - TimeSpan.FromSeconds(10), window);
    }

    [Fact]
    public async Task Flags_Exist_TextStaysUntilDeleted_AndAGuardedWriteNeedsItsGuard()
    {
        var state = State();
        await state.SetFlagAsync("flag", TimeSpan.FromMinutes(1));
        Assert.Equal(new[] { true, false }, await state.ExistAsync(["flag", "other"]));
        Assert.InRange((await Redis.GetDatabase().KeyTimeToLiveAsync(_prefix + "flag"))!.Value, TimeSpan.FromSeconds(50), TimeSpan.FromMinutes(1));

        await state.SetTextAsync("guard", "mine");
        Assert.False(await state.SetIfGuardAsync("k", "1", "guard", "theirs"));
        Assert.Equal(new[] { false }, await state.ExistAsync(["k"]));
        Assert.True(await state.SetIfGuardAsync("k", "1", "guard", "mine"));
        Assert.Equal(new[] { true }, await state.ExistAsync(["k"]));

        await state.DeleteAsync("guard");
        Assert.False(await state.SetIfGuardAsync("k", "2", "guard", "mine"));
        Assert.Equal("1", (string?)await Redis.GetDatabase().StringGetAsync(_prefix + "k"));
    }

    [Fact]
    public async Task VersionedEntries_AreReadBackWhole_AndOnlyANewerVersionReplacesOne()
    {
        var state = State();
        Assert.Null(await state.GetVersionedAsync("k"));
        Assert.True(await state.SetVersionedIfNewerAsync("k", new VersionedEntry(5, [5, 55]), TimeSpan.FromMinutes(1)));
        var entry = await state.GetVersionedAsync("k");
        Assert.Equal(5, entry!.Value.Version);
        Assert.Equal([5, 55], entry.Value.Data);

        Assert.False(await state.SetVersionedIfNewerAsync("k", new VersionedEntry(4, [4]), TimeSpan.FromMinutes(1)));
        Assert.True(await state.SetVersionedIfNewerAsync("k", new VersionedEntry(6, [6]), TimeSpan.FromMinutes(1)));
        Assert.Equal(6, (await state.GetVersionedAsync("k"))!.Value.Version);
    }

    [Fact]
    public async Task ChangeFeed_NumbersItemsInOrder_ReadsAfterAPosition_AndStartsAgainAsANewEpoch()
    {
        var state = State();
        var empty = await state.ReadChangesAsync(0, 10, "first");
        Assert.Equal(("first", 0L), (empty.Epoch, empty.Last));
        Assert.Empty(empty.Items);
        await Assert.ThrowsAsync<ArgumentNullException>(() => state.AppendChangesAsync(null!));

        await state.AppendChangesAsync(["a", "b|c", "d"]);
        var all = await state.ReadChangesAsync(0, 10, "unused");
        Assert.Equal("first", all.Epoch);
        Assert.Equal(3, all.Last);
        Assert.Equal([(1L, "a"), (2L, "b|c"), (3L, "d")], all.Items);
        Assert.Equal([(2L, "b|c")], (await state.ReadChangesAsync(1, 1, "unused")).Items);

        await state.ResetChangesAsync("second");
        var reset = await state.ReadChangesAsync(0, 10, "unused");
        Assert.Equal(("second", 0L), (reset.Epoch, reset.Last));
        Assert.Empty(reset.Items);
    }

    [Fact]
    public void RefusesAMissingConnectionOrOptions()
    {
        Assert.Throws<ArgumentNullException>(() => new RedisSharedState(null!, Options.Create(new RedisOptions()), TimeProvider.System,
            NullLogger<RedisSharedState>.Instance));
        Assert.Throws<ArgumentNullException>(() => new RedisSharedState(Redis, null!, TimeProvider.System, NullLogger<RedisSharedState>.Instance));
    }

    [Fact]
    public async Task KeysAreUnderThePlatformsPrefix_ByDefault()
    {
        var key = "prefix-check-" + Guid.NewGuid().ToString("N");
        var state = State(new RedisOptions { OperationTimeout = Roomy });
        await state.SetFlagAsync(key, TimeSpan.FromMinutes(1));
        Assert.True(await Redis.GetDatabase().KeyExistsAsync("pyairtable:" + key));
        await state.DeleteAsync(key);
        Assert.False(await Redis.GetDatabase().KeyExistsAsync("pyairtable:" + key));
    }
}
