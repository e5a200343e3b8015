using System.Buffers.Binary;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using PyAirtable.Contracts.Analytics;
using PyAirtable.Contracts.Users;
using PyAirtable.IntegrationTests.Identity;
using PyAirtable.IntegrationTests.Infrastructure;
using PyAirtable.IntegrationTests.Rest;
using ProtoBuf.Grpc.Client;
using static PyAirtable.IntegrationTests.Analytics.Analytic;
using UsersV2 = PyAirtable.Contracts.Users.V2;

namespace PyAirtable.IntegrationTests.Analytics;

/// <summary>
/// Phase 3 measured: every served call is stored with how it arrived (gRPC, gRPC-Web, JSON/HTTP) and the API version it
/// called, and QueryMetrics (<c>by_transport</c>) reports per endpoint the share of each and each version's share of its
/// method — over gRPC and over its JSON route.
/// </summary>
public sealed class TransportShareTests(AnalyticsFixture fixture) : IClassFixture<AnalyticsFixture>, IDisposable
{
    private const string GetUserV1 = "/pyairtable.users.v1.UserService/GetUser";
    private const string GetUserV2 = "/pyairtable.users.v2.UserService/GetUser";

    private TestHost Host => fixture.Host;

    public void Dispose() => fixture.AssertNoUnexpectedErrors();

    [Fact]
    public async Task CallsOverEachTransportAndVersion_ReportedAsSharesPerEndpoint()
    {
        var admin = await Host.RegisterAdminAsync(fixture.Database.ConnectionString);
        var v2 = Host.Channel.CreateGrpcService<UsersV2.IUserService>();
        using var http = Host.RestClient();
        for (var i = 0; i < 3; i++)
        {
            await Host.Users().GetUserAsync(new GetUserRequest { UserId = admin.UserId }, admin.Bearer);
        }

        for (var i = 0; i < 2; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await http.CallAsync(HttpMethod.Get, $"/v1/users/{admin.UserId}", bearer: admin.Tokens.AccessToken)).Status);
            Assert.Equal(HttpStatusCode.OK, (await http.CallAsync(HttpMethod.Get, $"/v2/users/{admin.UserId}", bearer: admin.Tokens.AccessToken)).Status);
            await v2.GetUserAsync(new UsersV2.GetUserRequest { UserId = admin.UserId }, admin.Bearer);
        }

        Assert.Equal("0", await GrpcWebGetUserAsync(http, admin));

        var request = Recent() with { ByTransport = true };
        var result = await Host.QueryUntilAsync(request, admin.Bearer, r =>
            r.TransportShares.FirstOrDefault(e => e.Endpoint == GetUserV1)?.Calls == 6
            && r.TransportShares.FirstOrDefault(e => e.Endpoint == GetUserV2)?.Calls == 4);

        var v1Shares = result.TransportShares.Single(e => e.Endpoint == GetUserV1);
        Assert.Equal("v1", v1Shares.ApiVersion);
        Assert.Equal("pyairtable.users.UserService/GetUser", v1Shares.Method);
        Assert.Equal(0.6, v1Shares.VersionShare, 6);
        Assert.Equal([(CallTransport.Grpc, 3L), (CallTransport.Rest, 2L), (CallTransport.GrpcWeb, 1L)],
            v1Shares.Transports.Select(t => (t.Transport, t.Calls)));
        Assert.Equal([0.5, 2 / 6.0, 1 / 6.0], v1Shares.Transports.Select(t => t.Share), (x, y) => Math.Abs(x - y) < 1e-9);
        var v2Shares = result.TransportShares.Single(e => e.Endpoint == GetUserV2);
        Assert.Equal("v2", v2Shares.ApiVersion);
        Assert.Equal(v1Shares.Method, v2Shares.Method);
        Assert.Equal(0.4, v2Shares.VersionShare, 6);
        Assert.Equal([(CallTransport.Grpc, 2L), (CallTransport.Rest, 2L)], v2Shares.Transports.Select(t => (t.Transport, t.Calls)));

        // Stored columns, not derived at query time.
        Assert.Equal(1, await CountCallsAsync(fixture.Database.ConnectionString,
            "endpoint = @e AND transport = 2 AND api_version = 'v1' AND user_id = @u", new { e = GetUserV1, u = Guid.Parse(admin.UserId) }));

        // The same report over the JSON route of QueryMetrics.
        var rest = await http.CallAsync(HttpMethod.Post, "/v1/analytics/metrics:query", new JsonObject
        {
            ["startTime"] = request.StartTime!.Value.ToString("O"),
            ["endTime"] = DateTime.UtcNow.AddMinutes(1).ToString("O"),
            ["byTransport"] = true,
        }, bearer: admin.Tokens.AccessToken);
        Assert.Equal(HttpStatusCode.OK, rest.Status);
        var json = rest.Json!["transportShares"]!.AsArray().Single(e => e!["endpoint"]!.GetValue<string>() == GetUserV2)!;
        Assert.Equal("4", json["calls"]!.GetValue<string>());
        Assert.Equal("CALL_TRANSPORT_GRPC", json["transports"]![0]!["transport"]!.GetValue<string>());
    }

    /// <summary>GetUser as a browser would send it: gRPC-Web over HTTP/1.1, one framed message; returns the grpc-status trailer.</summary>
    private static async Task<string?> GrpcWebGetUserAsync(HttpClient http, TestUser user)
    {
        using var message = new MemoryStream();
        ProtoBuf.Serializer.Serialize(message, new GetUserRequest { UserId = user.UserId });
        var frame = new byte[5 + message.Length];
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1), (uint)message.Length);
        message.ToArray().CopyTo(frame, 5);
        using var request = new HttpRequestMessage(HttpMethod.Post, GetUserV1) { Content = new ByteArrayContent(frame) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/grpc-web+proto");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", user.Tokens.AccessToken);
        request.Headers.Add("x-grpc-web", "1");
        using var response = await http.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await response.Content.ReadAsByteArrayAsync();
        var trailers = System.Text.Encoding.ASCII.GetString(body[(body.AsSpan().LastIndexOf((byte)0x80) + 5)..]);
        return trailers.Split("\r\n").FirstOrDefault(l => l.StartsWith("grpc-status:", StringComparison.Ordinal))?["grpc-status:".Length..].Trim();
    }
}
