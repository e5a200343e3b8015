using Dapper;
using Grpc.Core;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Npgsql;
using PyAirtable.Contracts.Auth;
using PyAirtable.Contracts.Common;
using PyAirtable.Contracts.Users;
using PyAirtable.IntegrationTests.Infrastructure;
using PyAirtable.Services.Auth;
using PyAirtable.Services.Infrastructure.Errors;
using static PyAirtable.IntegrationTests.Identity.AuthenticationTests;

namespace PyAirtable.IntegrationTests.Identity;

/// <summary>
/// Sessions at their edges, over gRPC: what Login and Refresh return, the input they refuse and where the limits lie, an
/// expired or deactivated account's refresh, logging out another session of one's own, and old password hashes.
/// </summary>
public sealed class SessionTests(IdentityFixture fixture) : IClassFixture<IdentityFixture>, IDisposable
{
    private TestHost Host => fixture.Host;

    public void Dispose() => fixture.AssertNoUnexpectedErrors();

    [Fact]
    public async Task LoginAndRefresh_ReturnBearerTokens_WithTheConfiguredLifetimes()
    {
        var user = await Host.RegisterAsync();
        var started = DateTime.UtcNow;
        var login = (await Host.Auth().LoginAsync(new LoginRequest { Email = user.Email, Password = user.Password })).Tokens!;
        var refreshed = (await Host.Auth().RefreshAsync(new RefreshRequest { RefreshToken = login.RefreshToken })).Tokens!;

        foreach (var tokens in new[] { login, refreshed })
        {
            Assert.Equal("Bearer", tokens.TokenType);
            Assert.StartsWith("rt_", tokens.RefreshToken, StringComparison.Ordinal);
            Assert.Equal(started + TimeSpan.FromMinutes(15), tokens.AccessTokenExpiresAt!.Value, TimeSpan.FromSeconds(10));
            Assert.Equal(started + TimeSpan.FromDays(30), tokens.RefreshTokenExpiresAt!.Value, TimeSpan.FromSeconds(10));
        }
    }

    [Fact]
    public async Task Login_RefusesAMissingOrOverlongPassword_AsInvalid_AndOneOfTheLongestLengthIsChecked()
    {
        var user = await Host.RegisterAsync();
        foreach (var password in new[] { "", new string('x', Validation.MaxPasswordLength + 1) })
        {
            var invalid = await Assert.ThrowsAsync<RpcException>(async () =>
                await Host.Auth().LoginAsync(new LoginRequest { Email = user.Email, Password = password }));
            AssertStatus(invalid, StatusCode.InvalidArgument);
            Assert.Equal("password", invalid.GetRpcStatus()!.GetDetail<Google.Rpc.BadRequest>().FieldViolations.Single().Field);
        }

        var wrong = await Assert.ThrowsAsync<RpcException>(async () => await Host.Auth().LoginAsync(
            new LoginRequest { Email = user.Email, Password = new string('x', Validation.MaxPasswordLength) }));
        AssertStatus(wrong, StatusCode.Unauthenticated);
    }

    [Fact]
    public async Task Login_NamesEachInvalidField()
    {
        var invalid = await Assert.ThrowsAsync<RpcException>(async () =>
            await Host.Auth().LoginAsync(new LoginRequest { Email = "not-an-address", Password = "" }));
        AssertStatus(invalid, StatusCode.InvalidArgument);
        Assert.Equal(["email", "password"],
            invalid.GetRpcStatus()!.GetDetail<Google.Rpc.BadRequest>().FieldViolations.Select(v => v.Field));
    }

    [Fact]
    public async Task Refresh_RefusesWhatCannotBeARefreshToken_AsInvalid_AndAnUnknownOneAsUnauthenticated()
    {
        foreach (var token in new[] { "", "rt_" + new string('x', 198) })
        {
            var invalid = await Assert.ThrowsAsync<RpcException>(async () => await Host.Auth().RefreshAsync(new RefreshRequest { RefreshToken = token }));
            AssertStatus(invalid, StatusCode.InvalidArgument);
            Assert.Equal("refresh_token", invalid.GetRpcStatus()!.GetDetail<Google.Rpc.BadRequest>().FieldViolations.Single().Field);
        }

        var unknown = await Assert.ThrowsAsync<RpcException>(async () =>
            await Host.Auth().RefreshAsync(new RefreshRequest { RefreshToken = "rt_" + new string('x', 197) })); // 200 characters
        AssertStatus(unknown, StatusCode.Unauthenticated, "invalid_refresh_token");
    }

    [Fact]
    public async Task Refresh_OfAnExpiredRefreshToken_SaysExpired_AndOfADeactivatedAccount_SaysSo()
    {
        var user = await Host.RegisterAsync();
        var other = (await Host.Auth().LoginAsync(new LoginRequest { Email = user.Email, Password = user.Password })).Tokens!;
        await SqlAsync("UPDATE auth.refresh_tokens SET expires_at = now() - interval '1 second' WHERE token_hash = @hash",
            new { hash = TokenService.Hash(user.Tokens.RefreshToken) });

        var expired = await Assert.ThrowsAsync<RpcException>(async () =>
            await Host.Auth().RefreshAsync(new RefreshRequest { RefreshToken = user.Tokens.RefreshToken }));
        AssertStatus(expired, StatusCode.Unauthenticated, "expired");

        await SqlAsync("UPDATE auth.credentials SET disabled_at = now() WHERE user_id = @id", new { id = Guid.Parse(user.UserId) });
        var deactivated = await Assert.ThrowsAsync<RpcException>(async () =>
            await Host.Auth().RefreshAsync(new RefreshRequest { RefreshToken = other.RefreshToken }));
        AssertStatus(deactivated, StatusCode.Unauthenticated, "account_deactivated");
        var login = await Assert.ThrowsAsync<RpcException>(async () =>
            await Host.Auth().LoginAsync(new LoginRequest { Email = user.Email, Password = user.Password }));
        AssertStatus(login, StatusCode.Unauthenticated, "account_deactivated");
    }

    [Fact]
    public async Task Refresh_IsRefusedFromTheInstantItsTokenExpires_AndTakenUpToIt()
    {
        // A host whose clock stands still, so that the test can put a refresh token's expiry on "now" to the microsecond.
        var start = DateTime.UtcNow;
        var time = new FakeTimeProvider(new DateTimeOffset(start.Ticks - start.Ticks % TimeSpan.TicksPerMicrosecond, TimeSpan.Zero));
        await using var host = await TestHost.StartAsync(fixture.Database.ConnectionString,
            options => options.ConfigureServices = services => services.AddSingleton<TimeProvider>(time));
        var user = await host.RegisterAsync();
        var now = time.GetUtcNow().UtcDateTime;

        await SqlAsync("UPDATE auth.refresh_tokens SET expires_at = @at WHERE token_hash = @hash",
            new { at = now.AddTicks(TimeSpan.TicksPerMicrosecond), hash = TokenService.Hash(user.Tokens.RefreshToken) });
        var refreshed = (await host.Auth().RefreshAsync(new RefreshRequest { RefreshToken = user.Tokens.RefreshToken })).Tokens!;

        await SqlAsync("UPDATE auth.refresh_tokens SET expires_at = @at WHERE token_hash = @hash",
            new { at = now, hash = TokenService.Hash(refreshed.RefreshToken) });
        AssertStatus(await Assert.ThrowsAsync<RpcException>(async () =>
            await host.Auth().RefreshAsync(new RefreshRequest { RefreshToken = refreshed.RefreshToken })),
            StatusCode.Unauthenticated, "expired");
    }

    [Fact]
    public async Task AnEndedSession_RecordsWhyItEnded_AndItsRefreshIsToldToLogInAgain()
    {
        var loggedOut = await Host.RegisterAsync();
        var replayed = await Host.RegisterAsync();
        var expired = await Host.RegisterAsync();
        await Host.Auth().LogoutAsync(new LogoutRequest(), loggedOut.Bearer);
        await Host.Auth().RefreshAsync(new RefreshRequest { RefreshToken = replayed.Tokens.RefreshToken });
        await SqlAsync("UPDATE auth.refresh_tokens SET expires_at = now() - interval '1 second' WHERE token_hash = @hash",
            new { hash = TokenService.Hash(expired.Tokens.RefreshToken) });

        foreach (var (user, cause) in new[] { (loggedOut, "revoked"), (replayed, "refresh_token_reused"), (expired, "expired") })
        {
            var refused = await Assert.ThrowsAsync<RpcException>(async () =>
                await Host.Auth().RefreshAsync(new RefreshRequest { RefreshToken = user.Tokens.RefreshToken }));
            AssertStatus(refused, StatusCode.Unauthenticated, cause);
            Assert.Contains("log in again", refused.Status.Detail, StringComparison.OrdinalIgnoreCase); // what the client is to do
        }

        // Operators read auth.sessions to tell a user why they were logged out.
        foreach (var (user, reason) in new[] { (loggedOut, "logout"), (replayed, "refresh_token_reuse") })
        {
            Assert.Equal(reason, await QueryAsync<string>(
                "SELECT revoked_reason FROM auth.sessions WHERE user_id = @id", new { id = Guid.Parse(user.UserId) }));
        }
    }

    [Fact]
    public async Task Logout_WithARefreshToken_EndsThatSessionOfTheCaller_NotTheCallingOne_AndNeverAnotherUsers()
    {
        var user = await Host.RegisterAsync();
        var stranger = await Host.RegisterAsync();
        var laptop = (await Host.Auth().LoginAsync(new LoginRequest { Email = user.Email, Password = user.Password })).Tokens!;

        var foreign = await Assert.ThrowsAsync<RpcException>(async () =>
            await Host.Auth().LogoutAsync(new LogoutRequest { RefreshToken = stranger.Tokens.RefreshToken }, user.Bearer));
        AssertStatus(foreign, StatusCode.InvalidArgument);
        Assert.Equal("refresh_token", foreign.GetRpcStatus()!.GetDetail<Google.Rpc.BadRequest>().FieldViolations.Single().Field);
        await Host.Auth().RefreshAsync(new RefreshRequest { RefreshToken = stranger.Tokens.RefreshToken }); // untouched
        var unknown = await Assert.ThrowsAsync<RpcException>(async () =>
            await Host.Auth().LogoutAsync(new LogoutRequest { RefreshToken = "rt_" + Guid.NewGuid().ToString("N") }, user.Bearer));
        AssertStatus(unknown, StatusCode.InvalidArgument);
        Assert.Equal("refresh_token", unknown.GetRpcStatus()!.GetDetail<Google.Rpc.BadRequest>().FieldViolations.Single().Field);

        await Host.Auth().LogoutAsync(new LogoutRequest { RefreshToken = laptop.RefreshToken }, user.Bearer);
        AssertStatus(await Assert.ThrowsAsync<RpcException>(async () =>
            await Host.Auth().RefreshAsync(new RefreshRequest { RefreshToken = laptop.RefreshToken })), StatusCode.Unauthenticated, "revoked");
        AssertStatus(await Assert.ThrowsAsync<RpcException>(async () => await Host.Users().GetUserAsync(
            new GetUserRequest { UserId = user.UserId }, Identities.WithBearer(laptop.AccessToken))), StatusCode.Unauthenticated, "revoked");
        await Host.Users().GetUserAsync(new GetUserRequest { UserId = user.UserId }, user.Bearer); // the calling session goes on

        // An API key has no session to end, but may end one of its user's sessions by its refresh token.
        var key = await Host.Auth().CreateApiKeyAsync(new CreateApiKeyRequest { Name = "k", Scopes = [Scopes.UsersRead] }, user.Bearer);
        AssertStatus(await Assert.ThrowsAsync<RpcException>(async () =>
            await Host.Auth().LogoutAsync(new LogoutRequest(), Identities.WithApiKey(key.Secret))), StatusCode.FailedPrecondition);
        await Host.Auth().LogoutAsync(new LogoutRequest { RefreshToken = user.Tokens.RefreshToken }, Identities.WithApiKey(key.Secret));
        AssertStatus(await Assert.ThrowsAsync<RpcException>(async () =>
            await Host.Users().GetUserAsync(new GetUserRequest { UserId = user.UserId }, user.Bearer)), StatusCode.Unauthenticated, "revoked");
    }

    [Fact]
    public async Task Login_WithAPasswordHashOfAnOlderFormat_Succeeds_AndStoresTheCurrentFormat()
    {
        var user = await Host.RegisterAsync();
        var old = new PasswordHasher<AuthService.Account>(Options.Create(new PasswordHasherOptions
        {
            CompatibilityMode = PasswordHasherCompatibilityMode.IdentityV2,
        })).HashPassword(AuthService.Account.Instance, user.Password);
        await SqlAsync("UPDATE auth.credentials SET password_hash = @old WHERE user_id = @id", new { old, id = Guid.Parse(user.UserId) });

        await Host.Auth().LoginAsync(new LoginRequest { Email = user.Email, Password = user.Password });

        var stored = await QueryAsync<string>("SELECT password_hash FROM auth.credentials WHERE user_id = @id", new { id = Guid.Parse(user.UserId) });
        Assert.Equal(0x01, Convert.FromBase64String(stored)[0]); // IdentityV3: PBKDF2 with SHA-512 and the current iteration count
        await Host.Auth().LoginAsync(new LoginRequest { Email = user.Email, Password = user.Password });
    }

    private async Task SqlAsync(string sql, object parameters)
    {
        await using var connection = new NpgsqlConnection(fixture.Database.ConnectionString);
        await connection.ExecuteAsync(sql, parameters);
    }

    private async Task<T> QueryAsync<T>(string sql, object parameters)
    {
        await using var connection = new NpgsqlConnection(fixture.Database.ConnectionString);
        return await connection.QuerySingleAsync<T>(sql, parameters);
    }
}
