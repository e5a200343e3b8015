using System.Net;
using PyAirtable.IntegrationTests.Files;
using PyAirtable.IntegrationTests.Infrastructure;
using static PyAirtable.IntegrationTests.Files.FileCalls;

namespace PyAirtable.IntegrationTests.Rest;

/// <summary>
/// A REST upload is bounded by the Files service's limits, not by Kestrel's request body limit (30,000,000 bytes by
/// default), which the gRPC handler lifts for the call the body is fed into: the body is not read before it runs.
/// </summary>
public sealed class RestLargeUploadTests : DatabasePerTest
{
    [Fact]
    public async Task UploadOverRest_LargerThanKestrelsDefaultBodyLimit_IsStoredWhole()
    {
        var directory = Path.Combine(Path.GetTempPath(), "pyairtable-files-" + Guid.NewGuid().ToString("N"));
        try
        {
            await using var host = await TestHost.StartAsync(Database.ConnectionString, o =>
            {
                o.Settings["Files:Storage"] = "FileSystem";
                o.Settings["Files:MaxFileBytes"] = (48L * 1024 * 1024).ToString(System.Globalization.CultureInfo.InvariantCulture);
                o.Settings["Files:BaseQuotaBytes"] = (64L * 1024 * 1024).ToString(System.Globalization.CultureInfo.InvariantCulture);
                o.Settings["Files:StagingPath"] = Path.Combine(directory, "staging");
                o.Settings["Files:FileSystem:Path"] = Path.Combine(directory, "blobs");
            });
            var (owner, _, baseId) = await host.NewBaseAsync();
            var data = RandomBytes(31_000_000, 18);
            using var http = host.RestClient();

            var (status, json) = await RestUploadTests.SendBytesAsync(http, HttpMethod.Post,
                $"/v1/files:upload?header.name=large.bin&header.baseId={baseId}&header.sha256={Sha256(data)}", data, owner);

            Assert.True(status == HttpStatusCode.OK, json?.ToJsonString());
            var file = json!["results"]!.AsArray().Single()!["file"]!;
            Assert.Equal("31000000", file["sizeBytes"]!.GetValue<string>());
            Assert.Equal(data, await host.Files().DownloadAsync(file["id"]!.GetValue<string>(), owner.Bearer));
        }
        finally
        {
            if (Directory.Exists(directory))
            {
                Directory.Delete(directory, recursive: true);
            }
        }
    }
}
