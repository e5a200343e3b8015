using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using PyAirtable.Contracts.Common;
using PyAirtable.Services.Auth;
using PyAirtable.Services.Infrastructure.Errors;
using PyAirtable.Services.Infrastructure.SharedState;

namespace PyAirtable.UnitTests;

/// <summary>
/// Login's brute-force limits that need no database (the known-client exception of the account limit does; see
/// LoginLockoutTests): the pair and client limits, the retry delay they tell, and the slow-down schedule, on a fake clock.
/// </summary>
public sealed class LoginThrottleTests : IAsyncDisposable
{
    private readonly FakeTimeProvider _time = new(DateTimeOffset.UtcNow);
    private readonly Npgsql.NpgsqlDataSource _unused = Npgsql.NpgsqlDataSource.Create("Host=127.0.0.1;Port=1"); // known clients only

    public ValueTask DisposeAsync() => _unused.DisposeAsync();

    private LoginThrottle Throttle(LockoutOptions options) => new(new MemorySharedState(_time), _unused, Options.Create(options), _time);

    private static Task Attempt(LoginThrottle throttle, string email, string client = "203.0.113.7") =>
        throttle.BeforeAttemptAsync(email, client, CancellationToken.None);

    [Fact]
    public async Task APair_IsRefusedPastItsLimit_WithTheWindowLeftAsRetryDelay()
    {
        var throttle = Throttle(new LockoutOptions { MaxFailuresPerPair = 2, SlowAfter = 100 });
        await Attempt(throttle, "a@example.com");
        _time.Advance(TimeSpan.FromMinutes(5));
        await Attempt(throttle, "a@example.com");

        var refused = await Assert.ThrowsAsync<PlatformException>(() => Attempt(throttle, "a@example.com"));
        Assert.Equal(ErrorCode.ResourceExhausted, refused.Code);
        Assert.Equal("account_client", refused.Metadata["limit"]);
        Assert.Equal(TimeSpan.FromMinutes(10), refused.RetryAfter); // the 15-minute window started at the first attempt

        await Attempt(throttle, "a@example.com", "198.51.100.9"); // the owner, from elsewhere, is not affected
        _time.Advance(TimeSpan.FromMinutes(10));
        await Attempt(throttle, "a@example.com"); // a new window
    }

    [Fact]
    public async Task AClient_IsRefusedPastItsLimit_OverAnyAccounts()
    {
        var throttle = Throttle(new LockoutOptions { MaxFailuresPerClient = 3, SlowAfter = 100 });
        for (var i = 0; i < 3; i++)
        {
            await Attempt(throttle, $"user{i}@example.com");
        }

        var refused = await Assert.ThrowsAsync<PlatformException>(() => Attempt(throttle, "user9@example.com"));
        Assert.Equal("client", refused.Metadata["limit"]);
        Assert.Equal(TimeSpan.FromMinutes(15), refused.RetryAfter);
        await Attempt(throttle, "user9@example.com", "198.51.100.9");
    }

    [Fact]
    public async Task AttemptsRefusedByThePairLimit_DoNotUseUpTheClientsLimit()
    {
        var throttle = Throttle(new LockoutOptions { MaxFailuresPerPair = 2, MaxFailuresPerClient = 4, SlowAfter = 100 });
        await Attempt(throttle, "a@example.com");
        await Attempt(throttle, "a@example.com");
        for (var i = 0; i < 5; i++)
        {
            Assert.Equal("account_client", (await Assert.ThrowsAsync<PlatformException>(() => Attempt(throttle, "a@example.com"))).Metadata["limit"]);
        }

        // Two attempts counted against the client so far: two more may be tried, then the client's limit holds.
        await Attempt(throttle, "b@example.com");
        await Attempt(throttle, "c@example.com");
        Assert.Equal("client", (await Assert.ThrowsAsync<PlatformException>(() => Attempt(throttle, "d@example.com"))).Metadata["limit"]);
        Assert.Equal("client", (await Assert.ThrowsAsync<PlatformException>(() => Attempt(throttle, "a@example.com"))).Metadata["limit"]);
    }

    [Fact]
    public async Task APairThatKeepsFailing_IsSlowedDown_DoublingFromTheFirstDelayUpToFourSeconds()
    {
        var throttle = Throttle(new LockoutOptions { MaxFailuresPerPair = 100, SlowAfter = 3, SlowDelay = TimeSpan.FromMilliseconds(250) });
        for (var i = 0; i < 3; i++)
        {
            Assert.True(Attempt(throttle, "a@example.com").IsCompletedSuccessfully); // the first three are not delayed
        }

        foreach (var ms in new[] { 250, 500, 1000, 2000, 4000, 4000 })
        {
            var attempt = Attempt(throttle, "a@example.com");
            _time.Advance(TimeSpan.FromMilliseconds(ms - 1));
            await Task.Delay(20);
            Assert.False(attempt.IsCompleted, $"the attempt after a {ms} ms delay ran early");
            _time.Advance(TimeSpan.FromMilliseconds(1));
            await attempt.WaitAsync(TimeSpan.FromSeconds(10));
        }

        Assert.True(Attempt(throttle, "b@example.com").IsCompletedSuccessfully); // another account's pair is not slowed
    }
}
