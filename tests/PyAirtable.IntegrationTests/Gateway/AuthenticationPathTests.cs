using Grpc.Core;
using Grpc.Health.V1;
using Microsoft.AspNetCore.Authorization;
using Microsoft.Extensions.DependencyInjection;
using PyAirtable.Contracts.Auth;
using PyAirtable.Contracts.Users;
using PyAirtable.IntegrationTests.Identity;
using PyAirtable.IntegrationTests.Infrastructure;
using PyAirtable.IntegrationTests.Rest;
using static PyAirtable.IntegrationTests.Identity.AuthenticationTests;

namespace PyAirtable.IntegrationTests.Gateway;

/// <summary>
/// How much work the gateway does to find out who calls: a token is verified (parsed, signature-checked) once per host, and a call
/// without credentials builds no authentication handler. Seen through ASP.NET Core's own authentication log lines.
/// </summary>
public sealed class AuthenticationPathTests : DatabasePerTest
{
    private const string AuthenticationCategory = "Microsoft.AspNetCore.Authentication";

    [Fact]
    public async Task AVerifiedToken_IsNotVerifiedAgain_AndAnonymousCallsAreNotAuthenticated()
    {
        await using var host = await TestHost.StartAsync(Database.ConnectionString, o => o.Settings[$"Logging:LogLevel:{AuthenticationCategory}"] = "Debug");
        var user = await host.RegisterAsync();
        for (var i = 0; i < 3; i++)
        {
            await host.Users().GetUserAsync(new GetUserRequest { UserId = user.UserId }, user.Bearer);
            await host.Health.CheckAsync(new HealthCheckRequest());
        }

        host.WaitForQuiet();
        var lines = host.Logs.Entries.Where(e => e.Category.StartsWith(AuthenticationCategory, StringComparison.Ordinal)).ToList();
        Assert.Single(lines, e => e.Message.Contains("Successfully validated the token", StringComparison.Ordinal));
        Assert.DoesNotContain(lines, e => e.Message.Contains("was not authenticated", StringComparison.Ordinal));
    }

    [Fact]
    public async Task AVerifiedToken_IsAuthorizedByTheShortcut_OnceTheEndpointsPolicyIsKnown()
    {
        const string authorization = "Microsoft.AspNetCore.Authorization";
        await using var host = await TestHost.StartAsync(Database.ConnectionString, o => o.Settings[$"Logging:LogLevel:{authorization}"] = "Debug");
        var user = await host.RegisterAsync();
        host.WaitForQuiet();
        int Evaluated() => host.Logs.Entries.Count(e => e.Category.StartsWith(authorization, StringComparison.Ordinal)
            && e.Message.Contains("Authorization was successful", StringComparison.Ordinal));
        var before = Evaluated();
        for (var i = 0; i < 3; i++)
        {
            await host.Users().GetUserAsync(new GetUserRequest { UserId = user.UserId }, user.Bearer);
        }

        host.WaitForQuiet();
        // The first call (its token verified just now) is authorized by ASP.NET Core's middleware, which also teaches the shortcut
        // the endpoint's policy; the next ones, with the kept token, are not.
        Assert.Equal(1, Evaluated() - before);
    }

    [Fact]
    public async Task AVerifiedToken_IsNotVerifiedAgain_OnLaterCalls()
    {
        // WebApplication puts its own authentication middleware at the head of the pipeline unless told one is in place: every
        // call would then run JwtBearer in full before the gateway's cached path, answering the same but at full cost.
        const string authentication = "Microsoft.AspNetCore.Authentication";
        await using var host = await TestHost.StartAsync(Database.ConnectionString, o => o.Settings[$"Logging:LogLevel:{authentication}"] = "Debug");
        var user = await host.RegisterAsync();
        host.WaitForQuiet();
        int Verified() => host.Logs.Entries.Count(e => e.Category.StartsWith(authentication, StringComparison.Ordinal)
            && e.Message.Contains("Successfully validated the token", StringComparison.Ordinal));
        var before = Verified();
        for (var i = 0; i < 3; i++)
        {
            await host.Users().GetUserAsync(new GetUserRequest { UserId = user.UserId }, user.Bearer);
        }

        host.WaitForQuiet();
        Assert.Equal(1, Verified() - before); // the first call verifies the token; the host keeps it for the next ones
    }

    [Fact]
    public async Task ATokenWhoseSessionEndedBeforeThisHostSawIt_IsRefusedAsRevoked()
    {
        await using var host = await TestHost.StartAsync(Database.ConnectionString);
        var user = await host.RegisterAsync();
        var other = (await host.Auth().LoginAsync(new LoginRequest { Email = user.Email, Password = user.Password })).Tokens!;

        // The other session ends before its access token is ever presented: the first verification must see that.
        await host.Auth().LogoutAsync(new LogoutRequest { RefreshToken = other.RefreshToken }, user.Bearer);

        var refused = await Assert.ThrowsAsync<RpcException>(async () => await host.Users().GetUserAsync(
            new GetUserRequest { UserId = user.UserId }, Identities.WithBearer(other.AccessToken)));
        AssertStatus(refused, StatusCode.Unauthenticated, "revoked");
        await host.Users().GetUserAsync(new GetUserRequest { UserId = user.UserId }, user.Bearer); // the caller's own session goes on
    }

    [Fact]
    public async Task AnRpcThatNamesNoScope_IsStillRefusedToAnonymousCallers_BeforeItsMessageIsRead()
    {
        await using var host = await TestHost.StartAsync(Database.ConnectionString);

        // Logout declares neither [AllowAnonymous] nor a scope: the gateway's fallback policy (an authenticated caller) decides.
        var refused = await Assert.ThrowsAsync<RpcException>(() => Adversarial.Adversary.CallRawAsync(host.Channel,
            "pyairtable.auth.v1.AuthService", "Logout", [0xff, 0xff, 0xff, 0xff]));
        AssertStatus(refused, StatusCode.Unauthenticated, "missing_credentials");
    }

    [Fact]
    public async Task AnAuthorizationHandlerTheHostAdds_DecidesEveryCall_KeptTokensIncluded()
    {
        var handler = new CountingHandler();
        await using var host = await TestHost.StartAsync(Database.ConnectionString,
            o => o.ConfigureServices = services => services.AddSingleton<IAuthorizationHandler>(handler));
        var user = await host.RegisterAsync();
        var before = handler.Calls;
        for (var i = 0; i < 3; i++)
        {
            await host.Users().GetUserAsync(new GetUserRequest { UserId = user.UserId }, user.Bearer);
        }

        // The gateway's shortcut cannot know what such a handler decides: it stands aside, and the handler sees all three calls.
        Assert.Equal(3, handler.Calls - before);
    }

    private sealed class CountingHandler : IAuthorizationHandler
    {
        private int _calls;

        public int Calls => Volatile.Read(ref _calls);

        public Task HandleAsync(AuthorizationHandlerContext context)
        {
            if (context.Resource is Microsoft.AspNetCore.Http.HttpContext http
                && http.Request.Path.Value?.EndsWith("/GetUser", StringComparison.Ordinal) == true)
            {
                Interlocked.Increment(ref _calls);
            }

            return Task.CompletedTask;
        }
    }

    [Fact]
    public async Task AVerifiedToken_IsRefusedOnceLoggedOut_AndOthersKeepTheirs()
    {
        await using var host = await TestHost.StartAsync(Database.ConnectionString);
        var user = await host.RegisterAsync();
        var other = await host.RegisterAsync();
        await host.Users().GetUserAsync(new GetUserRequest { UserId = user.UserId }, user.Bearer); // verified and kept
        await host.Users().GetUserAsync(new GetUserRequest { UserId = other.UserId }, other.Bearer);

        await host.Auth().LogoutAsync(new LogoutRequest(), user.Bearer);

        AssertStatus(await Assert.ThrowsAsync<RpcException>(async () =>
            await host.Users().GetUserAsync(new GetUserRequest { UserId = user.UserId }, user.Bearer)), StatusCode.Unauthenticated, "revoked");
        var mine = await host.Users().GetUserAsync(new GetUserRequest { UserId = other.UserId }, other.Bearer);
        Assert.Equal(other.UserId, mine.User!.Id);
    }

    [Fact]
    public async Task AnHttpCallThatIsNotGrpc_IsRefusedWith401_WithoutBeingToldWhyItsTokenFailed()
    {
        // Only what is not a contract's route reaches authorization without a gRPC content type (the JSON API's calls are rewritten
        // into gRPC before it): ASP.NET Core's 401 with a bare challenge. Why a token failed (a bad signature, a malformed token)
        // is not the caller's to learn: it would help whoever forges tokens.
        await using var host = await TestHost.StartAsync(Database.ConnectionString);
        var user = await host.RegisterAsync();
        var token = user.Tokens.AccessToken;
        var signature = token.LastIndexOf('.') + 10;
        var forged = token[..signature] + (token[signature] == 'A' ? 'B' : 'A') + token[(signature + 1)..];
        using var http = host.RestClient();
        foreach (var authorization in new[] { null, "Bearer not-a-token", "Bearer " + forged })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/v1/nothing-here");
            if (authorization is not null)
            {
                request.Headers.TryAddWithoutValidation("authorization", authorization);
            }

            using var response = await http.SendAsync(request);
            Assert.Equal(System.Net.HttpStatusCode.Unauthorized, response.StatusCode);
            Assert.Equal("Bearer", Assert.Single(response.Headers.WwwAuthenticate).ToString());
            Assert.False(response.Headers.Contains("grpc-status"));
        }

        // The genuine token passes authorization and finds no route.
        Assert.Equal(System.Net.HttpStatusCode.NotFound, (await http.CallAsync(HttpMethod.Get, "/v1/nothing-here", bearer: token)).Status);
    }
}
