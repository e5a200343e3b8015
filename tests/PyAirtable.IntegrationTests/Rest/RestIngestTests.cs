using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using PyAirtable.IntegrationTests.Analytics;
using PyAirtable.IntegrationTests.Identity;
using PyAirtable.IntegrationTests.Infrastructure;
using static PyAirtable.IntegrationTests.Analytics.Analytic;

namespace PyAirtable.IntegrationTests.Rest;

/// <summary>IngestMetrics over JSON/HTTP: a newline-delimited JSON body, each line one message of the same client stream.</summary>
public sealed class RestIngestTests(AnalyticsFixture fixture) : IClassFixture<AnalyticsFixture>, IDisposable
{
    private TestHost Host => fixture.Host;

    public void Dispose()
    {
        fixture.AssertNoUnexpectedErrors();
        GC.SuppressFinalize(this);
    }

    [Fact]
    public async Task IngestOverRest_NdjsonLines_AreTheStreamsMessages_StoredAndQueryable()
    {
        var owner = await Host.RegisterAsync();
        var workspace = await Host.CreateWorkspaceAsync(owner.Bearer);
        var endpoint = "/ext/" + Guid.NewGuid().ToString("N");
        string Line(int count, int status) => new JsonObject
        {
            ["metrics"] = new JsonArray(Enumerable.Range(0, count).Select(_ => (JsonNode)new JsonObject
            {
                ["endpoint"] = endpoint, ["method"] = "HTTP_METHOD_GET", ["protocol"] = "CALL_PROTOCOL_HTTP", ["statusCode"] = status,
                ["responseTime"] = "0.012s", ["timestamp"] = DateTime.UtcNow.ToString("O"), ["workspaceId"] = workspace,
            }).ToArray()),
        }.ToJsonString();

        // Three messages (a blank line between two of them is skipped); one metric has an HTTP status that does not exist.
        var body = Line(2, 200) + "\n\n" + Line(1, 503) + "\n" + Line(1, 999) + "\n";
        var (status, json) = await PostNdjsonAsync(body, owner);

        Assert.True(status == HttpStatusCode.OK, json?.ToJsonString());
        Assert.Equal(3, json!["accepted"]!.GetValue<int>());
        Assert.Equal(1, json["rejected"]!.GetValue<int>());
        Assert.Equal("status_code", json["rejections"]![0]!["field"]!.GetValue<string>());
        var total = (await Host.Analytics().QueryMetricsAsync(Recent(workspace, endpoint), owner.Bearer)).Total!;
        Assert.Equal(3, total.Count);
        Assert.Equal(1, total.ErrorCount);
    }

    [Fact]
    public async Task IngestOverRest_BadLine_IsInvalidArgumentNamingItsField()
    {
        var owner = await Host.RegisterAsync();
        var (unknown, unknownJson) = await PostNdjsonAsync("{\"metrics\": []}\n{\"metrics\": [{\"endpoint\": \"/x\", \"colour\": 1}]}\n", owner);
        Assert.Equal(HttpStatusCode.BadRequest, unknown);
        var violation = RestApiTests.Violations(unknownJson!).Single();
        Assert.Equal("metrics[0].colour", violation.Field);
        Assert.StartsWith("line 2:", violation.Description, StringComparison.Ordinal);

        var (broken, brokenJson) = await PostNdjsonAsync("{\"metrics\": [\n", owner);
        Assert.Equal(HttpStatusCode.BadRequest, broken);
        Assert.Equal(3, brokenJson!["code"]!.GetValue<int>());
    }

    private async Task<(HttpStatusCode Status, JsonNode? Json)> PostNdjsonAsync(string body, TestUser user)
    {
        using var http = Host.RestClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/analytics/metrics:ingest")
        {
            Content = new StringContent(body, Encoding.UTF8, "application/x-ndjson"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", user.Tokens.AccessToken);
        using var response = await http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, text.Length == 0 ? null : JsonNode.Parse(text));
    }
}
