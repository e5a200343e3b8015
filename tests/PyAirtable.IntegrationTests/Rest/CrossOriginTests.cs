using System.Net;
using System.Net.Http.Headers;
using PyAirtable.IntegrationTests.Identity;
using PyAirtable.IntegrationTests.Infrastructure;

namespace PyAirtable.IntegrationTests.Rest;

/// <summary>A host that lets one origin's pages call it from a browser.</summary>
public sealed class CrossOriginFixture : HostFixture
{
    public const string Allowed = "https://app.example.com";

    protected override void Configure(TestHostOptions options) => options.Settings["Cors:AllowedOrigins:0"] = Allowed;
}

/// <summary>CORS for the JSON/HTTP API and gRPC-Web: preflights and answers for allowed origins only.</summary>
public sealed class CrossOriginTests(CrossOriginFixture fixture) : IClassFixture<CrossOriginFixture>, IDisposable
{
    [Fact]
    public async Task Preflight_AllowedOrigin_AnsweredForRestAndGrpcWeb_OtherOriginsNot()
    {
        using var http = fixture.Host.RestClient();
        using var rest = await PreflightAsync(http, "/v1/users/anyone", CrossOriginFixture.Allowed, "GET", "authorization");
        Assert.Equal(HttpStatusCode.NoContent, rest.StatusCode);
        Assert.Equal(CrossOriginFixture.Allowed, rest.Headers.GetValues("Access-Control-Allow-Origin").Single());
        Assert.Contains("authorization", rest.Headers.GetValues("Access-Control-Allow-Headers").Single(), StringComparison.OrdinalIgnoreCase);

        using var grpcWeb = await PreflightAsync(http, "/pyairtable.users.v1.UserService/GetUser", CrossOriginFixture.Allowed, "POST",
            "content-type,x-grpc-web,authorization");
        Assert.Equal(HttpStatusCode.NoContent, grpcWeb.StatusCode);
        Assert.Equal(CrossOriginFixture.Allowed, grpcWeb.Headers.GetValues("Access-Control-Allow-Origin").Single());

        using var other = await PreflightAsync(http, "/v1/users/anyone", "https://evil.example", "GET", "authorization");
        Assert.False(other.Headers.Contains("Access-Control-Allow-Origin"));
    }

    [Fact]
    public async Task Answer_AllowedOrigin_CarriesAllowOriginAndExposedHeaders()
    {
        var user = await fixture.Host.RegisterAsync();
        using var http = fixture.Host.RestClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/v1/users/{user.UserId}");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", user.Tokens.AccessToken);
        request.Headers.Add("Origin", CrossOriginFixture.Allowed);
        using var response = await http.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(CrossOriginFixture.Allowed, response.Headers.GetValues("Access-Control-Allow-Origin").Single());
        var exposed = response.Headers.GetValues("Access-Control-Expose-Headers").Single();
        Assert.Contains("x-request-id", exposed, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("grpc-status", exposed, StringComparison.OrdinalIgnoreCase);
    }

    public void Dispose()
    {
        fixture.AssertNoUnexpectedErrors();
        GC.SuppressFinalize(this);
    }

    internal static async Task<HttpResponseMessage> PreflightAsync(HttpClient http, string path, string origin, string method, string headers)
    {
        using var request = new HttpRequestMessage(HttpMethod.Options, path);
        request.Headers.Add("Origin", origin);
        request.Headers.Add("Access-Control-Request-Method", method);
        request.Headers.Add("Access-Control-Request-Headers", headers);
        return await http.SendAsync(request);
    }
}

/// <summary>The default host: no CORS at all, and no JSON/HTTP API on the probe port.</summary>
public sealed class RestBoundaryTests(HostFixture fixture) : HostTests(fixture)
{
    [Fact]
    public async Task DefaultHost_SendsNoCorsHeaders()
    {
        var user = await Fixture.Host.RegisterAsync();
        using var http = Fixture.Host.RestClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/v1/users/{user.UserId}");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", user.Tokens.AccessToken);
        request.Headers.Add("Origin", "https://app.example.com");
        using var response = await http.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.False(response.Headers.Contains("Access-Control-Allow-Origin"));

        using var preflight = await CrossOriginTests.PreflightAsync(http, $"/v1/users/{user.UserId}", "https://app.example.com", "GET", "authorization");
        Assert.False(preflight.Headers.Contains("Access-Control-Allow-Origin"));
    }

    [Fact]
    public async Task ProbePort_DoesNotServeTheJsonApi()
    {
        var user = await Fixture.Host.RegisterAsync();
        using var probe = new HttpClient { BaseAddress = new Uri(Fixture.Host.ProbeAddress) };
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/v1/users/{user.UserId}");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", user.Tokens.AccessToken);
        using var response = await probe.SendAsync(request);
        Assert.NotEqual(HttpStatusCode.OK, response.StatusCode);
        Assert.DoesNotContain(user.UserId, await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        // The same request on the API's HTTP endpoint is answered.
        using var http = Fixture.Host.RestClient();
        var served = await http.CallAsync(HttpMethod.Get, $"/v1/users/{user.UserId}", bearer: user.Tokens.AccessToken);
        Assert.Equal(HttpStatusCode.OK, served.Status);
    }
}
