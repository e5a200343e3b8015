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
            var inner = services.Single(d => d.ServiceType == typeof(ISharedState));
            services.Remove(inner);
            services.AddSingleton(faults);
            services.AddSingleton<ISharedState>(sp => new FaultySharedState(
                (ISharedState)(inner.ImplementationFactory?.Invoke(sp) ?? ActivatorUtilities.CreateInstance(sp, inner.ImplementationType!)), faults));
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

    public sealed class CacheFaults
    {
        private volatile bool _failVersionedWrites;

        public bool FailVersionedWrites { get => _failVersionedWrites; set => _failVersionedWrites = value; }
    }

    private sealed class FaultySharedState(ISharedState inner, CacheFaults faults) : ISharedState
    {
        private static SharedStateUnavailableException Down() => new("injected: Redis unreachable");

        public Task<(long Count, TimeSpan Remaining)> IncrementAsync(string key, TimeSpan window) => inner.IncrementAsync(key, window);

        public Task<(long Count, TimeSpan Remaining)> GetCounterAsync(string key) => inner.GetCounterAsync(key);

        public Task DecrementAsync(string key) => inner.DecrementAsync(key);

        public Task SetFlagAsync(string key, TimeSpan ttl) => inner.SetFlagAsync(key, ttl);

        public Task<bool[]> ExistAsync(string[] keys, CancellationToken cancellationToken = default) => inner.ExistAsync(keys, cancellationToken);

        public Task SetTextAsync(string key, string value) => inner.SetTextAsync(key, value);

        public Task<bool> SetIfGuardAsync(string key, string value, string guardKey, string guardValue) =>
            inner.SetIfGuardAsync(key, value, guardKey, guardValue);

        public Task DeleteAsync(string key) => inner.DeleteAsync(key);

        public Task<VersionedEntry?> GetVersionedAsync(string key) => inner.GetVersionedAsync(key);

        public Task<bool> SetVersionedIfNewerAsync(string key, VersionedEntry entry, TimeSpan ttl) =>
            faults.FailVersionedWrites ? throw Down() : inner.SetVersionedIfNewerAsync(key, entry, ttl);
    }
}
