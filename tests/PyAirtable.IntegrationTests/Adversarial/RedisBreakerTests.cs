using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using PyAirtable.IntegrationTests.Infrastructure;
using PyAirtable.Services.Infrastructure.SharedState;
using StackExchange.Redis;

namespace PyAirtable.IntegrationTests.Adversarial;

/// <summary>
/// The Redis shared state's breaker, on a Redis server of the test's own that it kills or hangs, with a fake clock for the
/// break: a failure (refused, or hung past the operation timeout) makes every operation fail at once for the break
/// duration; after it one operation probes while the others keep failing fast; a probe that answers, or the connection
/// coming back, closes it.
/// </summary>
public sealed class RedisBreakerTests : IAsyncLifetime
{
    private static readonly TimeSpan Break = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(1);

    private readonly FakeTimeProvider _time = new();
    private readonly ListLogger _logger = new();
    private PrivateRedis? _server;
    private ConnectionMultiplexer? _redis;

    private sealed class ListLogger : ILogger<RedisSharedState>
    {
        private int _warnings;

        public int Warnings => Volatile.Read(ref _warnings);

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (logLevel == LogLevel.Warning)
            {
                Interlocked.Increment(ref _warnings);
            }
        }
    }

    public async Task InitializeAsync()
    {
        _server = await PrivateRedis.StartAsync();
        var options = ConfigurationOptions.Parse(_server.ConnectionString); // as the host configures it
        options.AbortOnConnectFail = false;
        options.BacklogPolicy = BacklogPolicy.FailFast;
        _redis = await ConnectionMultiplexer.ConnectAsync(options);
    }

    public async Task DisposeAsync()
    {
        if (_redis is not null)
        {
            await _redis.DisposeAsync();
        }

        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }

    private RedisSharedState State() => new(_redis!, Options.Create(new RedisOptions
    {
        InstanceName = "breaker:",
        BreakDuration = Break,
        OperationTimeout = Timeout,
    }), _time, _logger);

    private static async Task<string> FailureAsync(Task operation) =>
        (await Assert.ThrowsAsync<SharedStateUnavailableException>(() => operation)).Message;

    private static async Task WaitUntilAsync(Func<bool> condition, string what)
    {
        for (var i = 0; i < 300 && !condition(); i++)
        {
            await Task.Delay(50);
        }

        Assert.True(condition(), what + " within 15 s");
    }

    [Fact]
    public async Task AHungRedis_FailsOneCallAtItsTimeout_ThenEveryCallAtOnce_UntilOneProbeAnswers()
    {
        var state = State();
        await state.SetFlagAsync("before", TimeSpan.FromMinutes(1));
        Assert.False(state.IsFailingFast);

        await _server!.HangAsync();
        var hung = state.SetFlagAsync("while-hung", TimeSpan.FromMinutes(1));
        await Task.Delay(50);
        Assert.False(hung.IsCompleted); // waiting for Redis, up to the operation timeout
        _time.Advance(Timeout);
        Assert.StartsWith("Redis is unavailable: ", await FailureAsync(hung), StringComparison.Ordinal);
        Assert.True(state.IsFailingFast);
        Assert.Equal(1, _logger.Warnings);

        // Open: no call reaches Redis until the break is over.
        Assert.Contains("failing fast", await FailureAsync(state.ExistAsync(["before"])), StringComparison.Ordinal);
        _time.Advance(Break - TimeSpan.FromTicks(1));
        Assert.Contains("failing fast", await FailureAsync(state.ExistAsync(["before"])), StringComparison.Ordinal);

        // Break over: one call probes (still hung), the others keep failing fast meanwhile.
        _time.Advance(TimeSpan.FromTicks(1));
        Assert.False(state.IsFailingFast);
        var probe = state.ExistAsync(["before"]);
        Assert.Contains("failing fast", await FailureAsync(state.ExistAsync(["before"])), StringComparison.Ordinal);
        Assert.True(state.IsFailingFast);

        // Redis answers the probe: closed, every call goes through again without waiting for the clock.
        await _server.ResumeAsync();
        Assert.Equal(new[] { true }, await probe.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.False(state.IsFailingFast);
        Assert.Equal(new[] { true }, await state.ExistAsync(["before"]));
    }

    [Fact]
    public async Task ARedisThatIsGone_OpensTheBreakerAtOnce_AndItsReturnClosesIt()
    {
        var state = State();
        await state.SetFlagAsync("before", TimeSpan.FromMinutes(1));

        await _server!.KillAsync();
        await WaitUntilAsync(() => state.IsFailingFast, "the lost connection opens the breaker"); // no call needed
        Assert.Contains("failing fast", await FailureAsync(state.SetFlagAsync("k", TimeSpan.FromMinutes(1))), StringComparison.Ordinal);

        _time.Advance(Break); // a probe while Redis is still gone: refused at once, and open again
        Assert.StartsWith("Redis is unavailable: ", await FailureAsync(state.SetFlagAsync("k", TimeSpan.FromMinutes(1))), StringComparison.Ordinal);
        Assert.True(state.IsFailingFast);

        await _server.RestartAsync();
        await WaitUntilAsync(() => !state.IsFailingFast, "the restored connection closes the breaker"); // the clock has not moved
        await state.SetFlagAsync("after", TimeSpan.FromMinutes(1));
        Assert.Equal(new[] { false, true }, await state.ExistAsync(["before", "after"])); // restarted empty
    }
}
