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
        host.Logs.TakeErrors(_ => false);
    }
}
