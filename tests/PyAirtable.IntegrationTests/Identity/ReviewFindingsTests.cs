using Dapper;
using Google.Rpc;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Npgsql;
using PyAirtable.Contracts.Auth;
using PyAirtable.Contracts.Users;
using PyAirtable.IntegrationTests.Infrastructure;
using PyAirtable.Services.Infrastructure.SharedState;
using StackExchange.Redis;
using static PyAirtable.IntegrationTests.Identity.AuthenticationTests;

namespace PyAirtable.IntegrationTests.Identity;

/// <summary>Defects found in review, each pinned by a test that failed before its fix.</summary>
public sealed class ReviewFindingsTests : DatabasePerTest
{
    [Fact]
    public async Task ParallelWrongPasswords_CannotOutrunTheLockout()
    {
        await using var host = await TestHost.StartAsync(Database.ConnectionString, o =>
        {
            o.Settings["Auth:Lockout:MaxFailuresPerPair"] = "3";
            o.Settings["Auth:Lockout:MaxFailuresPerClient"] = "100000";
        });
        var user = await host.RegisterAsync();

        var attempts = await Task.WhenAll(Enumerable.Range(0, 24).Select(async i =>
        {
            try
            {
                await host.Auth().LoginAsync(new LoginRequest { Email = user.Email, Password = "guess-number-" + i });
                return StatusCode.OK;
            }
            catch (RpcException ex)
            {
                return ex.StatusCode;
            }
        }));

        // Only as many guesses as the limit may reach the password check; the rest are refused unseen.
        Assert.True(attempts.Count(s => s == StatusCode.Unauthenticated) <= 3, string.Join(",", attempts));
        Assert.Equal(24 - attempts.Count(s => s == StatusCode.Unauthenticated), attempts.Count(s => s == StatusCode.ResourceExhausted));
    }

    [Fact]
    public async Task ApiKeys_CannotRotateSigningKeys_OrMintKeysThatOutliveThem()
    {
        await using var host = await TestHost.StartAsync(Database.ConnectionString);
        var admin = await host.RegisterAdminAsync(Database.ConnectionString);
        var key = await host.Auth().CreateApiKeyAsync(new CreateApiKeyRequest
        {
            Name = "short", Scopes = [Scopes.ApiKeysManage, Scopes.UsersRead], ExpiresAt = DateTime.UtcNow.AddHours(1),
        }, admin.Bearer);
        var withKey = Identities.WithApiKey(key.Secret);

        var rotate = await Assert.ThrowsAsync<RpcException>(async () => await host.Auth().RotateSigningKeyAsync(new RotateSigningKeyRequest(), withKey));
        AssertStatus(rotate, StatusCode.PermissionDenied);

        var forever = await Assert.ThrowsAsync<RpcException>(async () =>
            await host.Auth().CreateApiKeyAsync(new CreateApiKeyRequest { Name = "forever", Scopes = [Scopes.UsersRead] }, withKey));
        AssertStatus(forever, StatusCode.InvalidArgument);
        Assert.Contains(forever.GetRpcStatus()!.GetDetail<BadRequest>().FieldViolations, v => v.Field == "expires_at");
        var longer = await Assert.ThrowsAsync<RpcException>(async () => await host.Auth().CreateApiKeyAsync(
            new CreateApiKeyRequest { Name = "longer", Scopes = [Scopes.UsersRead], ExpiresAt = DateTime.UtcNow.AddDays(2) }, withKey));
        AssertStatus(longer, StatusCode.InvalidArgument);

        // Within its own lifetime it may.
        await host.Auth().CreateApiKeyAsync(new CreateApiKeyRequest { Name = "ok", Scopes = [Scopes.UsersRead], ExpiresAt = DateTime.UtcNow.AddMinutes(30) }, withKey);
    }

    [Fact]
    public async Task BadApiKey_WithAuthOnAnotherHost_IsUnauthenticated_NotAnInternalError()
    {
        await using var authHost = await TestHost.StartAsync(Database.ConnectionString, o => o.Name = "auth-host");
        await using var edge = await TestHost.StartAsync(Database.ConnectionString, o =>
        {
            o.Name = "edge";
            o.Settings["Remote:pyairtable.auth.v1.AuthService"] = authHost.GrpcAddress;
        });
        var user = await authHost.RegisterAsync();

        var ex = await Assert.ThrowsAsync<RpcException>(async () =>
            await edge.Users().GetUserAsync(new GetUserRequest { UserId = user.UserId }, Identities.WithApiKey("pat_" + new string('A', 43))));
        AssertStatus(ex, StatusCode.Unauthenticated, "invalid_api_key");

        // A good key is validated by the remote Auth service and works on the edge.
        var key = await authHost.Auth().CreateApiKeyAsync(new CreateApiKeyRequest { Name = "k", Scopes = [Scopes.UsersRead] }, user.Bearer);
        var me = await edge.Users().GetUserAsync(new GetUserRequest { UserId = user.UserId }, Identities.WithApiKey(key.Secret));
        Assert.Equal(user.Email, me.User!.Email);
    }

    [Fact]
    public async Task OrphanProfile_DoesNotBlockTheEmailForever()
    {
        await using var host = await TestHost.StartAsync(Database.ConnectionString);
        var email = Identities.NewEmail();
        // What a lost CreateUser reply leaves behind: a profile whose account was rolled back.
        await using (var connection = new NpgsqlConnection(Database.ConnectionString))
        {
            await connection.ExecuteAsync("INSERT INTO users.users (id, email, display_name) VALUES (gen_random_uuid(), @email, 'Orphan')", new { email });
        }

        var registered = await host.Auth().RegisterAsync(new RegisterRequest { Email = email, Password = "a-long-password", DisplayName = "Owner" });
        var login = await host.Auth().LoginAsync(new LoginRequest { Email = email, Password = "a-long-password" });
        var me = await host.Users().GetUserAsync(new GetUserRequest { UserId = registered.UserId }, Identities.WithBearer(login.Tokens!.AccessToken));
        Assert.Equal("Owner", me.User!.DisplayName);
    }

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
