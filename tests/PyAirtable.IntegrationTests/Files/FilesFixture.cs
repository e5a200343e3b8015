using Grpc.Core;
using ProtoBuf.Grpc;
using Grpc.Net.Client;
using Microsoft.Extensions.DependencyInjection;
using ProtoBuf.Grpc.Client;
using PyAirtable.Contracts.Files;
using PyAirtable.Contracts.Workspaces;
using PyAirtable.IntegrationTests.Access;
using PyAirtable.IntegrationTests.Identity;
using PyAirtable.IntegrationTests.Infrastructure;
using PyAirtable.Services.Files;
using PyAirtable.Services.Files.Storage;

namespace PyAirtable.IntegrationTests.Files;

/// <summary>A host whose Files service keeps blobs in one backend, with small limits so quota tests stay small.</summary>
public abstract class FilesFixture : HostFixture, IAsyncLifetime
{
    public const long MaxFileBytes = 6L * 1024 * 1024;
    public const long BaseQuotaBytes = 8L * 1024 * 1024;

    /// <summary>This fixture's own directory (blobs for the filesystem backend, staging for both).</summary>
    public string Directory { get; } = Path.Combine(Path.GetTempPath(), "pyairtable-files-" + Guid.NewGuid().ToString("N"));

    public string Bucket { get; } = "files-" + Guid.NewGuid().ToString("N")[..12];

    public IBlobStore Blobs => Host.App.Services.GetRequiredService<IBlobStore>();

    public FileMaintenance Maintenance => Host.App.Services.GetRequiredService<FileMaintenance>();

    protected override void Configure(TestHostOptions options)
    {
        options.Settings["Files:MaxFileBytes"] = MaxFileBytes.ToString(System.Globalization.CultureInfo.InvariantCulture);
        options.Settings["Files:BaseQuotaBytes"] = BaseQuotaBytes.ToString(System.Globalization.CultureInfo.InvariantCulture);
        options.Settings["Files:StagingPath"] = Path.Combine(Directory, "staging");
        options.Settings["Files:FileSystem:Path"] = Path.Combine(Directory, "blobs");
        ConfigureStorage(options.Settings, Bucket);
    }

    async Task IAsyncLifetime.DisposeAsync()
    {
        await DisposeAsync();
        if (System.IO.Directory.Exists(Directory))
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
    }

    protected abstract void ConfigureStorage(Dictionary<string, string?> settings, string bucket);

    /// <summary>The S3 settings of the suite's s3rver (any access key is accepted there).</summary>
    public static void UseS3(Dictionary<string, string?> settings, string bucket)
    {
        settings["Files:Storage"] = "S3";
        settings["Files:S3:ServiceUrl"] = TestEnvironment.S3;
        settings["Files:S3:Bucket"] = bucket;
        settings["Files:S3:AccessKey"] = "S3RVER";
        settings["Files:S3:SecretKey"] = "S3RVER";
        // Small parts, so a few MiB already take the multipart path.
        settings["Files:S3:PartSizeBytes"] = (5L * 1024 * 1024).ToString(System.Globalization.CultureInfo.InvariantCulture);
    }
}

public sealed class FileSystemFilesFixture : FilesFixture
{
    protected override void ConfigureStorage(Dictionary<string, string?> settings, string bucket) => settings["Files:Storage"] = "FileSystem";
}

public sealed class S3FilesFixture : FilesFixture
{
    protected override void ConfigureStorage(Dictionary<string, string?> settings, string bucket) => UseS3(settings, bucket);
}

/// <summary>Calls of the Files tests.</summary>
public static class FileCalls
{
    public const int Chunk = 64 * 1024;

    public static IFileService Files(this TestHost host) => host.Channel.CreateGrpcService<IFileService>();

    public static IFileService Files(this GrpcChannel channel) => channel.CreateGrpcService<IFileService>();

    /// <summary>A new workspace with one base, owned by a new user.</summary>
    public static async Task<(TestUser Owner, string WorkspaceId, string BaseId)> NewBaseAsync(this TestHost host)
    {
        var owner = await host.RegisterAsync();
        var ws = (await host.Workspaces().CreateWorkspaceAsync(new CreateWorkspaceRequest { Name = "Files" }, owner.Bearer)).Workspace!;
        var b = (await host.Workspaces().CreateBaseAsync(new CreateBaseRequest { WorkspaceId = ws.Id, Name = "Attachments" }, owner.Bearer)).Base!;
        return (owner, ws.Id, b.Id);
    }

    public static byte[] RandomBytes(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    public static string Sha256(byte[] bytes) => Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes));

    /// <summary>Frames of a batch: each file's header, then its bytes in chunks.</summary>
    public static async IAsyncEnumerable<BatchUploadRequest> Frames(IEnumerable<(FileHeader Header, byte[] Data)> files, int chunk = Chunk)
    {
        foreach (var (header, data) in files)
        {
            yield return new BatchUploadRequest { Header = header };
            for (var offset = 0; offset < data.Length; offset += chunk)
            {
                yield return new BatchUploadRequest { Data = data.AsSpan(offset, Math.Min(chunk, data.Length - offset)).ToArray() };
            }
        }

        await Task.CompletedTask;
    }

    public static async Task<UploadResult> UploadOneAsync(this IFileService files, FileHeader header, byte[] data, CallContext context)
    {
        var response = await files.BatchUploadAsync(Frames([(header, data)]), context);
        return Assert.Single(response.Results);
    }

    public static async Task<byte[]> DownloadAsync(this IFileService files, string fileId, CallContext context, long offset = 0, long length = 0)
    {
        using var buffer = new MemoryStream();
        var expected = offset;
        await foreach (var message in files.DownloadAsync(new DownloadRequest { FileId = fileId, Offset = offset, Length = length }, context))
        {
            Assert.Equal(expected, message.Offset);
            buffer.Write(message.Data);
            expected += message.Data.Length;
        }

        return buffer.ToArray();
    }

    public static async Task<AppendUploadResponse> AppendAsync(this IFileService files, string uploadId, long offset, byte[] data, CallContext context, int chunk = Chunk)
    {
        try
        {
            return await files.AppendUploadAsync(Frames(), context);
        }
        catch (Exception e) when (e.InnerException is RpcException refusal)
        {
            // The server refused before the client had sent everything: protobuf-net.Grpc wraps the server's status.
            throw refusal;
        }

        async IAsyncEnumerable<AppendUploadRequest> Frames()
        {
            yield return new AppendUploadRequest { UploadId = uploadId, Offset = offset, Data = data.AsSpan(0, Math.Min(chunk, data.Length)).ToArray() };
            for (var at = chunk; at < data.Length; at += chunk)
            {
                yield return new AppendUploadRequest { Data = data.AsSpan(at, Math.Min(chunk, data.Length - at)).ToArray() };
            }

            await Task.CompletedTask;
        }
    }
}
