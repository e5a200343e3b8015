using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using PyAirtable.Contracts.Permissions;
using PyAirtable.Services.Infrastructure.SharedState;
using PyAirtable.Services.Permissions;
using PyAirtable.Services.Permissions.Stores;

namespace PyAirtable.UnitTests;

/// <summary>
/// When a host may answer a permission check from memory: only while its change feed is current, only with a decision
/// computed after the last write it applied, and for a consistency token only once it applied that very revision.
/// </summary>
public sealed class PermissionDecisionCacheTests
{
    private static readonly Query Check = new(Guid.NewGuid(), ResourceType.Base, Guid.NewGuid());
    private static readonly Decision Editor = new(true, PermissionLevel.Edit, "grant on base x");

    private static async Task<(PermissionDecisionCache Cache, ChangeFeed Feed, MemorySharedState State, FakeTimeProvider Time)> CurrentAsync()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var state = new MemorySharedState(time);
        var services = new ServiceCollection();
        services.AddSingleton<PermissionDecisionCache>();
        services.AddSingleton<IChangeFollower>(s => s.GetRequiredService<PermissionDecisionCache>());
        services.AddSingleton(s => new ChangeFeed(state, s, Options.Create(new ChangeFeedOptions()), time, NullLogger<ChangeFeed>.Instance));
        var provider = services.BuildServiceProvider();
        var feed = provider.GetRequiredService<ChangeFeed>();
        await feed.PollAsync(CancellationToken.None);
        Assert.True(feed.IsCurrent);
        return (provider.GetRequiredService<PermissionDecisionCache>(), feed, state, time);
    }

    [Fact]
    public async Task ADecisionComputedSinceTheLastWrite_Answers_WithItsToken()
    {
        var (cache, _, _, _) = await CurrentAsync();
        Assert.False(cache.TryGet(Check, null, out _, out _));

        cache.Put(Check, Editor, "r7", cache.Generation);

        Assert.True(cache.TryGet(Check, null, out var decision, out var token));
        Assert.Equal(Editor, decision);
        Assert.Equal("r7", token);
        Assert.False(cache.TryGet(Check with { UserId = Guid.NewGuid() }, null, out _, out _)); // another user's question
    }

    [Fact]
    public async Task AWriteAppliedWhileADecisionWasComputed_VoidsIt_AndEveryKeptDecision()
    {
        var (cache, _, _, _) = await CurrentAsync();
        cache.Put(Check, Editor, "r1", cache.Generation);
        var other = Check with { ResourceId = Guid.NewGuid() };
        var generation = cache.Generation; // a check starts computing

        cache.Apply("2"); // a write, on any host

        cache.Put(other, Editor, "r1", generation); // computed before the write: not kept
        Assert.False(cache.TryGet(other, null, out _, out _));
        Assert.False(cache.TryGet(Check, null, out _, out _)); // one write invalidates everything
    }

    [Fact]
    public async Task AHostWhoseFeedIsNotCurrent_DoesNotAnswer()
    {
        var (cache, feed, _, time) = await CurrentAsync();
        cache.Put(Check, Editor, "r1", cache.Generation);

        time.Advance(TimeSpan.FromSeconds(1)); // past ChangeFeed:Bound without a read
        Assert.False(feed.IsCurrent);
        Assert.False(cache.TryGet(Check, null, out _, out _));
    }

    [Fact]
    public async Task ACheckWithAToken_IsAnsweredOnlyOnceThisHostAppliedThatRevision()
    {
        var (cache, _, _, _) = await CurrentAsync();
        cache.Apply("5");
        cache.Put(Check, Editor, "r5", cache.Generation);

        Assert.True(cache.TryGet(Check, 5, out _, out _));
        Assert.False(cache.TryGet(Check, 6, out _, out _)); // the token's holder is ahead of this host
        Assert.True(cache.TryGet(Check, null, out _, out _));

        cache.Apply("not-a-revision"); // still invalidates, records nothing
        cache.Put(Check, Editor, "r5", cache.Generation);
        Assert.True(cache.TryGet(Check, 5, out _, out _));
        Assert.False(cache.TryGet(Check, 6, out _, out _));
    }

    [Fact]
    public async Task TheRevisionsKept_AreBounded_AndARebuildForgetsThem()
    {
        var (cache, _, _, _) = await CurrentAsync();
        for (var revision = 1; revision <= 10_000; revision++)
        {
            cache.Apply(revision.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        cache.Put(Check, Editor, "r10000", cache.Generation);
        Assert.True(cache.TryGet(Check, 1, out _, out _)); // 10,000 kept

        cache.Apply("10001"); // the 10,001st starts afresh: older tokens go to PostgreSQL
        cache.Put(Check, Editor, "r10001", cache.Generation);
        Assert.False(cache.TryGet(Check, 1, out _, out _));
        Assert.True(cache.TryGet(Check, 10_001, out _, out _));

        await cache.ResetAsync(CancellationToken.None);
        Assert.False(cache.TryGet(Check, null, out _, out _)); // a rebuild voids the decisions
        cache.Put(Check, Editor, "r10001", cache.Generation);
        Assert.False(cache.TryGet(Check, 10_001, out _, out _)); // and the revisions applied before it
        Assert.True(cache.TryGet(Check, null, out _, out _));
    }

    [Fact]
    public void FeedItems_AreTheRevisionOfTheToken()
    {
        Assert.Equal("42", PermissionDecisionCache.ItemFor("r42"));
        Assert.Equal('p', new PermissionDecisionCache(null!).Kind);
    }
}
