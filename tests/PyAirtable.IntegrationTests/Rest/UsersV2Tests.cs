using System.Net;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using Dapper;
using Grpc.Core;
using Npgsql;
using ProtoBuf.Grpc.Client;
using PyAirtable.Contracts.Common;
using PyAirtable.Contracts.Users;
using PyAirtable.IntegrationTests.Identity;
using PyAirtable.IntegrationTests.Infrastructure;
using UsersV2 = PyAirtable.Contracts.Users.V2;

namespace PyAirtable.IntegrationTests.Rest;

/// <summary>
/// pyairtable.users.v2 beside v1: one implementation behind both, so the same data through either version and either
/// protocol; v1 deprecated by its contract (Deprecation and Sunset on its JSON routes by default), v2 not.
/// </summary>
public sealed class UsersV2Tests(HostFixture fixture) : HostTests(fixture)
{
    private TestHost Host => Fixture.Host;

    private UsersV2.IUserService UsersV2 => Host.Channel.CreateGrpcService<UsersV2.IUserService>();

    [Fact]
    public async Task SameProfile_ThroughV1AndV2_OverGrpcAndRest()
    {
        var user = await Host.RegisterAsync("Version Person");
        using var http = Host.RestClient();

        // A change through v2 over JSON/HTTP is what v1 reads over gRPC: one store, one cache.
        var v1Before = await Host.Users().GetUserAsync(new GetUserRequest { UserId = user.UserId }, user.Bearer);
        var patched = await http.CallAsync(HttpMethod.Patch, $"/v2/users/{user.UserId}",
            new JsonObject { ["etag"] = v1Before.User!.Etag, ["displayName"] = "Renamed Through V2" }, bearer: user.Tokens.AccessToken);
        Assert.Equal(HttpStatusCode.OK, patched.Status);

        var v1 = await Host.Users().GetUserAsync(new GetUserRequest { UserId = user.UserId }, user.Bearer);
        var v2 = await UsersV2.GetUserAsync(new UsersV2.GetUserRequest { UserId = user.UserId }, user.Bearer);
        Assert.Equal("Renamed Through V2", v1.User!.DisplayName);
        Assert.Equal(v1.User, v2.User);
        Assert.Equal(v1.Cache!.Etag, v2.Cache!.Etag);
        Assert.Equal(patched.Json!["user"]!["etag"]!.GetValue<string>(), v2.User!.Etag);

        var (v1Rest, v1Headers) = await GetAsync(http, $"/v1/users/{user.UserId}", user.Tokens.AccessToken);
        var (v2Rest, v2Headers) = await GetAsync(http, $"/v2/users/{user.UserId}", user.Tokens.AccessToken);
        // Field by field the same JSON, but for the cache's expiry (the time of each answer plus the TTL).
        Assert.True(JsonNode.DeepEquals(v1Rest["user"], v2Rest["user"]), $"v1 {v1Rest} | v2 {v2Rest}");
        Assert.Equal(v1Rest["cache"]!["etag"]!.GetValue<string>(), v2Rest["cache"]!["etag"]!.GetValue<string>());
        Assert.Equal(v1.User.Email, v2Rest["user"]!["email"]!.GetValue<string>());
        Assert.Equal(v1.User.DisplayName, v2Rest["user"]!["displayName"]!.GetValue<string>());

        // v1 announces its end on every JSON answer (the contract's dates: deprecated 2026-11-29, sunset); v2 does not.
        Assert.Equal("@1795910400", v1Headers.GetValues("Deprecation").Single());
        Assert.Equal("Wed, 30 Jun 2027 00:00:00 GMT", v1Headers.GetValues("Sunset").Single());
        Assert.False(v2Headers.Contains("Deprecation"));
        Assert.False(v2Headers.Contains("Sunset"));

        // The same bad input is the same error through both versions.
        var v1Missing = await Assert.ThrowsAsync<RpcException>(() =>
            Host.Users().GetUserAsync(new GetUserRequest { UserId = Guid.NewGuid().ToString() }, user.Bearer).AsTask());
        var v2Missing = await Assert.ThrowsAsync<RpcException>(() =>
            UsersV2.GetUserAsync(new UsersV2.GetUserRequest { UserId = Guid.NewGuid().ToString() }, user.Bearer).AsTask());
        Assert.Equal(StatusCode.NotFound, v1Missing.StatusCode);
        Assert.Equal(v1Missing.StatusCode, v2Missing.StatusCode);
    }

    [Fact]
    public async Task ListUsers_V2PageTokens_WalkTheSameUsersAsV1Cursors_OverGrpcAndRest()
    {
        var admin = await Host.RegisterAdminAsync(Fixture.Database.ConnectionString);
        await using (var connection = new NpgsqlConnection(Fixture.Database.ConnectionString))
        {
            await connection.ExecuteAsync("INSERT INTO users.users (id, email, display_name) "
                + "SELECT gen_random_uuid(), 'v2-' || gen_random_uuid() || '@example.com', 'V2 ' || g FROM generate_series(1, 30) g");
        }

        var v1Ids = new List<string>();
        string? cursor = null;
        long v1Total;
        do
        {
            var page = await Host.Users().ListUsersAsync(
                new ListUsersRequest { Pagination = new PaginationRequest { PageSize = 7, Cursor = cursor } }, admin.Bearer);
            v1Ids.AddRange(page.Users.Select(u => u.Id));
            cursor = page.Pagination!.NextCursor;
            v1Total = page.Pagination.TotalCount;
        }
        while (cursor is not null);

        var v2Ids = new List<string>();
        var token = "";
        long v2Total;
        do
        {
            var page = await UsersV2.ListUsersAsync(new UsersV2.ListUsersRequest { PageSize = 7, PageToken = token }, admin.Bearer);
            Assert.True(page.Users.Count <= 7);
            v2Ids.AddRange(page.Users.Select(u => u.Id));
            token = page.NextPageToken;
            v2Total = page.TotalSize;
        }
        while (token.Length > 0);

        using var http = Host.RestClient();
        var restIds = new List<string>();
        var restToken = "";
        do
        {
            var (page, headers) = await GetAsync(http, $"/v2/users?pageSize=7&pageToken={Uri.EscapeDataString(restToken)}", admin.Tokens.AccessToken);
            Assert.False(headers.Contains("Deprecation"));
            Assert.Equal(v2Total.ToString(System.Globalization.CultureInfo.InvariantCulture), page["totalSize"]!.GetValue<string>());
            restIds.AddRange(page["users"]!.AsArray().Select(u => u!["id"]!.GetValue<string>()));
            restToken = page["nextPageToken"]?.GetValue<string>() ?? "";
        }
        while (restToken.Length > 0);

        Assert.True(v1Ids.Count >= 31, $"{v1Ids.Count} users");
        Assert.Equal(v1Ids, v2Ids);
        Assert.Equal(v1Ids, restIds);
        Assert.Equal(v1Total, v2Total);

        // A client moving mid-walk: v1's cursor is a valid v2 page token (the same signed position in the same list).
        var first = await Host.Users().ListUsersAsync(new ListUsersRequest { Pagination = new PaginationRequest { PageSize = 7 } }, admin.Bearer);
        var next = await UsersV2.ListUsersAsync(
            new UsersV2.ListUsersRequest { PageSize = 7, PageToken = first.Pagination!.NextCursor! }, admin.Bearer);
        Assert.Equal(v1Ids.Skip(7).Take(7), next.Users.Select(u => u.Id));
    }

    [Fact]
    public async Task ListUsers_V2BadPaging_IsInvalidArgumentOnV2Fields_OverGrpcAndRest()
    {
        var user = await Host.RegisterAsync();
        var forged = await Assert.ThrowsAsync<RpcException>(() =>
            UsersV2.ListUsersAsync(new UsersV2.ListUsersRequest { PageToken = "not-a-token" }, user.Bearer).AsTask());
        Assert.Equal(StatusCode.InvalidArgument, forged.StatusCode);
        Assert.Equal("page_token", forged.GetRpcStatus()!.GetDetail<Google.Rpc.BadRequest>().FieldViolations.Single().Field);

        using var http = Host.RestClient();
        var negative = await http.CallAsync(HttpMethod.Get, "/v2/users?pageSize=-1", bearer: user.Tokens.AccessToken);
        Assert.Equal(HttpStatusCode.BadRequest, negative.Status);
        Assert.Equal("page_size", RestApiTests.Violations(negative.Json!).Single().Field);
    }

    private static async Task<(JsonNode Body, HttpResponseHeaders Headers)> GetAsync(HttpClient http, string path, string token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var response = await http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{path}: {(int)response.StatusCode} {text}");
        return (JsonNode.Parse(text)!, response.Headers);
    }
}

/// <summary>Contract deprecations announced only where configured: the default switched off, one method set by hand.</summary>
public sealed class QuietDeprecationFixture : HostFixture
{
    protected override void Configure(TestHostOptions options)
    {
        options.Settings["RestApi:AnnounceContractDeprecations"] = "false";
        options.Settings["RestApi:Deprecated:pyairtable.users.v1.UserService/GetUsers"] = "2027-03-31";
    }
}

public sealed class QuietDeprecationTests(QuietDeprecationFixture fixture) : IClassFixture<QuietDeprecationFixture>, IDisposable
{
    [Fact]
    public async Task ContractDeprecationsOff_OnlyConfiguredRoutesCarryHeaders()
    {
        var user = await fixture.Host.RegisterAsync();
        using var http = fixture.Host.RestClient();
        using var get = new HttpRequestMessage(HttpMethod.Get, $"/v1/users/{user.UserId}");
        get.Headers.Authorization = new AuthenticationHeaderValue("Bearer", user.Tokens.AccessToken);
        using var quiet = await http.SendAsync(get);
        Assert.Equal(HttpStatusCode.OK, quiet.StatusCode);
        Assert.False(quiet.Headers.Contains("Deprecation"));

        using var batch = new HttpRequestMessage(HttpMethod.Post, "/v1/users:batchGet")
        {
            Content = new StringContent(new JsonObject { ["userIds"] = new JsonArray(user.UserId) }.ToJsonString(),
                System.Text.Encoding.UTF8, "application/json"),
        };
        batch.Headers.Authorization = new AuthenticationHeaderValue("Bearer", user.Tokens.AccessToken);
        using var announced = await http.SendAsync(batch);
        Assert.Equal(HttpStatusCode.OK, announced.StatusCode);
        Assert.Equal("@1795910400", announced.Headers.GetValues("Deprecation").Single()); // the contract's date
        Assert.Equal("Wed, 31 Mar 2027 00:00:00 GMT", announced.Headers.GetValues("Sunset").Single());
    }

    public void Dispose()
    {
        fixture.AssertNoUnexpectedErrors();
        GC.SuppressFinalize(this);
    }
}
