using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using PyAirtable.Contracts.Auth;
using PyAirtable.Contracts.Users;
using PyAirtable.Contracts.Workspaces;
using PyAirtable.IntegrationTests.Access;
using PyAirtable.IntegrationTests.Identity;
using PyAirtable.IntegrationTests.Infrastructure;

namespace PyAirtable.IntegrationTests.Rest;

/// <summary>The JSON/HTTP API: routes from the contracts, proto3 JSON, google.rpc.Status errors, streams as NDJSON/SSE.</summary>
public sealed class RestApiTests(HostFixture fixture) : HostTests(fixture)
{
    private TestHost Host => Fixture.Host;

    [Fact]
    public async Task RegisterLoginGetUser_OverRest_CanonicalJsonOfTheSameProfile()
    {
        using var http = Host.RestClient();
        var email = Identities.NewEmail();
        var registered = await http.CallAsync(HttpMethod.Post, "/v1/auth:register",
            new JsonObject { ["email"] = email, ["password"] = "correct-horse-battery-9", ["displayName"] = "Rest Person" });
        Assert.Equal(HttpStatusCode.OK, registered.Status);
        var userId = registered.Json!["userId"]!.GetValue<string>();

        // Proto names are accepted as well as JSON names.
        var login = await http.CallAsync(HttpMethod.Post, "/v1/auth:login", new JsonObject { ["email"] = email, ["password"] = "correct-horse-battery-9" });
        Assert.Equal(HttpStatusCode.OK, login.Status);
        var token = login.Json!["tokens"]!["accessToken"]!.GetValue<string>();

        var rest = await http.CallAsync(HttpMethod.Get, $"/v1/users/{userId}", bearer: token);
        Assert.Equal(HttpStatusCode.OK, rest.Status);
        var user = rest.Json!["user"]!.AsObject();
        Assert.Equal("Rest Person", user["displayName"]!.GetValue<string>());
        Assert.Equal("USER_STATUS_ACTIVE", user["status"]!.GetValue<string>()); // enums by name
        Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3}|\.\d{6}|\.\d{9})?Z$", user["createdAt"]!.GetValue<string>());
        Assert.False(rest.Json.AsObject().ContainsKey("notModified")); // defaults omitted
        Assert.False(user.ContainsKey("display_name"));

        var grpc = await Host.Users().GetUserAsync(new GetUserRequest { UserId = userId }, Identities.WithBearer(token));
        // The RPC metrics count both calls under the one method, each with its protocol (the share owners watch).
        var metrics = (await http.GetStringAsync(new Uri(Host.ProbeAddress + "/metrics"))).Split('\n')
            .Where(l => l.StartsWith("rpc_server_call_duration_seconds_count{", StringComparison.Ordinal)
                && l.Contains("rpc_method=\"GetUser\"", StringComparison.Ordinal)).ToList();
        Assert.Contains(metrics, l => l.Contains("pyairtable_protocol=\"rest\"", StringComparison.Ordinal));
        Assert.Contains(metrics, l => l.Contains("pyairtable_protocol=\"grpc\"", StringComparison.Ordinal));
        Assert.Equal(grpc.User!.Id, user["id"]!.GetValue<string>());
        Assert.Equal(grpc.User.Email, user["email"]!.GetValue<string>());
        Assert.Equal(grpc.User.Etag, user["etag"]!.GetValue<string>());
        Assert.Equal(grpc.User.CreatedAt, DateTime.Parse(user["createdAt"]!.GetValue<string>(), null, System.Globalization.DateTimeStyles.AdjustToUniversal));
    }

    [Fact]
    public async Task UnknownFieldOrBadType_Is400WithTheFieldViolation()
    {
        using var http = Host.RestClient();
        var unknown = await http.CallAsync(HttpMethod.Post, "/v1/auth:login", new JsonObject { ["email"] = "a@b.c", ["pasword"] = "x" });
        Assert.Equal(HttpStatusCode.BadRequest, unknown.Status);
        Assert.Equal(3, unknown.Json!["code"]!.GetValue<int>());
        Assert.Equal("pasword", Violations(unknown.Json).Single().Field);

        var badType = await http.CallAsync(HttpMethod.Get, "/v1/users?pagination.page_size=ten", bearer: (await Host.RegisterAsync()).Tokens.AccessToken);
        Assert.Equal(HttpStatusCode.BadRequest, badType.Status);
        Assert.Equal("pagination.page_size", Violations(badType.Json!).Single().Field);
        var info = badType.Json!["details"]!.AsArray().Single(d => d!["@type"]!.GetValue<string>().EndsWith("google.rpc.ErrorInfo", StringComparison.Ordinal))!;
        Assert.Equal("ERROR_CODE_INVALID_ARGUMENT", info["reason"]!.GetValue<string>());
        Assert.Equal(badType.RequestId, info["metadata"]!["request_id"]!.GetValue<string>());
    }

    [Fact]
    public async Task SameBadInput_SameCodeAndViolations_OverGrpcAndRest()
    {
        using var http = Host.RestClient();
        var rest = await http.CallAsync(HttpMethod.Post, "/v1/auth:register", new JsonObject { ["email"] = "not-an-email", ["password"] = "short" });
        var grpc = await Assert.ThrowsAsync<RpcException>(() =>
            Host.Auth().RegisterAsync(new RegisterRequest { Email = "not-an-email", Password = "short" }).AsTask());

        Assert.Equal(HttpStatusCode.BadRequest, rest.Status);
        Assert.Equal((int)grpc.StatusCode, rest.Json!["code"]!.GetValue<int>());
        Assert.Equal(grpc.Status.Detail, rest.Json["message"]!.GetValue<string>());
        var grpcViolations = grpc.GetRpcStatus()!.GetDetail<Google.Rpc.BadRequest>().FieldViolations.Select(v => (v.Field, v.Description));
        Assert.Equal(grpcViolations, Violations(rest.Json));
    }

    [Fact]
    public async Task NoCredentials_Is401_WithStatusBodyAndRequestId()
    {
        using var http = Host.RestClient();
        var response = await http.CallAsync(HttpMethod.Get, "/v1/users/abc", requestId: "rest-test-401");
        Assert.Equal(HttpStatusCode.Unauthorized, response.Status);
        Assert.Equal(16, response.Json!["code"]!.GetValue<int>());
        Assert.Equal("rest-test-401", response.RequestId);
    }

    [Fact]
    public void EveryPublicRpc_HasARoute_ExceptClientStreams()
    {
        var table = Host.App.Services.GetRequiredService<PyAirtable.Host.Gateway.Rest.RestRouteTable>();
        var descriptors = Host.App.Services.GetRequiredService<PyAirtable.Host.Gateway.ContractReflection.ContractDescriptors>();
        var expected = descriptors.Files.SelectMany(f => f.Services).Where(s => s.FullName.StartsWith("pyairtable.", StringComparison.Ordinal))
            .SelectMany(s => s.Methods).Select(m => "/" + m.Service.FullName + "/" + m.Name).Order().ToList();
        Assert.Equal(expected, table.Routes.Select(r => r.GrpcPath).Order().ToList());
    }

    [Fact]
    public async Task OpenApiDocument_ServedAnonymously_IsTheCommittedOne()
    {
        using var http = Host.RestClient();
        var served = await http.GetStringAsync("/openapi.json");
        var committed = await File.ReadAllTextAsync(Path.Combine(TestEnvironment.RepositoryRoot, "openapi", "pyairtable.openapi.json"));
        Assert.Equal(committed, served);
    }

    [Fact]
    public async Task UnknownRouteAndWrongVerb_Are404And405()
    {
        using var http = Host.RestClient();
        // Without credentials any unknown path is 401 (the fallback policy), so callers cannot probe for routes.
        var token = (await Host.RegisterAsync()).Tokens.AccessToken;
        Assert.Equal(HttpStatusCode.NotFound, (await http.CallAsync(HttpMethod.Get, "/v1/nothing-here", bearer: token)).Status);
        Assert.Equal(HttpStatusCode.MethodNotAllowed, (await http.CallAsync(HttpMethod.Put, "/v1/auth:login")).Status);
    }

    [Fact]
    public async Task ServerStream_IsNewlineDelimitedJson_AndSseOnRequest()
    {
        using var http = Host.RestClient();
        var admin = await Host.RegisterAdminAsync(Fixture.Database.ConnectionString);
        foreach (var sse in new[] { false, true })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/v1/health:watch");
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", admin.Tokens.AccessToken);
            if (sse)
            {
                request.Headers.Accept.ParseAdd("text/event-stream");
            }

            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cts.Token);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(sse ? "text/event-stream" : "application/x-ndjson", response.Content.Headers.ContentType!.MediaType);
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cts.Token));
            var line = await reader.ReadLineAsync(cts.Token);
            var json = JsonNode.Parse(sse ? line!["data: ".Length..] : line!)!;
            Assert.Equal("HEALTH_STATUS_SERVING", json["health"]!["status"]!.GetValue<string>());
        }

        Host.WaitForQuiet();
    }

    internal static List<(string Field, string Description)> Violations(JsonNode status) =>
        status["details"]!.AsArray()
            .Where(d => d!["@type"]!.GetValue<string>().EndsWith("google.rpc.BadRequest", StringComparison.Ordinal))
            .SelectMany(d => d!["fieldViolations"]!.AsArray())
            .Select(v => (v!["field"]!.GetValue<string>(), v["description"]!.GetValue<string>()))
            .ToList();
}

/// <summary>Deprecation headers and the retirement switch of JSON/HTTP routes; gRPC callers of the same methods are unaffected.</summary>
public sealed class RestRetirementFixture : HostFixture
{
    protected override void Configure(TestHostOptions options)
    {
        options.Settings["RestApi:Deprecated:pyairtable.users.v1.UserService/GetUser"] = "2027-06-30";
        options.Settings["RestApi:Deprecated:pyairtable.workspaces.v1.WorkspaceService/GetWorkspace"] = "2026-12-01/";
        options.Settings["RestApi:Retired:pyairtable.users.v1.UserService/ListUsers"] = "2026-11-01";
    }
}

public sealed class RestRetirementTests(RestRetirementFixture fixture) : IClassFixture<RestRetirementFixture>, IDisposable
{
    [Fact]
    public async Task DeprecatedRoute_StillServed_WithDeprecationAndSunset()
    {
        var user = await fixture.Host.RegisterAsync();
        using var http = fixture.Host.RestClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/v1/users/{user.UserId}");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", user.Tokens.AccessToken);
        using var response = await http.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        // RFC 9745: the date the deprecation took effect (the contract's, 2026-11-29), as a structured-field date.
        Assert.Equal("@1795910400", response.Headers.GetValues("Deprecation").Single());
        Assert.Equal("Wed, 30 Jun 2027 00:00:00 GMT", response.Headers.GetValues("Sunset").Single());
    }

    [Fact]
    public async Task ASettingDeprecatingAMethodItsContractDoesNot_NamesTheDate_AndASunsetOnlyIfDecided()
    {
        var owner = await fixture.Host.RegisterAsync();
        var workspace = await fixture.Host.Workspaces().CreateWorkspaceAsync(
            new CreateWorkspaceRequest { Name = "Deprecated read" }, owner.Bearer);
        using var http = fixture.Host.RestClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/v1/workspaces/{workspace.Workspace!.Id}");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", owner.Tokens.AccessToken);
        using var response = await http.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("@1796083200", response.Headers.GetValues("Deprecation").Single()); // 2026-12-01T00:00:00Z
        Assert.False(response.Headers.Contains("Sunset"));
    }

    [Theory]
    [InlineData("pyairtable.workspaces.v1.WorkspaceService/GetWorkspace", "2027-06-30", "names no date the deprecation took effect")]
    [InlineData("pyairtable.workspaces.v1.WorkspaceService/GetWorkspace", "2027-06-30/2027-01-01", "has its sunset before")]
    [InlineData("pyairtable.users.v1.UserService/GetUser", "soon/2027-06-30", "('soon') that is not an ISO 8601 date")]
    [InlineData("pyairtable.users.v1.UserService/GetUser", "2027-13-45", "has a sunset ('2027-13-45') that is not")]
    public async Task ADeprecationTheHeaderCannotState_StopsTheHostAtStart_NamingTheSetting(string method, string value, string problem)
    {
        var failure = await Assert.ThrowsAnyAsync<Exception>(() => TestHost.StartAsync(fixture.Database.ConnectionString,
            o => o.Settings[$"RestApi:Deprecated:{method}"] = value));

        Assert.Contains($"RestApi:Deprecated:{method} = '{value}' ", failure.ToString(), StringComparison.Ordinal);
        Assert.Contains(problem, failure.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task RetiredRoute_Is410WithWhatToCallInstead_WhileGrpcStillServesIt()
    {
        var user = await fixture.Host.RegisterAsync();
        using var http = fixture.Host.RestClient();
        var rest = await http.CallAsync(HttpMethod.Get, "/v1/users", bearer: user.Tokens.AccessToken, requestId: "retired-1");
        Assert.Equal(HttpStatusCode.Gone, rest.Status);
        Assert.Equal(12, rest.Json!["code"]!.GetValue<int>());
        Assert.Contains("pyairtable.users.v1.UserService/ListUsers over gRPC", rest.Json["message"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal("retired-1", rest.Json["details"]![0]!["metadata"]!["request_id"]!.GetValue<string>());

        var grpc = await fixture.Host.Users().ListUsersAsync(new ListUsersRequest(), user.Bearer);
        Assert.NotNull(grpc);
    }

    public void Dispose()
    {
        fixture.AssertNoUnexpectedErrors();
        GC.SuppressFinalize(this);
    }
}

/// <summary>A JSON/HTTP answer: status, parsed body, request id.</summary>
public sealed record RestAnswer(HttpStatusCode Status, JsonNode? Json, string? RequestId);

public static class RestClients
{
    public static HttpClient RestClient(this TestHost host) => new() { BaseAddress = new Uri(host.HttpAddress) };

    public static async Task<RestAnswer> CallAsync(this HttpClient http, HttpMethod method, string path, JsonNode? body = null,
        string? bearer = null, string? requestId = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (body is not null)
        {
            request.Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json");
        }

        if (bearer is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        }

        if (requestId is not null)
        {
            request.Headers.Add("x-request-id", requestId);
        }

        using var response = await http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return new RestAnswer(response.StatusCode, text.Length == 0 ? null : JsonNode.Parse(text),
            response.Headers.TryGetValues("x-request-id", out var ids) ? ids.Single() : null);
    }
}
