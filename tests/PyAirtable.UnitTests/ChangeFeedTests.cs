using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using PyAirtable.Services.Infrastructure.SharedState;

namespace PyAirtable.UnitTests;

/// <summary>The change feed's bookkeeping: items applied once and in order, and every gap turned into a rebuild.</summary>
public sealed class ChangeFeedTests
{
    private sealed class Recorder : IChangeFollower
    {
        public List<string> Applied { get; } = [];

        public int Resets { get; private set; }

        public char Kind => 'x';

        public void Apply(string item) => Applied.Add(item);

        public Task ResetAsync(CancellationToken cancellationToken)
        {
            Resets++;
            return Task.CompletedTask;
        }
    }

    private static (ChangeFeed Feed, Recorder Follower, MemorySharedState State) Create()
    {
        var follower = new Recorder();
        var state = new MemorySharedState(TimeProvider.System);
        var services = new ServiceCollection().AddSingleton<IChangeFollower>(follower).BuildServiceProvider();
        var feed = new ChangeFeed(state, services, Options.Create(new ChangeFeedOptions()), TimeProvider.System, NullLogger<ChangeFeed>.Instance);
        return (feed, follower, state);
    }

    [Fact]
    public async Task FirstRead_Rebuilds_ThenAppliesItemsInOrder_AndIsCurrent()
    {
        var (feed, follower, state) = Create();
        Assert.False(feed.IsCurrent);
        await state.AppendChangesAsync(["xbefore"]);
        await feed.PollAsync(CancellationToken.None);
        Assert.Equal(1, follower.Resets);
        Assert.Empty(follower.Applied); // what came before the first read is in the record, which the rebuild loaded
        Assert.True(feed.IsCurrent);

        await state.AppendChangesAsync(["x1", "y-not-ours", "x2"]);
        await feed.PollAsync(CancellationToken.None);
        Assert.Equal(["1", "2"], follower.Applied);
        Assert.Equal(1, follower.Resets);
    }

    [Fact]
    public async Task ItemsTrimmedPastThisHostsPosition_Rebuilds()
    {
        var (feed, follower, state) = Create();
        await feed.PollAsync(CancellationToken.None);
        await state.AppendChangesAsync(Enumerable.Range(0, ChangeFeed.Retained + 5).Select(i => "x" + i).ToArray());
        await feed.PollAsync(CancellationToken.None);
        Assert.Equal(2, follower.Resets);
        Assert.Empty(follower.Applied);
        Assert.True(feed.IsCurrent);
    }

    [Fact]
    public async Task NewEpoch_Rebuilds()
    {
        var (feed, follower, state) = Create();
        await feed.PollAsync(CancellationToken.None);
        await state.AppendChangesAsync(["x1"]);
        await state.ResetChangesAsync("another");
        await feed.PollAsync(CancellationToken.None);
        Assert.Equal(2, follower.Resets);
        Assert.Empty(follower.Applied);
    }

    [Fact]
    public async Task PublishAppliesAtOnceOnTheWritersHost()
    {
        var (feed, follower, _) = Create();
        await feed.PublishAsync('x', "now");
        Assert.Equal(["now"], follower.Applied);
    }
}
