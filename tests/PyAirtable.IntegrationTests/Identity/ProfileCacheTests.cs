using Microsoft.Extensions.DependencyInjection;
using PyAirtable.Contracts.Users;
using PyAirtable.IntegrationTests.Infrastructure;
using PyAirtable.Services.Infrastructure.SharedState;

namespace PyAirtable.IntegrationTests.Identity;

/// <summary>
/// The profile cache when Redis misbehaves: GetUser falls back to PostgreSQL, and a change whose new version cannot be
/// cached leaves no stale entry behind.
/// </summary>
public sealed class ProfileCacheTests : DatabasePerTest
{
    [Fact]
    public async Task ProfileCacheWritesFailing_GetUserAnswersFromTheDatabase_AndUpdatesLeaveNoStaleEntry()
    {
        var faults = new CacheFaults();
        await using var host = await TestHost.StartAsync(Database.ConnectionString, o => o.ConfigureServices = services =>
        {
            FaultySharedState.Install(services, faults);
        });
        var user = await host.RegisterAsync("First");
        var first = await host.Users().GetUserAsync(new GetUserRequest { UserId = user.UserId }, user.Bearer); // cached v1

        faults.FailVersionedWrites = true;
        var updated = await host.Users().UpdateUserAsync(new UpdateUserRequest { UserId = user.UserId, Etag = first.Cache!.Etag, DisplayName = "Second" }, user.Bearer);
        Assert.Equal("Second", updated.User!.DisplayName);

        var read = await host.Users().GetUserAsync(new GetUserRequest { UserId = user.UserId }, user.Bearer);
        Assert.Equal("Second", read.User!.DisplayName); // not the cached v1
        // Nor will another host read v1 from the shared level: the entry the change could not replace is gone.
        Assert.Null(await host.App.Services.GetRequiredService<ISharedState>().GetVersionedAsync(KeyOf(user.UserId)));
        host.Logs.TakeErrors(_ => false);
    }

    [Fact]
    public async Task AProfileOneHostRead_IsInTheSharedLevelForTheOthers_AndAnUpdateStoresItsNewVersionThere()
    {
        var prefix = $"profiles-{Guid.NewGuid():N}:";
        await using var a = await TestHost.StartAsync(Database.ConnectionString, "a", prefix, []);
        await using var b = await TestHost.StartAsync(Database.ConnectionString, "b", prefix, []);
        var shared = a.App.Services.GetRequiredService<ISharedState>();
        var user = await a.RegisterAsync("Shared");
        var get = new GetUserRequest { UserId = user.UserId };

        var read = await a.Users().GetUserAsync(get, user.Bearer);
        Assert.Equal(VersionOf(read.Cache!.Etag), (await shared.GetVersionedAsync(KeyOf(user.UserId)))?.Version);
        // b never read it: it answers with what a stored there, field by field the same.
        Assert.Equal(read.User, (await b.Users().GetUserAsync(get, user.Bearer)).User);

        var updated = await b.Users().UpdateUserAsync(
            new UpdateUserRequest { UserId = user.UserId, Etag = read.Cache.Etag, DisplayName = "Changed" }, user.Bearer);
        Assert.Equal(VersionOf(updated.User!.Etag), (await shared.GetVersionedAsync(KeyOf(user.UserId)))?.Version);
    }

    [Fact]
    public async Task AWarmRead_AsksTheSharedLevelNothing_WhetherTheHostReadTheProfileFromPostgreSqlOrFromRedis()
    {
        // The hot path's promise: once a host holds a profile, reading it touches no network. Shown by the shared level
        // failing every read afterwards: a host that still asked it would log that the cache is away.
        var prefix = $"warm-{Guid.NewGuid():N}:";
        var faultsA = new CacheFaults();
        var faultsB = new CacheFaults();
        await using var a = await TestHost.StartAsync(Database.ConnectionString, "a", prefix, [],
            o => o.ConfigureServices = services => FaultySharedState.Install(services, faultsA));
        await using var b = await TestHost.StartAsync(Database.ConnectionString, "b", prefix, [],
            o => o.ConfigureServices = services => FaultySharedState.Install(services, faultsB));
        var user = await a.RegisterAsync("Warm");
        var get = new GetUserRequest { UserId = user.UserId };
        var fromPostgres = await a.Users().GetUserAsync(get, user.Bearer); // a: cold, from PostgreSQL, then kept
        var fromRedis = await b.Users().GetUserAsync(get, user.Bearer); // b: from what a stored in Redis, then kept

        faultsA.FailVersionedReads = faultsB.FailVersionedReads = true;
        Assert.Equal(fromPostgres.User, (await a.Users().GetUserAsync(get, user.Bearer)).User);
        Assert.Equal(fromRedis.User, (await b.Users().GetUserAsync(get, user.Bearer)).User);
        Assert.DoesNotContain(a.Logs.Entries.Concat(b.Logs.Entries),
            l => l.Message.StartsWith("Profile cache unavailable", StringComparison.Ordinal));
    }

    private static string KeyOf(string userId) => "users:user:" + Guid.Parse(userId).ToString("N");

    private static long VersionOf(string etag) => long.Parse(etag.AsSpan(1), System.Globalization.CultureInfo.InvariantCulture);
}
