using Grpc.Core;
using PyAirtable.Contracts.Auth;
using PyAirtable.Contracts.Users;
using PyAirtable.IntegrationTests.Infrastructure;
using static PyAirtable.IntegrationTests.Identity.AuthenticationTests;

namespace PyAirtable.IntegrationTests.Identity;

/// <summary>What the gateway remembers about a token never outlives what the token allows.</summary>
public sealed class TokenLifetimeTests : DatabasePerTest
{
    [Fact]
    public async Task AVerifiedTokenKeptByTheGateway_IsRefusedOnceItExpires()
    {
        await using var host = await TestHost.StartAsync(Database.ConnectionString, o =>
        {
            // Long enough for registering and one call on a loaded box (2 s was not, once), short enough to wait out.
            o.Settings["Auth:AccessTokenLifetime"] = "00:00:06";
            o.Settings["Auth:ClockSkew"] = "00:00:00";
        });
        var user = await host.RegisterAsync();
        await host.Users().GetUserAsync(new GetUserRequest { UserId = user.UserId }, user.Bearer); // verified and kept

        var left = user.Tokens.AccessTokenExpiresAt!.Value - DateTime.UtcNow;
        await Task.Delay(left > TimeSpan.Zero ? left + TimeSpan.FromSeconds(1.2) : TimeSpan.FromSeconds(1.2));
        AssertStatus(await Assert.ThrowsAsync<RpcException>(async () =>
            await host.Users().GetUserAsync(new GetUserRequest { UserId = user.UserId }, user.Bearer)), StatusCode.Unauthenticated, "expired");
    }

    [Fact]
    public async Task ValidateToken_AfterLogout_SaysRevoked()
    {
        await using var host = await TestHost.StartAsync(Database.ConnectionString);
        var user = await host.RegisterAsync();
        var asker = await host.RegisterAsync();
        Assert.True((await host.Auth().ValidateTokenAsync(new ValidateTokenRequest { AccessToken = user.Tokens.AccessToken }, asker.Bearer)).Valid);

        await host.Auth().LogoutAsync(new LogoutRequest(), user.Bearer);

        var verdict = await host.Auth().ValidateTokenAsync(new ValidateTokenRequest { AccessToken = user.Tokens.AccessToken }, asker.Bearer);
        Assert.False(verdict.Valid);
        Assert.Equal("revoked", verdict.Reason);
    }
}
