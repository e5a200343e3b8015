using Microsoft.Extensions.Time.Testing;
using PyAirtable.Services.Infrastructure.SharedState;

namespace PyAirtable.UnitTests;

/// <summary>
/// The in-memory shared state (one host, or every host while Redis is down: lockout and rate-limit counters fall back to
/// it): counters run for their window from the first increment, end exactly at its end, and a decrement never goes below
/// zero nor revives an expired counter.
/// </summary>
public sealed class MemorySharedStateTests
{
    [Fact]
    public async Task Counter_CountsWithinItsWindow_AndStartsAgainExactlyWhenTheWindowEnds()
    {
        var time = new FakeTimeProvider();
        var state = new MemorySharedState(time);
        var window = TimeSpan.FromMinutes(15);

        Assert.Equal((1, window), await state.IncrementAsync("k", window));
        time.Advance(TimeSpan.FromMinutes(5));
        Assert.Equal((2, TimeSpan.FromMinutes(10)), await state.IncrementAsync("k", window)); // the window is not extended
        Assert.Equal((2, TimeSpan.FromMinutes(10)), await state.GetCounterAsync("k"));

        time.Advance(TimeSpan.FromMinutes(10)); // the window's last instant has passed
        Assert.Equal(0, (await state.GetCounterAsync("k")).Count);
        Assert.Equal((1, window), await state.IncrementAsync("k", window));
    }

    [Fact]
    public async Task Decrement_TakesBackOneAttempt_NeverBelowZero_NeverRevivesAnExpiredCounter()
    {
        var time = new FakeTimeProvider();
        var state = new MemorySharedState(time);
        var window = TimeSpan.FromMinutes(1);

        await state.IncrementAsync("k", window);
        await state.IncrementAsync("k", window);
        await state.DecrementAsync("k");
        Assert.Equal(1, (await state.GetCounterAsync("k")).Count);
        await state.DecrementAsync("k");
        await state.DecrementAsync("k");
        Assert.Equal(0, (await state.GetCounterAsync("k")).Count);

        await state.DecrementAsync("never-counted");
        Assert.Equal((1, window), await state.IncrementAsync("never-counted", window));

        time.Advance(window);
        await state.DecrementAsync("k");
        Assert.Equal((1, window), await state.IncrementAsync("k", window));
    }

    [Fact]
    public async Task VersionedEntry_ExpiresAtItsTtl_ThenAnyVersionMayBeStored()
    {
        var time = new FakeTimeProvider();
        var state = new MemorySharedState(time);

        Assert.True(await state.SetVersionedIfNewerAsync("k", new VersionedEntry(5, [5]), TimeSpan.FromMinutes(1)));
        time.Advance(TimeSpan.FromSeconds(59));
        Assert.Equal(5, (await state.GetVersionedAsync("k"))!.Value.Version);
        Assert.False(await state.SetVersionedIfNewerAsync("k", new VersionedEntry(4, [4]), TimeSpan.FromMinutes(1)));

        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Null(await state.GetVersionedAsync("k"));
        Assert.True(await state.SetVersionedIfNewerAsync("k", new VersionedEntry(4, [4]), TimeSpan.FromMinutes(1)));
    }

    [Fact]
    public async Task VersionedEntry_ANewerVersionReplacesAnOlder_AndAtItsExpiryAnyVersionMayBeStored_EvenUnread()
    {
        var time = new FakeTimeProvider();
        var state = new MemorySharedState(time);

        Assert.True(await state.SetVersionedIfNewerAsync("k", new VersionedEntry(5, [5]), TimeSpan.FromMinutes(1)));
        Assert.True(await state.SetVersionedIfNewerAsync("k", new VersionedEntry(6, [6]), TimeSpan.FromMinutes(1)));
        Assert.Equal(6, (await state.GetVersionedAsync("k"))!.Value.Version);

        time.Advance(TimeSpan.FromMinutes(1)); // expired at this instant, and not read since
        Assert.True(await state.SetVersionedIfNewerAsync("k", new VersionedEntry(4, [4]), TimeSpan.FromMinutes(1)));
        Assert.Equal(4, (await state.GetVersionedAsync("k"))!.Value.Version);
    }

    [Fact]
    public async Task Flag_ExistsUntilItsTtl_TextStaysUntilDeleted_AndAGuardedWriteNeedsItsGuard()
    {
        var time = new FakeTimeProvider();
        var state = new MemorySharedState(time);

        await state.SetFlagAsync("flag", TimeSpan.FromMinutes(1));
        Assert.Equal(new[] { true, false }, await state.ExistAsync(["flag", "other"]));
        time.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(new[] { false }, await state.ExistAsync(["flag"]));

        await state.SetTextAsync("guard", "mine");
        time.Advance(TimeSpan.FromDays(365));
        Assert.False(await state.SetIfGuardAsync("k", "1", "guard", "theirs"));
        Assert.Equal(new[] { false }, await state.ExistAsync(["k"]));
        Assert.True(await state.SetIfGuardAsync("k", "1", "guard", "mine"));
        Assert.Equal(new[] { true }, await state.ExistAsync(["k"]));

        await state.DeleteAsync("guard");
        Assert.False(await state.SetIfGuardAsync("k", "2", "guard", "mine"));
    }

    public static TheoryData<string> Writes => ["counter", "flag", "versioned"];

    [Theory]
    [MemberData(nameof(Writes))]
    public async Task ExpiredEntriesNeverReadAgain_AreDropped_SoMemoryStaysBounded(string write)
    {
        var time = new FakeTimeProvider();
        var state = new MemorySharedState(time);
        var ttl = TimeSpan.FromMinutes(1);
        Task WriteAsync(string key) => write switch
        {
            "counter" => state.IncrementAsync(key, ttl),
            "flag" => state.SetFlagAsync(key, ttl),
            _ => state.SetVersionedIfNewerAsync(key, new VersionedEntry(1, [1]), ttl),
        };

        for (var i = 0; i < 1023; i++)
        {
            await WriteAsync("once-" + i);
        }

        time.Advance(ttl); // every one expires at this instant
        await WriteAsync("live"); // a sweep runs every 1024 writes
        Assert.Equal(1, state.Count);
    }

    [Fact]
    public async Task AnExpiredEntry_IsDroppedWhenRead()
    {
        var time = new FakeTimeProvider();
        var state = new MemorySharedState(time);
        await state.SetFlagAsync("k", TimeSpan.FromMinutes(1));
        time.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(new[] { false }, await state.ExistAsync(["k"]));
        Assert.Equal(0, state.Count);
    }

    [Fact]
    public async Task AppendChanges_RefusesNull()
    {
        await Assert.ThrowsAsync<ArgumentNullException>(() => new MemorySharedState(TimeProvider.System).AppendChangesAsync(null!));
    }
}
