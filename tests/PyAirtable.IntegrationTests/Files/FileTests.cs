using Dapper;
using Grpc.Core;
using Npgsql;
using ProtoBuf.Grpc;
using PyAirtable.Contracts.Files;
using PyAirtable.Contracts.Permissions;
using PyAirtable.IntegrationTests.Access;
using PyAirtable.IntegrationTests.Identity;
using PyAirtable.IntegrationTests.Infrastructure;
using static PyAirtable.IntegrationTests.Access.Access;
using static PyAirtable.IntegrationTests.Files.FileCalls;
using static PyAirtable.IntegrationTests.Identity.AuthenticationTests;

namespace PyAirtable.IntegrationTests.Files;

/// <summary>The Files service through real gRPC; the same tests run against each blob backend (the subclasses below).</summary>
public abstract class FileTests<TFixture>(TFixture fixture) : IClassFixture<TFixture>, IDisposable
    where TFixture : FilesFixture
{
    protected TFixture Fixture { get; } = fixture;

    protected TestHost Host => Fixture.Host;

    public void Dispose()
    {
        Fixture.AssertNoUnexpectedErrors();
        GC.SuppressFinalize(this);
    }

    [Fact]
    public async Task BatchUpload_SeveralFilesInOneStream_EachStoredAndReadBack()
    {
        var (owner, workspaceId, baseId) = await Host.NewBaseAsync();
        var a = RandomBytes(300_000, 1);
        var b = RandomBytes(10, 2);
        byte[] empty = [];

        var response = await Host.Files().BatchUploadAsync(Frames(
        [
            (new FileHeader { Name = "a.bin", BaseId = baseId, SizeBytes = a.Length, Sha256 = Sha256(a) }, a),
            (new FileHeader { Name = "b.txt", BaseId = baseId, ContentType = "text/plain; charset=utf-8" }, b),
            (new FileHeader { Name = "empty", BaseId = baseId, SizeBytes = 0 }, empty),
        ]), owner.Bearer);

        Assert.Equal([0, 1, 2], response.Results.Select(r => r.Index));
        Assert.All(response.Results, r => Assert.Null(r.Error));
        var files = response.Results.Select(r => r.File!).ToList();
        Assert.Equal([a.Length, b.Length, 0L], files.Select(f => f.SizeBytes));
        Assert.Equal([Sha256(a), Sha256(b), Sha256(empty)], files.Select(f => f.Sha256));
        Assert.Equal(["application/octet-stream", "text/plain; charset=utf-8", "application/octet-stream"], files.Select(f => f.ContentType));
        Assert.All(files, f => Assert.Equal(workspaceId, f.WorkspaceId));
        Assert.Equal(a, await Host.Files().DownloadAsync(files[0].Id, owner.Bearer));
        Assert.Equal(b, await Host.Files().DownloadAsync(files[1].Id, owner.Bearer));
        Assert.Empty(await Host.Files().DownloadAsync(files[2].Id, owner.Bearer));
        Assert.Equal(files[1], (await Host.Files().GetFileAsync(new GetFileRequest { FileId = files[1].Id }, owner.Bearer)).File);

        // Listed in pages of two, by id.
        var page1 = await Host.Files().ListFilesAsync(new ListFilesRequest { BaseId = baseId, Pagination = new() { PageSize = 2 } }, owner.Bearer);
        var page2 = await Host.Files().ListFilesAsync(new ListFilesRequest { BaseId = baseId, Pagination = new() { PageSize = 2, Cursor = page1.Pagination!.NextCursor } }, owner.Bearer);
        Assert.Equal(3, page1.Pagination.TotalCount);
        Assert.Equal(files.Select(f => f.Id).Order(), page1.Files.Concat(page2.Files).Select(f => f.Id));
        Assert.False(page2.Pagination!.HasNext);
    }

    [Fact]
    public async Task BatchUpload_BadFilesAmongGoodOnes_OnlyTheBadOnesFailAndNothingOfThemIsStored()
    {
        var (owner, _, baseId) = await Host.NewBaseAsync();
        var good = RandomBytes(200_000, 3);
        var bad = RandomBytes(100_000, 4);
        var blobsBefore = await BlobCountAsync();

        var response = await Host.Files().BatchUploadAsync(Frames(
        [
            (new FileHeader { Name = "wrong-sha", BaseId = baseId, Sha256 = Sha256(good) }, bad),
            (new FileHeader { Name = "good-1", BaseId = baseId }, good),
            (new FileHeader { Name = "too-short", BaseId = baseId, SizeBytes = bad.Length + 1 }, bad),
            (new FileHeader { Name = "too-long", BaseId = baseId, SizeBytes = bad.Length - 1 }, bad),
            (new FileHeader { Name = "no-base", BaseId = "not-a-uuid" }, bad),
            (new FileHeader { Name = "elsewhere", BaseId = Guid.NewGuid().ToString() }, bad),
            (new FileHeader { Name = "good-2", BaseId = baseId, Sha256 = Sha256(good).ToUpperInvariant() }, good),
        ]), owner.Bearer);

        var errors = response.Results.Select(r => r.Error is null ? "ok" : r.Error.Code + ":" + r.Error.Metadata.GetValueOrDefault("field", "")).ToList();
        Assert.Equal(
        [
            "ERROR_CODE_INVALID_ARGUMENT:header.sha256", "ok", "ERROR_CODE_INVALID_ARGUMENT:header.size_bytes",
            "ERROR_CODE_INVALID_ARGUMENT:header.size_bytes", "ERROR_CODE_INVALID_ARGUMENT:header.base_id", "ERROR_CODE_NOT_FOUND:", "ok",
        ], errors);
        Assert.Equal(response.Results[1].File!.Sha256, response.Results[6].File!.Sha256);
        // Only the good contents were stored, once.
        Assert.Equal(blobsBefore + 1, await BlobCountAsync());
        Assert.False(await Fixture.Blobs.ExistsAsync(Sha256(bad), CancellationToken.None));
        Assert.Equal(2, (await Host.Files().ListFilesAsync(new ListFilesRequest { BaseId = baseId }, owner.Bearer)).Pagination!.TotalCount);
    }

    [Fact]
    public async Task BatchUpload_FrameOverTheChunkLimitOrNoHeader_Refused()
    {
        var (owner, _, baseId) = await Host.NewBaseAsync();
        var big = RandomBytes(1024 * 1024 + 1, 5);

        var response = await Host.Files().BatchUploadAsync(Frames([(new FileHeader { Name = "big", BaseId = baseId }, big)], chunk: big.Length), owner.Bearer);
        Assert.Equal("ERROR_CODE_INVALID_ARGUMENT", response.Results[0].Error!.Code);
        Assert.Equal("data", response.Results[0].Error!.Metadata["field"]);

        var headless = await Assert.ThrowsAsync<RpcException>(async () =>
            await Host.Files().BatchUploadAsync(Headless(), owner.Bearer));
        AssertStatus(headless, StatusCode.InvalidArgument);

        static async IAsyncEnumerable<BatchUploadRequest> Headless()
        {
            yield return new BatchUploadRequest { Data = [1, 2, 3] };
            await Task.CompletedTask;
        }
    }

    [Theory]
    [InlineData("../../etc/passwd", "passwd")]
    [InlineData("C:\\Users\\me\\report.pdf", "report.pdf")]
    [InlineData("  résumé – final.docx  ", "résumé – final.docx")]
    [InlineData("a\0b", null)]
    [InlineData("bell\u0007", null)]
    [InlineData("line\nbreak", null)]
    [InlineData("gpj\u202Eexe.jpg", null)]
    [InlineData("..", null)]
    [InlineData("dir/", null)]
    [InlineData("", null)]
    public async Task BatchUpload_HostileNames_CutToTheFileNameOrRefused(string name, string? stored)
    {
        var (owner, _, baseId) = await Host.NewBaseAsync();

        var result = await Host.Files().UploadOneAsync(new FileHeader { Name = name, BaseId = baseId }, [1, 2, 3], owner.Bearer);

        if (stored is null)
        {
            Assert.Equal("ERROR_CODE_INVALID_ARGUMENT", result.Error!.Code);
            Assert.Equal("header.name", result.Error.Metadata["field"]);
        }
        else
        {
            Assert.Equal(stored, result.File!.Name);
        }
    }

    [Fact]
    public async Task BatchUpload_NamesByUtf8Length_255BytesAllowedMoreRefused()
    {
        var (owner, _, baseId) = await Host.NewBaseAsync();
        var fits = new string('é', 127) + "x";        // 255 bytes in UTF-8
        var tooLong = new string('é', 128);           // 256 bytes

        var response = await Host.Files().BatchUploadAsync(Frames(
        [
            (new FileHeader { Name = fits, BaseId = baseId }, [1]),
            (new FileHeader { Name = tooLong, BaseId = baseId }, [1]),
        ]), owner.Bearer);

        Assert.Equal(fits, response.Results[0].File!.Name);
        Assert.Equal("header.name", response.Results[1].Error!.Metadata["field"]);
    }

    [Fact]
    public async Task Download_Ranges_AreByteExact()
    {
        var (owner, _, baseId) = await Host.NewBaseAsync();
        var data = RandomBytes(700_001, 6);
        var file = (await Host.Files().UploadOneAsync(new FileHeader { Name = "r", BaseId = baseId }, data, owner.Bearer)).File!;

        foreach (var (offset, length) in new (long, long)[]
        {
            (0, 0), (0, 1), (1, 1), (262_143, 2), (262_144, 262_144), (100, 600_000), (699_999, 0), (699_999, 5), (700_000, 1), (700_001, 0), (5, 10_000_000),
        })
        {
            var expected = data.AsSpan((int)offset, (int)(length == 0 ? data.Length - offset : Math.Min(length, data.Length - offset))).ToArray();
            Assert.Equal(expected, await Host.Files().DownloadAsync(file.Id, owner.Bearer, offset, length));
        }

        AssertStatus(await Assert.ThrowsAsync<RpcException>(() => Host.Files().DownloadAsync(file.Id, owner.Bearer, 700_002)), StatusCode.InvalidArgument);
        AssertStatus(await Assert.ThrowsAsync<RpcException>(() => Host.Files().DownloadAsync(file.Id, owner.Bearer, -1)), StatusCode.InvalidArgument);
    }

    [Fact]
    public async Task SameContentUploadedTwiceInParallel_OneBlob_CollectedWhenTheLastFileGoes()
    {
        var (owner, _, baseId) = await Host.NewBaseAsync();
        var data = RandomBytes(2 * 1024 * 1024 + 17, 7);
        var sha = Sha256(data);

        var uploads = await Task.WhenAll(Enumerable.Range(0, 2).Select(i =>
            Host.Files().UploadOneAsync(new FileHeader { Name = $"copy-{i}", BaseId = baseId, Sha256 = sha }, data, owner.Bearer)));

        Assert.All(uploads, u => Assert.Equal(sha, u.File!.Sha256));
        Assert.NotEqual(uploads[0].File!.Id, uploads[1].File!.Id);
        Assert.Equal(2, await RefsAsync(sha));
        Assert.True(await Fixture.Blobs.ExistsAsync(sha, CancellationToken.None));

        await Host.Files().DeleteFileAsync(new DeleteFileRequest { FileId = uploads[0].File!.Id }, owner.Bearer);
        await Fixture.Maintenance.RunOnceAsync(CancellationToken.None);
        Assert.Equal(data, await Host.Files().DownloadAsync(uploads[1].File!.Id, owner.Bearer));

        await Host.Files().DeleteFileAsync(new DeleteFileRequest { FileId = uploads[1].File!.Id }, owner.Bearer);
        AssertStatus(await Assert.ThrowsAsync<RpcException>(async () =>
            await Host.Files().GetFileAsync(new GetFileRequest { FileId = uploads[1].File!.Id }, owner.Bearer)), StatusCode.NotFound);
        await Fixture.Maintenance.RunOnceAsync(CancellationToken.None);
        Assert.Null(await RefsAsync(sha));
        Assert.False(await Fixture.Blobs.ExistsAsync(sha, CancellationToken.None));
    }

    [Fact]
    public async Task Quotas_FileSizeAndBase_ResourceExhaustedWithTheLimit()
    {
        var (owner, _, baseId) = await Host.NewBaseAsync();
        var five = RandomBytes(5 * 1024 * 1024 + 1, 8);   // past the S3 fixture's part size: a multipart upload there
        var tooBig = RandomBytes((int)FilesFixture.MaxFileBytes + 1, 9);

        var response = await Host.Files().BatchUploadAsync(Frames(
        [
            (new FileHeader { Name = "too-big-undeclared", BaseId = baseId }, tooBig),
            (new FileHeader { Name = "five", BaseId = baseId }, five),
            (new FileHeader { Name = "over-base", BaseId = baseId }, RandomBytes(4 * 1024 * 1024, 10)),
        ]), owner.Bearer);

        Assert.Equal("file_size", response.Results[0].Error!.Metadata["limit"]);
        Assert.Null(response.Results[1].Error);
        var over = response.Results[2].Error!;
        Assert.Equal("ERROR_CODE_RESOURCE_EXHAUSTED", over.Code);
        Assert.Equal("base_quota", over.Metadata["limit"]);
        Assert.Equal(FilesFixture.BaseQuotaBytes.ToString(System.Globalization.CultureInfo.InvariantCulture), over.Metadata["quota_bytes"]);
        Assert.Equal(five.Length.ToString(System.Globalization.CultureInfo.InvariantCulture), over.Metadata["used_bytes"]);

        // A declared size over the quota is refused before any byte is sent, as a whole-call error for a resumable upload.
        var refused = await Assert.ThrowsAsync<RpcException>(async () => await Host.Files().CreateUploadAsync(
            new CreateUploadRequest { Header = new FileHeader { Name = "x", BaseId = baseId, SizeBytes = 4 * 1024 * 1024 } }, owner.Bearer));
        Assert.Equal("base_quota", AssertStatus(refused, StatusCode.ResourceExhausted).Metadata["limit"]);
    }

    [Fact]
    public async Task Permissions_UploadNeedsEdit_ReadersRead_StrangersSeeNothing()
    {
        var (owner, workspaceId, baseId) = await Host.NewBaseAsync();
        var reader = await Host.JoinAsync(owner, await Host.RegisterAsync(), workspaceId, PermissionLevel.Read);
        var stranger = await Host.RegisterAsync();
        var file = (await Host.Files().UploadOneAsync(new FileHeader { Name = "doc", BaseId = baseId }, [1, 2], owner.Bearer)).File!;

        Assert.Equal("ERROR_CODE_PERMISSION_DENIED", (await Host.Files().UploadOneAsync(new FileHeader { Name = "x", BaseId = baseId }, [1], reader.Bearer)).Error!.Code);
        Assert.Equal([1, 2], await Host.Files().DownloadAsync(file.Id, reader.Bearer));
        AssertStatus(await Assert.ThrowsAsync<RpcException>(async () =>
            await Host.Files().DeleteFileAsync(new DeleteFileRequest { FileId = file.Id }, reader.Bearer)), StatusCode.PermissionDenied);

        Assert.Equal("ERROR_CODE_NOT_FOUND", (await Host.Files().UploadOneAsync(new FileHeader { Name = "x", BaseId = baseId }, [1], stranger.Bearer)).Error!.Code);
        foreach (var call in new Func<Task>[]
        {
            () => Host.Files().DownloadAsync(file.Id, stranger.Bearer),
            async () => await Host.Files().GetFileAsync(new GetFileRequest { FileId = file.Id }, stranger.Bearer),
            async () => await Host.Files().DeleteFileAsync(new DeleteFileRequest { FileId = file.Id }, stranger.Bearer),
            async () => await Host.Files().ListFilesAsync(new ListFilesRequest { BaseId = baseId }, stranger.Bearer),
            async () => await Host.Files().GetFileAsync(new GetFileRequest { FileId = Guid.NewGuid().ToString() }, owner.Bearer),
        })
        {
            AssertStatus(await Assert.ThrowsAsync<RpcException>(call), StatusCode.NotFound);
        }

        // A none grant on the base hides its files from the reader too.
        await Host.Permissions().GrantAsync(new GrantRequest { Resource = Ref(ResourceType.Base, baseId), UserId = reader.UserId, Level = PermissionLevel.None }, owner.Bearer);
        AssertStatus(await Assert.ThrowsAsync<RpcException>(async () =>
            await Host.Files().GetFileAsync(new GetFileRequest { FileId = file.Id }, reader.Bearer)), StatusCode.NotFound);
    }

    [Fact]
    public async Task ResumableUpload_ConnectionKilledMidStream_ResumesFromTheCommittedOffsetWithoutLossOrDuplicates()
    {
        var (owner, _, baseId) = await Host.NewBaseAsync();
        var data = RandomBytes(3 * 1024 * 1024 + 5, 11);
        var created = await Host.Files().CreateUploadAsync(new CreateUploadRequest
        {
            Header = new FileHeader { Name = "resumed.bin", BaseId = baseId, SizeBytes = data.Length },
        }, owner.Bearer);
        var id = created.Upload!.Id;
        Assert.Equal(0, created.Upload.CommittedOffset);

        // A stream that sends 20 chunks, then its TCP connection dies (not a polite cancel).
        using (var killer = new KillableChannel(Host.GrpcAddress))
        {
            var sent = new TaskCompletionSource();
            var call = killer.Channel.Files().AppendUploadAsync(HalfThenHang(), owner.Bearer).AsTask();
            await sent.Task;
            await Task.Delay(200);
            killer.Kill();
            killer.StopRequests();
            await Assert.ThrowsAnyAsync<Exception>(() => call);

            async IAsyncEnumerable<AppendUploadRequest> HalfThenHang()
            {
                yield return new AppendUploadRequest { UploadId = id, Offset = 0, Data = data[..Chunk] };
                for (var i = 1; i < 20; i++)
                {
                    yield return new AppendUploadRequest { Data = data.AsSpan(i * Chunk, Chunk).ToArray() };
                }

                sent.SetResult();
                await Task.Delay(Timeout.Infinite, killer.Token);
            }
        }

        // What the server kept is whole chunks (waited for: GetUpload answers after a running append ended).
        var committed = (await Host.Files().GetUploadAsync(new GetUploadRequest { UploadId = id }, owner.Bearer)).Upload!.CommittedOffset;
        Assert.True(committed > 0 && committed <= 20 * Chunk && committed % Chunk == 0, $"committed {committed}");

        // Appending from the wrong place is refused with the committed offset (one frame each: a client still sending
        // when the server refuses may see its own write fail instead of the server's status).
        var wrong = await Assert.ThrowsAsync<RpcException>(() => Host.Files().AppendAsync(id, committed + 1, data[(int)committed..((int)committed + Chunk)], owner.Bearer));
        Assert.Equal(committed.ToString(System.Globalization.CultureInfo.InvariantCulture), AssertStatus(wrong, StatusCode.FailedPrecondition).Metadata["committed_offset"]);
        var again = await Assert.ThrowsAsync<RpcException>(() => Host.Files().AppendAsync(id, 0, data[..Chunk], owner.Bearer));
        AssertStatus(again, StatusCode.FailedPrecondition);

        var appended = await Host.Files().AppendAsync(id, committed, data[(int)committed..], owner.Bearer);
        Assert.Equal(data.Length, appended.CommittedOffset);

        // A wrong sha256 at completion is refused and the upload stays; the right one stores the file.
        AssertStatus(await Assert.ThrowsAsync<RpcException>(async () => await Host.Files().CompleteUploadAsync(
            new CompleteUploadRequest { UploadId = id, Sha256 = new string('0', 64) }, owner.Bearer)), StatusCode.InvalidArgument);
        var file = (await Host.Files().CompleteUploadAsync(new CompleteUploadRequest { UploadId = id, Sha256 = Sha256(data) }, owner.Bearer)).File!;
        Assert.Equal(data, await Host.Files().DownloadAsync(file.Id, owner.Bearer));
        AssertStatus(await Assert.ThrowsAsync<RpcException>(async () =>
            await Host.Files().GetUploadAsync(new GetUploadRequest { UploadId = id }, owner.Bearer)), StatusCode.NotFound);
    }

    [Fact]
    public async Task ResumableUpload_AbortAndExpiry_DropTheUploadAndItsBytes()
    {
        var (owner, _, baseId) = await Host.NewBaseAsync();
        var other = await Host.RegisterAsync();
        var header = new FileHeader { Name = "x", BaseId = baseId };
        var aborted = (await Host.Files().CreateUploadAsync(new CreateUploadRequest { Header = header }, owner.Bearer)).Upload!.Id;
        var expiring = (await Host.Files().CreateUploadAsync(new CreateUploadRequest { Header = header }, owner.Bearer)).Upload!.Id;
        await Host.Files().AppendAsync(expiring, 0, RandomBytes(1000, 12), owner.Bearer);

        // Someone else's upload does not exist for them.
        AssertStatus(await Assert.ThrowsAsync<RpcException>(async () =>
            await Host.Files().GetUploadAsync(new GetUploadRequest { UploadId = aborted }, other.Bearer)), StatusCode.NotFound);
        await Host.Files().AbortUploadAsync(new AbortUploadRequest { UploadId = aborted }, owner.Bearer);
        AssertStatus(await Assert.ThrowsAsync<RpcException>(() => Host.Files().AppendAsync(aborted, 0, [1], owner.Bearer)), StatusCode.NotFound);

        await using (var connection = new NpgsqlConnection(Fixture.Database.ConnectionString))
        {
            await connection.ExecuteAsync("UPDATE files.uploads SET expires_at = now() - interval '1 second' WHERE id = @id", new { id = Guid.Parse(expiring) });
        }

        var (uploads, _) = await Fixture.Maintenance.RunOnceAsync(CancellationToken.None);
        Assert.True(uploads >= 1);
        Assert.False(File.Exists(Path.Combine(Fixture.Directory, "staging", "uploads", Guid.Parse(expiring).ToString("N"))));
        AssertStatus(await Assert.ThrowsAsync<RpcException>(async () =>
            await Host.Files().CompleteUploadAsync(new CompleteUploadRequest { UploadId = expiring }, owner.Bearer)), StatusCode.NotFound);
    }

    [Fact]
    public async Task DeletingTheBase_DeletesItsFilesAndReleasesTheirBlobs()
    {
        var (owner, _, baseId) = await Host.NewBaseAsync();
        var data = RandomBytes(50_000, 13);
        var file = (await Host.Files().UploadOneAsync(new FileHeader { Name = "gone-with-the-base", BaseId = baseId }, data, owner.Bearer)).File!;

        await Host.Workspaces().DeleteBaseAsync(new PyAirtable.Contracts.Workspaces.DeleteBaseRequest { BaseId = baseId }, owner.Bearer);

        await Eventually.TrueAsync(async () => await RefsAsync(file.Sha256) == 0, "the base's file is deleted and its blob released");
        await Fixture.Maintenance.RunOnceAsync(CancellationToken.None);
        Assert.False(await Fixture.Blobs.ExistsAsync(file.Sha256, CancellationToken.None));
    }

    private async Task<long> BlobCountAsync()
    {
        await using var connection = new NpgsqlConnection(Fixture.Database.ConnectionString);
        return await connection.ExecuteScalarAsync<long>("SELECT count(*) FROM files.blobs");
    }

    private async Task<int?> RefsAsync(string sha)
    {
        await using var connection = new NpgsqlConnection(Fixture.Database.ConnectionString);
        return await connection.ExecuteScalarAsync<int?>("SELECT refs FROM files.blobs WHERE sha256 = @sha", new { sha });
    }
}

/// <summary>The Files suite with blobs on the local filesystem.</summary>
public sealed class FileSystemFileTests(FileSystemFilesFixture fixture) : FileTests<FileSystemFilesFixture>(fixture);

/// <summary>The Files suite with blobs in S3 (the suite's s3rver).</summary>
public sealed class S3FileTests(S3FilesFixture fixture) : FileTests<S3FilesFixture>(fixture);
