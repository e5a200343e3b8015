using Dapper;
using Grpc.Core;
using Npgsql;
using ProtoBuf.Grpc.Client;
using PyAirtable.Contracts.Auth;
using PyAirtable.Contracts.Common;
using PyAirtable.Contracts.Users;
using PyAirtable.IntegrationTests.Diagnostics;
using PyAirtable.IntegrationTests.Infrastructure;
using PyAirtable.Services.Infrastructure.SharedState;
using static PyAirtable.IntegrationTests.Identity.AuthenticationTests;

namespace PyAirtable.IntegrationTests.Identity;

/// <summary>
/// Identity when services are split across hosts: the same code, bound to a remote contract by
/// configuration, with one Redis (same instance name) and one database.
/// </summary>
public sealed class SplitHostIdentityTests : DatabasePerTest
{
    private readonly string _redisPrefix = $"split-{Guid.NewGuid():N}:";

    private Task<TestHost> StartAsync(string name, params (string Key, string Value)[] settings) =>
        TestHost.StartAsync(Database.ConnectionString, name, _redisPrefix, settings);

    [Fact]
    public async Task UsersOnAnotherHost_RegisterCreatesTheProfileThere_AndGetUserCarriesTheCallersToken()
    {
        await using var users = await StartAsync("users-host");
        await using var edge = await StartAsync("edge", ($"Remote:pyairtable.users.v1.UserService", users.GrpcAddress));

        // Register on the edge: its Auth service calls the remote User service with a service token.
        var user = await edge.RegisterAsync("Split Person");

        // The users host verifies the token the edge issued (JWKS through the contract) and serves the profile.
        var profile = await users.Users().GetUserAsync(new GetUserRequest { UserId = user.UserId }, user.Bearer);
        Assert.Equal("Split Person", profile.User!.DisplayName);

        // The edge serves only what runs there: clients call the users host for profiles.
        var notHere = await Assert.ThrowsAsync<RpcException>(async () =>
            await edge.Users().GetUserAsync(new GetUserRequest { UserId = user.UserId }, user.Bearer));
        Assert.Equal(StatusCode.Unimplemented, notHere.StatusCode);

        // The service token is not a way in for users: CreateUser refuses a user's token on the users host.
        var denied = await Assert.ThrowsAsync<RpcException>(async () => await users.Users().CreateUserAsync(
            new CreateUserRequest { UserId = Guid.NewGuid().ToString(), Email = Identities.NewEmail(), DisplayName = "x" }, user.Bearer));
        AssertStatus(denied, StatusCode.PermissionDenied);
    }

    [Fact]
    public async Task Register_WhileTheUserServiceIsDown_IsUnavailable_LeavesNoAccount_AndTheAddressRegistersOnceItIsBack()
    {
        var usersAddress = $"http://127.0.0.1:{TestEnvironment.FreeTcpPort()}";
        await using var edge = await StartAsync("edge", ("Remote:pyairtable.users.v1.UserService", usersAddress));
        var request = new RegisterRequest { Email = Identities.NewEmail(), Password = "a-long-password-1", DisplayName = "Later" };

        // The account is written first, then the profile is asked of the User service, which is down.
        var down = await Assert.ThrowsAsync<RpcException>(async () => await edge.Auth().RegisterAsync(request));
        Assert.Equal(StatusCode.Unavailable, down.StatusCode);

        // No account without a profile: the half-made account is gone, so the address is not taken.
        await using (var connection = new NpgsqlConnection(Database.ConnectionString))
        {
            Assert.Equal(0, await connection.ExecuteScalarAsync<int>("SELECT count(*) FROM auth.credentials WHERE email = @email",
                new { email = request.Email }));
        }

        // Once the User service is back (the edge reconnects after its backoff: until then the answer is still UNAVAILABLE,
        // and each such attempt is undone the same way), the same address registers.
        await using var users = await StartAsync("users-host", ("Kestrel:Endpoints:Grpc:Url", usersAddress));
        RegisterResponse? registered = null;
        await Eventually.TrueAsync(async () =>
        {
            try
            {
                registered = await edge.Auth().RegisterAsync(request);
                return true;
            }
            catch (RpcException ex) when (ex.StatusCode == StatusCode.Unavailable)
            {
                return false;
            }
        }, "the address registers once the User service is back", TimeSpan.FromSeconds(30));
        var login = await edge.Auth().LoginAsync(new LoginRequest { Email = request.Email, Password = request.Password });
        Assert.Equal(registered!.UserId, login.UserId);
    }

    [Fact]
    public async Task RemoteCall_CarriesTheUserContext()
    {
        await using var backend = await StartAsync("backend");
        await using var edge = await StartAsync("edge", ($"Remote:{TestHost.DiagnosticsServiceName}", backend.GrpcAddress));
        var user = await edge.RegisterAsync();

        var echo = await edge.Channel.CreateGrpcService<IRelayService>().EchoAsync(new EchoRequest { Text = "who" }, user.Bearer);

        var seen = echo.Metadata!.UserContext!; // as the backend's gateway established it
        Assert.Equal(user.UserId, seen.UserId);
        Assert.Equal(user.Email, seen.Email);
        Assert.Equal(AuthMethod.Jwt, seen.AuthMethod);
        Assert.False(string.IsNullOrEmpty(seen.CredentialId));
    }

    [Fact]
    public async Task Revocations_ApplyOnEveryHost()
    {
        await using var a = await StartAsync("a");
        await using var b = await StartAsync("b");
        var user = await a.RegisterAsync();
        var key = await a.Auth().CreateApiKeyAsync(new CreateApiKeyRequest { Name = "k", Scopes = [Scopes.UsersRead] }, user.Bearer);
        // b validates both credentials once, so it holds them in its caches.
        await b.Users().GetUserAsync(new GetUserRequest { UserId = user.UserId }, user.Bearer);
        await b.Users().GetUserAsync(new GetUserRequest { UserId = user.UserId }, Identities.WithApiKey(key.Secret));

        await a.Auth().RevokeApiKeyAsync(new RevokeApiKeyRequest { Id = key.ApiKey!.Id }, user.Bearer);
        await a.Auth().LogoutAsync(new LogoutRequest(), user.Bearer);

        // b checks credentials in memory, trusting its copy only while it was proven current within ChangeFeed:Bound: once the
        // bound has passed since the revoking calls returned, b must refuse whether it answers from memory or from Redis.
        await Task.Delay(new ChangeFeedOptions().Bound);
        var token = await Assert.ThrowsAsync<RpcException>(async () => await b.Users().GetUserAsync(new GetUserRequest { UserId = user.UserId }, user.Bearer));
        AssertStatus(token, StatusCode.Unauthenticated, "revoked");
        var apiKey = await Assert.ThrowsAsync<RpcException>(async () =>
            await b.Users().GetUserAsync(new GetUserRequest { UserId = user.UserId }, Identities.WithApiKey(key.Secret)));
        AssertStatus(apiKey, StatusCode.Unauthenticated, "revoked");
    }

    [Fact]
    public async Task KeyRotatedOnOneHost_TokensSignedWithTheNewKeyWorkOnTheOther()
    {
        await using var a = await StartAsync("a");
        await using var b = await StartAsync("b");
        var admin = await a.RegisterAdminAsync(Database.ConnectionString);
        var user = await a.RegisterAsync();
        await b.Users().GetUserAsync(new GetUserRequest { UserId = user.UserId }, user.Bearer); // b loads the JWKS now

        var rotated = await a.Auth().RotateSigningKeyAsync(new RotateSigningKeyRequest(), admin.Bearer);
        var fresh = await a.Auth().LoginAsync(new LoginRequest { Email = user.Email, Password = user.Password });
        Assert.Equal(rotated.Kid, new Microsoft.IdentityModel.JsonWebTokens.JsonWebToken(fresh.Tokens!.AccessToken).Kid);

        // The new key was published before it signed: b already knows it, and the old token still works.
        await b.Users().GetUserAsync(new GetUserRequest { UserId = user.UserId }, Identities.WithBearer(fresh.Tokens.AccessToken));
        await b.Users().GetUserAsync(new GetUserRequest { UserId = user.UserId }, user.Bearer);
    }

    [Fact]
    public async Task Deactivation_DisablesTheAccount_WhenTheEventCrossesHostsOnTheStream()
    {
        // The users host writes and relays UserDeactivated; the Auth host, which relays nothing, consumes it from Redis.
        await using var authHost = await StartAsync("auth-host", ("Events:RelayEnabled", "false"));
        await using var usersHost = await StartAsync("users-host", ("Remote:pyairtable.auth.v1.AuthService", authHost.GrpcAddress));
        var user = await authHost.RegisterAsync();

        await usersHost.Users().DeactivateUserAsync(new DeactivateUserRequest { UserId = user.UserId }, user.Bearer);

        await using var connection = new Npgsql.NpgsqlConnection(Database.ConnectionString);
        await Eventually.TrueAsync(async () => await Dapper.SqlMapper.ExecuteScalarAsync<bool>(connection,
            "SELECT disabled_at IS NOT NULL FROM auth.credentials WHERE user_id = @id", new { id = Guid.Parse(user.UserId) }),
            "the account is disabled in PostgreSQL (not only in Redis, whose entry expires)");
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
    public async Task RevokedAndExpiredApiKeys_WithAuthOnAnotherHost_SaySo()
    {
        await using var authHost = await StartAsync("auth-host");
        await using var edge = await StartAsync("edge", ("Remote:pyairtable.auth.v1.AuthService", authHost.GrpcAddress));
        var user = await authHost.RegisterAsync();
        var revoked = await authHost.Auth().CreateApiKeyAsync(new CreateApiKeyRequest { Name = "r", Scopes = [Scopes.UsersRead] }, user.Bearer);
        await authHost.Auth().RevokeApiKeyAsync(new RevokeApiKeyRequest { Id = revoked.ApiKey!.Id }, user.Bearer);
        var expires = DateTime.UtcNow.AddSeconds(6); // room for the create on a slow box: the wait is measured from it
        var expiring = await authHost.Auth().CreateApiKeyAsync(new CreateApiKeyRequest
        {
            Name = "e", Scopes = [Scopes.UsersRead], ExpiresAt = expires,
        }, user.Bearer);

        // The edge asks the remote Auth service, whose own gateway refuses the key with the cause: the edge passes it on.
        var probe = new GetUserRequest { UserId = user.UserId };
        AssertStatus(await Assert.ThrowsAsync<RpcException>(async () => await edge.Users().GetUserAsync(probe, Identities.WithApiKey(revoked.Secret))),
            StatusCode.Unauthenticated, "revoked");
        var left = expires.AddSeconds(1) - DateTime.UtcNow;
        await Task.Delay(left > TimeSpan.Zero ? left : TimeSpan.Zero);
        AssertStatus(await Assert.ThrowsAsync<RpcException>(async () => await edge.Users().GetUserAsync(probe, Identities.WithApiKey(expiring.Secret))),
            StatusCode.Unauthenticated, "expired");
    }
    [Fact]
    public async Task AnApiKey_WhenTheRemoteAuthServiceIsUnreachable_IsUnavailable_NotRefused()
    {
        await using var edge = await StartAsync("edge", ("Remote:pyairtable.auth.v1.AuthService", "http://127.0.0.1:9"));

        // A verdict on the credentials is not possible: the caller is told to retry, not that the key is bad.
        var ex = await Assert.ThrowsAsync<RpcException>(async () => await edge.Users().GetUserAsync(
            new GetUserRequest { UserId = Guid.NewGuid().ToString() }, Identities.WithApiKey("pat_" + new string('A', 43))));
        Assert.Equal(StatusCode.Unavailable, ex.StatusCode);

        // The operator is told why calls are refused: a warning naming the failure, never the key.
        edge.WaitForQuiet();
        var warning = Assert.Single(edge.Logs.Entries, e => e.Category == "PyAirtable.Gateway.Authentication");
        Assert.Equal(Microsoft.Extensions.Logging.LogLevel.Warning, warning.Level);
        Assert.Contains("could not be checked", warning.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("pat_", warning.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AKeyTheEdgeHasVerified_KeepsWorkingThere_WhileTheAuthHostIsDown()
    {
        var authHost = await StartAsync("auth-host");
        await using var edge = await StartAsync("edge", ("Remote:pyairtable.auth.v1.AuthService", authHost.GrpcAddress));
        var user = await authHost.RegisterAsync();
        var key = await authHost.Auth().CreateApiKeyAsync(new CreateApiKeyRequest { Name = "k", Scopes = [Scopes.UsersRead] }, user.Bearer);
        var probe = new GetUserRequest { UserId = user.UserId };
        await edge.Users().GetUserAsync(probe, Identities.WithApiKey(key.Secret)); // validated by the Auth host, and kept

        await authHost.DisposeAsync();

        // Within Auth:ApiKeyCacheDuration the edge answers from its kept verdict (revocation is still checked, in the shared state).
        var me = await edge.Users().GetUserAsync(probe, Identities.WithApiKey(key.Secret));
        Assert.Equal(user.Email, me.User!.Email);
    }
}
