using PyAirtable.Services.Infrastructure.SharedState;

namespace PyAirtable.UnitTests;

/// <summary>
/// The in-process cache voided by the change feed: a value is served only in the generation it was read in, a read that
/// started before an invalidation cannot store its (possibly stale) value after it, and the cache stays within its bound.
/// </summary>
public sealed class GenerationCacheTests
{
    [Fact]
    public void AValuePutInTheCurrentGeneration_IsServed_AndAMissingOneIsNot()
    {
        var cache = new GenerationCache<string, string>(10);
        Assert.False(cache.TryGet("a", out var missing));
        Assert.Null(missing);

        cache.Put("a", "1", cache.Generation);
        Assert.True(cache.TryGet("a", out var value));
        Assert.Equal("1", value);
        Assert.False(cache.TryGet("b", out _));
    }

    [Fact]
    public void Invalidate_VoidsEveryValueHeld_AndEveryReadStartedBeforeIt()
    {
        var cache = new GenerationCache<string, string>(10);
        var before = cache.Generation;
        cache.Put("a", "old", before);

        cache.Invalidate();
        Assert.NotEqual(before, cache.Generation);
        Assert.False(cache.TryGet("a", out _));

        cache.Put("a", "read before the write", before); // a slow reader comes back after the change was applied
        Assert.False(cache.TryGet("a", out _));

        cache.Put("a", "new", cache.Generation);
        Assert.True(cache.TryGet("a", out var value));
        Assert.Equal("new", value);
    }

    [Fact]
    public void VoidedValues_TakeNoRoomFromTheBound()
    {
        var cache = new GenerationCache<int, int>(3);
        cache.Put(1, 1, cache.Generation);
        cache.Put(2, 2, cache.Generation);
        cache.Invalidate();

        cache.Put(3, 3, cache.Generation);
        cache.Put(4, 4, cache.Generation); // two live values under a bound of three: both kept
        Assert.True(cache.TryGet(3, out _));
        Assert.True(cache.TryGet(4, out _));

        var stale = cache.Generation;
        cache.Invalidate();
        cache.Put(5, 5, cache.Generation);
        cache.Put(6, 6, stale); // a value read before the invalidation is not kept at all
        cache.Put(7, 7, cache.Generation);
        Assert.True(cache.TryGet(5, out _));
        Assert.True(cache.TryGet(7, out _));
    }

    [Fact]
    public void PastItsBound_TheCacheStartsAgainEmpty()
    {
        var cache = new GenerationCache<int, int>(2);
        cache.Put(1, 1, cache.Generation);
        cache.Put(2, 2, cache.Generation);
        Assert.True(cache.TryGet(1, out _));
        Assert.True(cache.TryGet(2, out _));

        cache.Put(3, 3, cache.Generation); // a third entry: the two held are dropped, the new one kept
        Assert.False(cache.TryGet(1, out _));
        Assert.False(cache.TryGet(2, out _));
        Assert.True(cache.TryGet(3, out var three));
        Assert.Equal(3, three);

        cache.Put(3, 33, cache.Generation); // replacing a held key within the bound keeps the others
        cache.Put(4, 4, cache.Generation);
        Assert.True(cache.TryGet(3, out var replaced));
        Assert.Equal(33, replaced);
        Assert.True(cache.TryGet(4, out _));
    }
}
