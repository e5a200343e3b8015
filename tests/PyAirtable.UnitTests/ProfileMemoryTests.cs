using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using PyAirtable.Services.Infrastructure.SharedState;
using PyAirtable.Services.Users;
using PyAirtable.Services.Users.Stores;

namespace PyAirtable.UnitTests;

/// <summary>
/// GetUser's in-process level keeps the never-older rule of the shared one: a version read before a newer one was heard of
/// is never kept, a change heard on the feed drops what it replaces, and nothing answers once it expired, the feed stopped
/// being current, or the memory was cleared while the read was in flight.
/// </summary>
public sealed class ProfileMemoryTests
{
    private static readonly TimeSpan Ttl = TimeSpan.FromMinutes(5);
    private readonly Guid _id = Guid.NewGuid();

    private static async Task<(ProfileMemory Memory, ChangeFeed Feed, FakeTimeProvider Time)> CurrentAsync()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var state = new MemorySharedState(time);
        var services = new ServiceCollection();
        services.AddSingleton(Options.Create(new UserServiceOptions { CacheTtl = Ttl }));
        services.AddSingleton(s => new ChangeFeed(state, s, Options.Create(new ChangeFeedOptions()), time, NullLogger<ChangeFeed>.Instance));
        services.AddSingleton(s => new ProfileMemory(s.GetRequiredService<ChangeFeed>(), s.GetRequiredService<IOptions<UserServiceOptions>>(), time));
        services.AddSingleton<IChangeFollower>(s => s.GetRequiredService<ProfileMemory>());
        var provider = services.BuildServiceProvider();
        var feed = provider.GetRequiredService<ChangeFeed>();
        await feed.PollAsync(CancellationToken.None);
        Assert.True(feed.IsCurrent);
        return (provider.GetRequiredService<ProfileMemory>(), feed, time);
    }

    private UserRow Version(long version) => new() { Id = _id, DisplayName = $"v{version}", Version = version };

    private string Heard(long version) => ProfileMemory.ItemFor(Version(version));

    private long? Held(ProfileMemory memory) => memory.TryGet(_id, out var row) ? row.Version : null;

    [Fact]
    public async Task AVersion_IsKeptAndAnswered_AndOnlyANewerOneReplacesIt()
    {
        var (memory, _, _) = await CurrentAsync();
        Assert.Null(Held(memory));

        memory.Put(Version(3), memory.Generation);
        Assert.Equal(3, Held(memory));
        Assert.True(memory.TryGetHeld(_id, out var held));
        Assert.Equal(("v3", "v3"), (held.Etag, held.Contract.DisplayName));

        memory.Put(Version(2), memory.Generation); // a slower reader's older row
        Assert.Equal(3, Held(memory));
        memory.Put(Version(3), memory.Generation);
        Assert.Same(held, memory.TryGetHeld(_id, out var again) ? again : null); // the same version: what was derived stays
        memory.Put(Version(4), memory.Generation);
        Assert.Equal(4, Held(memory));
        Assert.False(memory.TryGet(Guid.NewGuid(), out _));
    }

    [Fact]
    public async Task AChangeHeard_DropsTheOlderVersion_AndAReadFromBeforeItCannotPutItBack()
    {
        var (memory, _, _) = await CurrentAsync();
        memory.Put(Version(3), memory.Generation);

        memory.Apply(Heard(5)); // written elsewhere: version 5 exists

        Assert.Null(Held(memory));
        memory.Put(Version(4), memory.Generation); // read before the write reached the database's readers
        Assert.Null(Held(memory));
        memory.Put(Version(5), memory.Generation);
        Assert.Equal(5, Held(memory));

        memory.Apply(Heard(5)); // heard again (another host's write of the same version): the kept row stays
        Assert.Equal(5, Held(memory));
        memory.Apply(Heard(4)); // an older change arriving late changes nothing
        Assert.Equal(5, Held(memory));
        memory.Put(Version(6), memory.Generation);
        memory.Apply(Heard(6)); // this host's own write, heard back
        Assert.Equal(6, Held(memory));
    }

    [Fact]
    public async Task AChangeHeardBeforeAnyRead_StillSetsTheFloor()
    {
        var (memory, _, _) = await CurrentAsync();

        memory.Apply(Heard(7));
        memory.Put(Version(6), memory.Generation);

        Assert.Null(Held(memory));
        memory.Put(Version(7), memory.Generation);
        Assert.Equal(7, Held(memory));
    }

    [Theory]
    [InlineData("garbage")]
    [InlineData("|5")]
    [InlineData("not-a-guid|5")]
    [InlineData("{0:D}|5")] // a GUID, but not in the feed's own (N) form
    [InlineData("{0:N}|x")]
    [InlineData("{0:N}|-1")]
    [InlineData("{0:N}|")]
    public async Task AnItemThisHostCannotRead_ForgetsEverything_AndVoidsReadsInFlight(string format)
    {
        var (memory, _, _) = await CurrentAsync();
        var other = Guid.NewGuid();
        memory.Put(Version(3), memory.Generation);
        memory.Put(new UserRow { Id = other, Version = 1 }, memory.Generation);
        var inFlight = memory.Generation;

        memory.Apply(string.Format(System.Globalization.CultureInfo.InvariantCulture, format, _id));

        Assert.Null(Held(memory));
        Assert.False(memory.TryGet(other, out _));
        memory.Put(Version(3), inFlight); // read before the memory was cleared: not kept
        Assert.Null(Held(memory));
        memory.Put(Version(3), memory.Generation);
        Assert.Equal(3, Held(memory));
    }

    [Fact]
    public async Task AResetOfTheFeed_VoidsEverything_AsAnUnreadableItemDoes()
    {
        var (memory, _, _) = await CurrentAsync();
        memory.Put(Version(3), memory.Generation);
        var inFlight = memory.Generation;

        await memory.ResetAsync(CancellationToken.None);

        Assert.Null(Held(memory));
        memory.Put(Version(3), inFlight);
        Assert.Null(Held(memory));
    }

    [Fact]
    public async Task AKeptVersion_AnswersForTheCacheTtl_AndNotASecondLonger()
    {
        var (memory, feed, time) = await CurrentAsync();
        memory.Put(Version(3), memory.Generation);

        time.Advance(Ttl - TimeSpan.FromSeconds(1));
        await feed.PollAsync(CancellationToken.None); // keep the feed current: only the entry's own age counts here
        Assert.Equal(3, Held(memory));

        time.Advance(TimeSpan.FromSeconds(2));
        await feed.PollAsync(CancellationToken.None);
        Assert.Null(Held(memory));
    }

    [Fact]
    public async Task AtItsBoundOf100000Profiles_TheMemoryStartsOver_RatherThanGrow()
    {
        var (memory, _, _) = await CurrentAsync();
        memory.Put(Version(1), memory.Generation);
        for (var i = 1; i < 100_000; i++)
        {
            memory.Put(new UserRow { Id = Guid.NewGuid(), Version = 1 }, memory.Generation);
        }

        Assert.Equal(1, Held(memory)); // 100,000 kept
        var generation = memory.Generation;
        memory.Put(new UserRow { Id = Guid.NewGuid(), Version = 1 }, generation); // one more: everything is dropped

        Assert.Null(Held(memory));
        Assert.NotEqual(generation, memory.Generation);
    }

    [Fact]
    public async Task WhileTheFeedIsNotCurrent_NothingIsAnswered()
    {
        var (memory, feed, time) = await CurrentAsync();
        memory.Put(Version(3), memory.Generation);

        time.Advance(TimeSpan.FromSeconds(1)); // past ChangeFeed:Bound without a read

        Assert.False(feed.IsCurrent);
        Assert.Null(Held(memory));
        await feed.PollAsync(CancellationToken.None);
        Assert.Equal(3, Held(memory));
    }
}
