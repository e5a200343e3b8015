using System.Net;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using PyAirtable.Contracts.Files;
using PyAirtable.IntegrationTests.Files;
using PyAirtable.IntegrationTests.Identity;
using PyAirtable.IntegrationTests.Infrastructure;
using static PyAirtable.IntegrationTests.Files.FileCalls;

namespace PyAirtable.IntegrationTests.Rest;

/// <summary>
/// Uploads over JSON/HTTP: a raw request body streamed into the same gRPC client stream (BatchUpload, AppendUpload) as
/// the frames of its messages, then read back over gRPC byte for byte; bad input gets the gRPC call's status.
/// </summary>
public sealed class RestUploadTests(FileSystemFilesFixture fixture) : IClassFixture<FileSystemFilesFixture>, IDisposable
{
    private TestHost Host => fixture.Host;

    public void Dispose()
    {
        fixture.AssertNoUnexpectedErrors();
        GC.SuppressFinalize(this);
    }

    [Fact]
    public async Task UploadOverRest_MultiMegabyteBody_DownloadsOverGrpcIdentical()
    {
        var (owner, _, baseId) = await Host.NewBaseAsync();
        var data = RandomBytes(5 * 1024 * 1024 + 12_345, 16);
        using var http = Host.RestClient();

        var path = $"/v1/files:upload?header.name=big.bin&header.baseId={baseId}&header.sha256={Sha256(data)}&header.contentType=application/x-test";
        var (status, json) = await SendBytesAsync(http, HttpMethod.Post, path, data, owner);

        Assert.True(status == HttpStatusCode.OK, json?.ToJsonString());
        var result = json!["results"]!.AsArray().Single()!;
        Assert.Null(result["error"]);
        var fileId = result["file"]!["id"]!.GetValue<string>();
        Assert.Equal(data.Length.ToString(System.Globalization.CultureInfo.InvariantCulture), result["file"]!["sizeBytes"]!.GetValue<string>());
        Assert.Equal("application/x-test", result["file"]!["contentType"]!.GetValue<string>());
        Assert.Equal(data, await Host.Files().DownloadAsync(fileId, owner.Bearer));
    }

    [Fact]
    public async Task ResumableUploadOverRest_AppendsInTwoBodies_WrongOffsetRefused_DownloadsOverGrpcIdentical()
    {
        var (owner, _, baseId) = await Host.NewBaseAsync();
        var data = RandomBytes(3 * 1024 * 1024 + 7, 17);
        var split = 2 * 1024 * 1024 + 3;
        using var http = Host.RestClient();
        var created = await http.CallAsync(HttpMethod.Post, "/v1/uploads",
            new JsonObject { ["header"] = new JsonObject { ["name"] = "resumed.bin", ["baseId"] = baseId } }, bearer: owner.Tokens.AccessToken);
        Assert.Equal(HttpStatusCode.OK, created.Status);
        var uploadId = created.Json!["upload"]!["id"]!.GetValue<string>();

        var (first, firstJson) = await SendBytesAsync(http, HttpMethod.Patch, $"/v1/uploads/{uploadId}?offset=0", data[..split], owner);
        Assert.Equal(HttpStatusCode.OK, first);
        Assert.Equal(split.ToString(System.Globalization.CultureInfo.InvariantCulture), firstJson!["committedOffset"]!.GetValue<string>());

        // Not where the upload stands: FAILED_PRECONDITION (HTTP 400), as over gRPC, and nothing appended.
        var (stale, staleJson) = await SendBytesAsync(http, HttpMethod.Patch, $"/v1/uploads/{uploadId}?offset=0", data[split..], owner);
        Assert.Equal(HttpStatusCode.BadRequest, stale);
        Assert.Equal(9, staleJson!["code"]!.GetValue<int>());

        var (second, _) = await SendBytesAsync(http, HttpMethod.Patch, $"/v1/uploads/{uploadId}?offset={split}", data[split..], owner);
        Assert.Equal(HttpStatusCode.OK, second);
        var completed = await http.CallAsync(HttpMethod.Post, $"/v1/uploads/{uploadId}:complete",
            new JsonObject { ["sha256"] = Sha256(data) }, bearer: owner.Tokens.AccessToken);
        Assert.True(completed.Status == HttpStatusCode.OK, completed.Json?.ToJsonString());
        var fileId = completed.Json!["file"]!["id"]!.GetValue<string>();
        Assert.Equal(data, await Host.Files().DownloadAsync(fileId, owner.Bearer));
    }

    [Fact]
    public async Task UploadOverRest_BadInput_StatusOfTheGrpcCall()
    {
        var (owner, _, baseId) = await Host.NewBaseAsync();
        using var http = Host.RestClient();

        // An unknown query field: INVALID_ARGUMENT on it, before any byte is stored.
        var (unknown, unknownJson) = await SendBytesAsync(http, HttpMethod.Post, $"/v1/files:upload?header.baseId={baseId}&colour=red", [1, 2, 3], owner);
        Assert.Equal(HttpStatusCode.BadRequest, unknown);
        Assert.Equal("colour", RestApiTests.Violations(unknownJson!).Single().Field);

        // No such upload: NOT_FOUND.
        var (missing, _) = await SendBytesAsync(http, HttpMethod.Patch, $"/v1/uploads/{Guid.NewGuid()}?offset=0", [1, 2, 3], owner);
        Assert.Equal(HttpStatusCode.NotFound, missing);

        // Bytes that do not match the declared hash: that file's own error, nothing stored (as BatchUpload over gRPC).
        var (mismatch, mismatchJson) = await SendBytesAsync(http, HttpMethod.Post,
            $"/v1/files:upload?header.name=x&header.baseId={baseId}&header.sha256={Sha256([9])}", [1, 2, 3], owner);
        Assert.Equal(HttpStatusCode.OK, mismatch);
        Assert.Equal("ERROR_CODE_INVALID_ARGUMENT", mismatchJson!["results"]![0]!["error"]!["code"]!.GetValue<string>());

        // Without credentials: 401, as every JSON route.
        using var anonymous = new HttpRequestMessage(HttpMethod.Post, $"/v1/files:upload?header.baseId={baseId}") { Content = new ByteArrayContent([1]) };
        using var refused = await http.SendAsync(anonymous);
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
    }

    /// <summary>Sends <paramref name="data"/> as a raw body, through a stream (chunked: the client sends no length).</summary>
    internal static async Task<(HttpStatusCode Status, JsonNode? Json)> SendBytesAsync(HttpClient http, HttpMethod method, string path, byte[] data,
        TestUser user)
    {
        using var request = new HttpRequestMessage(method, path) { Content = new StreamContent(new MemoryStream(data), 64 * 1024) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        request.Headers.TransferEncodingChunked = true;
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", user.Tokens.AccessToken);
        using var response = await http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, text.Length == 0 ? null : JsonNode.Parse(text));
    }
}
