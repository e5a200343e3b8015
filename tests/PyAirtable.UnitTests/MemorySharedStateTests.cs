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
}
