using Dapper;
using Google.Rpc;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using ProtoBuf.Grpc;
using PyAirtable.Contracts.Auth;
using PyAirtable.Contracts.Common;
using PyAirtable.Contracts.Events;
using PyAirtable.Contracts.Users;
using PyAirtable.IntegrationTests.Infrastructure;
using StackExchange.Redis;
using static PyAirtable.IntegrationTests.Identity.AuthenticationTests;

namespace PyAirtable.IntegrationTests.Identity;

/// <summary>The User service and API keys through real gRPC calls.</summary>
public sealed class UserAndApiKeyTests(IdentityFixture fixture) : IClassFixture<IdentityFixture>, IDisposable
{
    private TestHost Host => fixture.Host;

    public void Dispose() => fixture.AssertNoUnexpectedErrors();

    [Fact]
    public async Task UpdateUser_NoReaderSeesTheOldProfileAfterItReturns_AndEtagsRevalidate()
    {
        var user = await Host.RegisterAsync("Before");
        var warm = await Host.Users().GetUserAsync(new GetUserRequest { UserId = user.UserId }, user.Bearer);
        Assert.Equal("Before", warm.User!.DisplayName);
        Assert.True(warm.Cache!.ExpiresAt > DateTime.UtcNow);

        // Warm: the caller's etag is current, so no body comes back.
        var notModified = await Host.Users().GetUserAsync(new GetUserRequest { UserId = user.UserId, IfNoneMatch = warm.Cache.Etag }, user.Bearer);
        Assert.True(notModified.NotModified);
        Assert.Null(notModified.User);

        var updated = await Host.Users().UpdateUserAsync(new UpdateUserRequest { UserId = user.UserId, Etag = warm.Cache.Etag, DisplayName = "After", TimeZone = "Europe/Paris" }, user.Bearer);
        Assert.NotEqual(warm.Cache.Etag, updated.Cache!.Etag);

        var read = await Host.Users().GetUserAsync(new GetUserRequest { UserId = user.UserId, IfNoneMatch = warm.Cache.Etag }, user.Bearer);
        Assert.False(read.NotModified);
        Assert.Equal("After", read.User!.DisplayName);
        Assert.Equal("Europe/Paris", read.User.TimeZone);
        Assert.Equal(updated.Cache.Etag, read.Cache!.Etag);

        // A second writer still holding the old etag is refused and told the current one.
        var stale = await Assert.ThrowsAsync<RpcException>(async () =>
            await Host.Users().UpdateUserAsync(new UpdateUserRequest { UserId = user.UserId, Etag = warm.Cache.Etag, DisplayName = "Lost update" }, user.Bearer));
        var info = AssertStatus(stale, StatusCode.FailedPrecondition);
        Assert.Equal(updated.Cache.Etag, info.Metadata["current_etag"]);
    }

    [Fact]
    public async Task GetUser_IsServedFromRedis_AndTheCacheNeverGoesBackToAnOlderVersion()
    {
        var user = await Host.RegisterAsync();
        var first = await Host.Users().GetUserAsync(new GetUserRequest { UserId = user.UserId }, user.Bearer);
        await using var redis = await ConnectionMultiplexer.ConnectAsync(TestEnvironment.Redis);
        var prefix = Host.App.Services.GetRequiredService<Microsoft.Extensions.Configuration.IConfiguration>()["Redis:InstanceName"];
        var key = prefix + "users:user:" + Guid.Parse(user.UserId).ToString("N");
        Assert.Equal("1", (string?)await redis.GetDatabase().HashGetAsync(key, "v"));

        // The database changes behind the cache's back: a warm read still answers from Redis…
        await using (var connection = new NpgsqlConnection(fixture.Database.ConnectionString))
        {
            await connection.ExecuteAsync("UPDATE users.users SET display_name = 'behind the cache' WHERE id = @id", new { id = Guid.Parse(user.UserId) });
        }

        var cached = await Host.Users().GetUserAsync(new GetUserRequest { UserId = user.UserId }, user.Bearer);
        Assert.Equal(first.User!.DisplayName, cached.User!.DisplayName);

        // …and cache-control: no-cache reads PostgreSQL.
        var fresh = await Host.Users().GetUserAsync(new GetUserRequest { UserId = user.UserId },
            new CallContext(new CallOptions(new Metadata { { "authorization", "Bearer " + user.Tokens.AccessToken }, { "cache-control", "no-cache" } })));
        Assert.Equal("behind the cache", fresh.User!.DisplayName);
    }

    [Fact]
    public async Task ListUsers_WalksEveryUserOnce_WhileUsersAreInserted()
    {
        var admin = await Host.RegisterAdminAsync(fixture.Database.ConnectionString);
        await using var connection = new NpgsqlConnection(fixture.Database.ConnectionString);
        await connection.ExecuteAsync(
            "INSERT INTO users.users (id, email, display_name) SELECT gen_random_uuid(), 'bulk-' || gen_random_uuid() || '@example.com', 'Bulk ' || g FROM generate_series(1, 600) g");
        var existing = (await connection.QueryAsync<Guid>("SELECT id FROM users.users")).Select(id => id.ToString()).ToHashSet();

        using var stop = new CancellationTokenSource();
        var writer = Task.Run(async () =>
        {
            await using var insertConnection = new NpgsqlConnection(fixture.Database.ConnectionString);
            for (var i = 0; i < 200 && !stop.IsCancellationRequested; i++)
            {
                await insertConnection.ExecuteAsync("INSERT INTO users.users (id, email, display_name) VALUES (gen_random_uuid(), 'late-' || gen_random_uuid() || '@example.com', 'Late')");
            }
        });

        var seen = new List<string>();
        string? cursor = null;
        var pages = 0;
        do
        {
            var page = await Host.Users().ListUsersAsync(new ListUsersRequest { Pagination = new PaginationRequest { PageSize = 17, Cursor = cursor } }, admin.Bearer);
            seen.AddRange(page.Users.Select(u => u.Id));
            Assert.True(page.Pagination!.TotalCount >= existing.Count);
            Assert.Equal(page.Pagination.HasNext, page.Pagination.NextCursor is not null);
            cursor = page.Pagination.NextCursor;
            pages++;
        }
        while (cursor is not null && pages < 1000);

        await stop.CancelAsync();
        await writer;
        Assert.Equal(seen.Count, seen.Distinct().Count()); // no duplicates
        Assert.Empty(existing.Except(seen)); // every user that existed when the walk began

        var capped = await Host.Users().ListUsersAsync(new ListUsersRequest { Pagination = new PaginationRequest { PageSize = 100000 } }, admin.Bearer);
        Assert.Equal(500, capped.Users.Count);

        // A plain user lists only themself.
        var user = await Host.RegisterAsync();
        var own = await Host.Users().ListUsersAsync(new ListUsersRequest(), user.Bearer);
        Assert.Equal([user.UserId], own.Users.Select(u => u.Id));
        Assert.Equal(1, own.Pagination!.TotalCount);
    }

    [Fact]
    public async Task GetUsers_KeepsRequestOrder_AndListsMissingIds()
    {
        var admin = await Host.RegisterAdminAsync(fixture.Database.ConnectionString);
        var a = await Host.RegisterAsync();
        var b = await Host.RegisterAsync();
        var missing = Guid.NewGuid().ToString();

        var response = await Host.Users().GetUsersAsync(new GetUsersRequest { UserIds = [b.UserId, missing, a.UserId, b.UserId] }, admin.Bearer);

        Assert.Equal([b.UserId, a.UserId, b.UserId], response.Users.Select(u => u.Id));
        Assert.Equal([missing], response.MissingIds);

        // Without a shared workspace, others' profiles are invisible to a plain user (reported as missing, not leaked).
        var own = await Host.Users().GetUsersAsync(new GetUsersRequest { UserIds = [a.UserId, b.UserId] }, a.Bearer);
        Assert.Equal([a.UserId], own.Users.Select(u => u.Id));
        Assert.Equal([b.UserId], own.MissingIds);
    }

    [Fact]
    public async Task DeactivateUser_TokensAndApiKeysStopAtOnce_AndLoginIsRefused()
    {
        var user = await Host.RegisterAsync();
        var key = await Host.Auth().CreateApiKeyAsync(new CreateApiKeyRequest { Name = "ci", Scopes = [Scopes.UsersRead] }, user.Bearer);
        await Host.Users().GetUserAsync(new GetUserRequest { UserId = user.UserId }, Identities.WithApiKey(key.Secret));

        var deactivated = await Host.Users().DeactivateUserAsync(new DeactivateUserRequest { UserId = user.UserId }, user.Bearer);
        Assert.Equal(UserStatus.Deactivated, deactivated.User!.Status);

        var token = await Assert.ThrowsAsync<RpcException>(async () => await Host.Users().GetUserAsync(new GetUserRequest { UserId = user.UserId }, user.Bearer));
        AssertStatus(token, StatusCode.Unauthenticated, "revoked");
        var apiKey = await Assert.ThrowsAsync<RpcException>(async () => await Host.Users().GetUserAsync(new GetUserRequest { UserId = user.UserId }, Identities.WithApiKey(key.Secret)));
        AssertStatus(apiKey, StatusCode.Unauthenticated, "revoked");
        var login = await Assert.ThrowsAsync<RpcException>(async () => await Host.Auth().LoginAsync(new LoginRequest { Email = user.Email, Password = user.Password }));
        AssertStatus(login, StatusCode.Unauthenticated, "account_deactivated");
        var refresh = await Assert.ThrowsAsync<RpcException>(async () => await Host.Auth().RefreshAsync(new RefreshRequest { RefreshToken = user.Tokens.RefreshToken }));
        Assert.Equal(StatusCode.Unauthenticated, refresh.StatusCode);

        // The durable record follows through the outbox: the account is disabled in the auth schema too.
        await using var connection = new NpgsqlConnection(fixture.Database.ConnectionString);
        await Eventually.TrueAsync(async () => await connection.ExecuteScalarAsync<bool>(
            "SELECT disabled_at IS NOT NULL FROM auth.credentials WHERE user_id = @id", new { id = Guid.Parse(user.UserId) }), "the account is disabled");
    }

    [Fact]
    public async Task ApiKey_CreateUseListRevoke_AndScopesLimitIt()
    {
        var user = await Host.RegisterAsync();
        var created = await Host.Auth().CreateApiKeyAsync(new CreateApiKeyRequest { Name = "reporting", Scopes = [Scopes.UsersRead] }, user.Bearer);
        Assert.StartsWith("pat_", created.Secret, StringComparison.Ordinal);
        Assert.StartsWith(created.ApiKey!.Prefix, created.Secret, StringComparison.Ordinal);

        var withKey = Identities.WithApiKey(created.Secret);
        var me = await Host.Users().GetUserAsync(new GetUserRequest { UserId = user.UserId }, withKey);
        Assert.Equal(user.Email, me.User!.Email);

        // Scope denial: the key may read, not write, and not manage keys.
        var write = await Assert.ThrowsAsync<RpcException>(async () =>
            await Host.Users().UpdateUserAsync(new UpdateUserRequest { UserId = user.UserId, Etag = me.Cache!.Etag, DisplayName = "via key" }, withKey));
        Assert.Equal(Scopes.UsersWrite, AssertStatus(write, StatusCode.PermissionDenied).Metadata["required_scope"]);
        var mint = await Assert.ThrowsAsync<RpcException>(async () =>
            await Host.Auth().CreateApiKeyAsync(new CreateApiKeyRequest { Name = "escalate", Scopes = [Scopes.UsersWrite] }, withKey));
        AssertStatus(mint, StatusCode.PermissionDenied);

        var listed = await Host.Auth().ListApiKeysAsync(new ListApiKeysRequest(), user.Bearer);
        var entry = Assert.Single(listed.ApiKeys);
        Assert.Equal(created.ApiKey.Prefix, entry.Prefix);
        Assert.Equal([Scopes.UsersRead], entry.Scopes);
        Assert.NotNull(entry.LastUsedAt);
        await using (var connection = new NpgsqlConnection(fixture.Database.ConnectionString))
        {
            var stored = await connection.QuerySingleAsync<string>("SELECT encode(secret_hash, 'hex') FROM auth.api_keys WHERE id = @id", new { id = Guid.Parse(entry.Id) });
            Assert.DoesNotContain(created.Secret, stored, StringComparison.Ordinal); // only a hash is kept
        }

        var revoked = await Host.Auth().RevokeApiKeyAsync(new RevokeApiKeyRequest { Id = entry.Id }, user.Bearer);
        Assert.NotNull(revoked.ApiKey!.RevokedAt);
        var after = await Assert.ThrowsAsync<RpcException>(async () => await Host.Users().GetUserAsync(new GetUserRequest { UserId = user.UserId }, withKey));
        AssertStatus(after, StatusCode.Unauthenticated, "revoked");

        var bogus = await Assert.ThrowsAsync<RpcException>(async () => await Host.Users().GetUserAsync(new GetUserRequest { UserId = user.UserId }, Identities.WithApiKey("pat_not-a-key")));
        AssertStatus(bogus, StatusCode.Unauthenticated, "invalid_api_key");

        var other = await Host.RegisterAsync();
        var foreign = await Assert.ThrowsAsync<RpcException>(async () => await Host.Auth().RevokeApiKeyAsync(new RevokeApiKeyRequest { Id = entry.Id }, other.Bearer));
        AssertStatus(foreign, StatusCode.NotFound);
    }

    [Fact]
    public async Task DomainEvents_AreWrittenTypedWithTheBusinessChange()
    {
        var user = await Host.RegisterAsync();
        var profile = await Host.Users().GetUserAsync(new GetUserRequest { UserId = user.UserId }, user.Bearer);
        await Host.Users().UpdateUserAsync(new UpdateUserRequest { UserId = user.UserId, Etag = profile.Cache!.Etag, DisplayName = "Renamed" }, user.Bearer);
        var key = await Host.Auth().CreateApiKeyAsync(new CreateApiKeyRequest { Name = "k", Scopes = [Scopes.UsersRead] }, user.Bearer);
        await Host.Auth().RevokeApiKeyAsync(new RevokeApiKeyRequest { Id = key.ApiKey!.Id }, user.Bearer);
        await Host.Users().DeactivateUserAsync(new DeactivateUserRequest { UserId = user.UserId }, user.Bearer);

        await using var connection = new NpgsqlConnection(fixture.Database.ConnectionString);
        var events = (await connection.QueryAsync<(string Type, byte[] Payload, string Actor)>(
            "SELECT event_type, payload, actor_id FROM platform.outbox WHERE aggregate_id IN (@user, @key) ORDER BY id",
            new { user = user.UserId, key = key.ApiKey.Id })).ToList();
        Assert.Equal(
            [
                EventTypes.NameOf<UserRegistered>(), EventTypes.NameOf<UserUpdated>(), EventTypes.NameOf<ApiKeyCreated>(),
                EventTypes.NameOf<ApiKeyRevoked>(), EventTypes.NameOf<UserDeactivated>(),
            ], events.Select(e => e.Type));
        Assert.Equal("pyairtable.events.v1.UserRegistered", events[0].Type);
        Assert.Equal("Renamed", ProtoBuf.Serializer.Deserialize<UserUpdated>((ReadOnlyMemory<byte>)events[1].Payload).DisplayName);
        var created = ProtoBuf.Serializer.Deserialize<ApiKeyCreated>((ReadOnlyMemory<byte>)events[2].Payload);
        Assert.Equal((key.ApiKey.Id, user.UserId), (created.KeyId, created.UserId));
        Assert.Equal([Scopes.UsersRead], created.Scopes);
        Assert.Equal(user.UserId, events[4].Actor);
    }

    public static TheoryData<string, string, string, string> BadRegistrations => new()
    {
        { "x' OR 1=1 --", "long-enough-password", "Name", "email" },
        { "'; DROP TABLE auth.credentials; --@example.com", "long-enough-password", "Name", "email" },
        { new string('a', 250) + "@example.com", "long-enough-password", "Name", "email" },
        { "ok@example.com", "short", "Name", "password" },
        { "ok@example.com", new string('p', 10_000), "Name", "password" },
        { "ok@example.com", "long-enough-password", new string('n', 101), "display_name" },
        { "ok@example.com", "long-enough-password", "bell\u0007", "display_name" },
        { "ok@example.com", "long-enough-password", "   ", "display_name" },
    };

    [Theory]
    [MemberData(nameof(BadRegistrations))]
    public async Task Register_BadInput_InvalidArgumentWithFieldViolation(string email, string password, string name, string field)
    {
        var ex = await Assert.ThrowsAsync<RpcException>(async () =>
            await Host.Auth().RegisterAsync(new RegisterRequest { Email = email, Password = password, DisplayName = name }));
        AssertStatus(ex, StatusCode.InvalidArgument);
        Assert.Contains(ex.GetRpcStatus()!.GetDetail<BadRequest>().FieldViolations, v => v.Field == field);
    }

    [Fact]
    public async Task InjectionShapedIds_InvalidArgument_AndInjectionShapedNames_AreStoredVerbatim()
    {
        var user = await Host.RegisterAsync("Robert'); DROP TABLE users.users;--");
        foreach (var id in new[] { "1 OR 1=1", "' OR ''='", user.UserId + "'; --", new string('0', 5000) })
        {
            var ex = await Assert.ThrowsAsync<RpcException>(async () => await Host.Users().GetUserAsync(new GetUserRequest { UserId = id }, user.Bearer));
            AssertStatus(ex, StatusCode.InvalidArgument);
            Assert.Equal("user_id", ex.GetRpcStatus()!.GetDetail<BadRequest>().FieldViolations.Single().Field);
        }

        var batch = await Assert.ThrowsAsync<RpcException>(async () =>
            await Host.Users().GetUsersAsync(new GetUsersRequest { UserIds = [user.UserId, "x' OR 'a'='a"] }, user.Bearer));
        Assert.Equal("user_ids[1]", batch.GetRpcStatus()!.GetDetail<BadRequest>().FieldViolations.Single().Field);

        // Parameterized SQL: the name is data, the table is intact.
        var me = await Host.Users().GetUserAsync(new GetUserRequest { UserId = user.UserId }, user.Bearer);
        Assert.Equal("Robert'); DROP TABLE users.users;--", me.User!.DisplayName);

        var badUpdate = await Assert.ThrowsAsync<RpcException>(async () => await Host.Users().UpdateUserAsync(new UpdateUserRequest
        {
            UserId = user.UserId, Etag = me.Cache!.Etag, AvatarUrl = "javascript:alert(1)", TimeZone = "Mars/Olympus_Mons",
        }, user.Bearer));
        var fields = badUpdate.GetRpcStatus()!.GetDetail<BadRequest>().FieldViolations.Select(v => v.Field).ToList();
        Assert.Contains("avatar_url", fields);
        Assert.Contains("time_zone", fields);
    }

    [Fact]
    public async Task CreateUser_IsForTheAuthServiceOnly()
    {
        var user = await Host.RegisterAsync();
        var ex = await Assert.ThrowsAsync<RpcException>(async () => await Host.Users().CreateUserAsync(
            new CreateUserRequest { UserId = Guid.NewGuid().ToString(), Email = Identities.NewEmail(), DisplayName = "Sneaky" }, user.Bearer));
        AssertStatus(ex, StatusCode.PermissionDenied);
    }
}
