using Grpc.Core;
using PyAirtable.Contracts.Auth;
using PyAirtable.Contracts.Users;
using PyAirtable.IntegrationTests.Access;
using PyAirtable.IntegrationTests.Diagnostics;
using PyAirtable.IntegrationTests.Identity;
using PyAirtable.IntegrationTests.Infrastructure;

namespace PyAirtable.IntegrationTests.Adversarial;

/// <summary>
/// A request with two <c>x-api-key</c> lines, or two <c>authorization</c> lines, sent as two HTTP/2 header lines (which no gRPC
/// client sends: they join repeated values into one line). The gateway cannot know which one the client meant, nor whether
/// something between them added one: it refuses the call (UNAUTHENTICATED), never picks one, whether a line is valid, the
/// first or the second, and whether the gateway already keeps the credential verified.
/// </summary>
public sealed class DuplicateCredentialHeaderTests(IdentityFixture fixture) : IClassFixture<IdentityFixture>, IDisposable
{
    private const string GetUserPath = "/pyairtable.users.v1.UserService/GetUser";
    private const string EchoPath = "/" + TestHost.DiagnosticsServiceName + "/Echo";
    private static readonly string UnknownKey = "pat_" + new string('A', 43);

    private TestHost Host => fixture.Host;

    public void Dispose() => fixture.AssertNoUnexpectedErrors();

    private Task<RawHttp2.Response> CallAsync<T>(string path, T request, (string Name, string Value)[] headers)
    {
        var message = new MemoryStream();
        ProtoBuf.Serializer.Serialize(message, request);
        return RawHttp2.UnaryAsync(Host.GrpcAddress, path, message.ToArray(), headers);
    }

    /// <summary>GetUser of <paramref name="user"/> (a protected RPC: UNAUTHENTICATED unless the call is someone's).</summary>
    private Task<RawHttp2.Response> GetUserAsync(TestUser user, params (string Name, string Value)[] headers) =>
        CallAsync(GetUserPath, new GetUserRequest { UserId = user.UserId }, headers);

    private static string Found(RawHttp2.Response response)
    {
        Assert.Equal(StatusCode.OK, response.GrpcStatus);
        return ProtoBuf.Serializer.Deserialize<GetUserResponse>(new MemoryStream(response.Message)).User!.Id;
    }

    /// <summary>Who Echo (a public RPC: it answers anonymous callers too) saw calling; empty: nobody.</summary>
    private async Task<string> EchoCallerAsync(params (string Name, string Value)[] headers)
    {
        var response = await CallAsync(EchoPath, new EchoRequest { Text = "who" }, headers);
        Assert.Equal(StatusCode.OK, response.GrpcStatus);
        return ProtoBuf.Serializer.Deserialize<EchoResponse>(new MemoryStream(response.Message)).Metadata?.UserContext?.UserId ?? "";
    }

    private async Task<string> KeyAsync(TestUser user, string name) =>
        (await Host.Auth().CreateApiKeyAsync(new CreateApiKeyRequest { Name = name, Scopes = [Scopes.UsersRead] }, user.Bearer)).Secret;

    private static void AssertRefused(RawHttp2.Response response, string cause)
    {
        Assert.Equal("200", response.Header(":status")); // a gRPC refusal, not an HTTP one
        Assert.Equal(StatusCode.Unauthenticated, response.GrpcStatus);
        Assert.Equal(cause, response.Cause);
    }

    [Fact]
    public async Task TheRawClient_SendsOneLineAsTheGrpcClientsDo()
    {
        var user = await Host.RegisterAsync();
        Assert.Equal(user.UserId, Found(await GetUserAsync(user, ("authorization", "Bearer " + user.Tokens.AccessToken))));
        Assert.Equal(user.UserId, await EchoCallerAsync(("authorization", "Bearer " + user.Tokens.AccessToken)));
        AssertRefused(await GetUserAsync(user), "missing_credentials");
        AssertRefused(await GetUserAsync(user, ("authorization", "Bearer not-a-token")), "invalid_token");
        Assert.Equal("", await EchoCallerAsync());
    }

    [Fact]
    public async Task TwoApiKeyLines_AreRefused_WhicheverIsValid_AndWhetherTheGatewayKeepsTheKey()
    {
        var user = await Host.RegisterAsync();
        var kept = await KeyAsync(user, "kept");
        var fresh = await KeyAsync(user, "fresh");
        Assert.Equal(user.UserId, Found(await GetUserAsync(user, ("x-api-key", kept)))); // verified, and kept by the gateway

        foreach (var (first, second) in new[] { (kept, UnknownKey), (UnknownKey, kept), (kept, kept), (fresh, UnknownKey), (fresh, fresh) })
        {
            AssertRefused(await GetUserAsync(user, ("x-api-key", first), ("x-api-key", second)), "invalid_api_key");
            Assert.Equal("", await EchoCallerAsync(("x-api-key", first), ("x-api-key", second))); // a public RPC: served to nobody
        }

        // Beside a valid bearer token as well: the keys decide (an x-api-key header selects the API key scheme), and two refuse.
        var bearer = ("authorization", "Bearer " + user.Tokens.AccessToken);
        AssertRefused(await GetUserAsync(user, bearer, ("x-api-key", kept), ("x-api-key", kept)), "invalid_api_key");
        Assert.Equal(user.UserId, Found(await GetUserAsync(user, ("x-api-key", fresh)))); // each key on its own still works
        Assert.Equal(user.UserId, Found(await GetUserAsync(user, ("x-api-key", kept))));
    }

    [Fact]
    public async Task TwoAuthorizationLines_AreRefused_WhicheverIsValid_AndWhetherTheGatewayKeepsTheToken()
    {
        var kept = await Host.RegisterAsync();
        var fresh = await Host.RegisterAsync();
        var keptToken = "Bearer " + kept.Tokens.AccessToken;
        var freshToken = "Bearer " + fresh.Tokens.AccessToken;
        Assert.Equal(kept.UserId, Found(await GetUserAsync(kept, ("authorization", keptToken)))); // verified, and kept by the gateway

        foreach (var (first, second) in new[]
                 {
                     (keptToken, "Bearer not-a-token"), ("Bearer not-a-token", keptToken), (keptToken, keptToken), (keptToken, freshToken),
                     (freshToken, freshToken), (freshToken, "Basic dXNlcjpwdw=="), ("Basic dXNlcjpwdw==", keptToken),
                 })
        {
            AssertRefused(await GetUserAsync(kept, ("authorization", first), ("authorization", second)), "invalid_token");
            Assert.Equal("", await EchoCallerAsync(("authorization", first), ("authorization", second)));
        }

        Assert.Equal(fresh.UserId, Found(await GetUserAsync(fresh, ("authorization", freshToken)))); // each token on its own still works
        Assert.Equal(kept.UserId, Found(await GetUserAsync(kept, ("authorization", keptToken))));
    }
}
