using PyAirtable.Contracts.Auth;
using PyAirtable.Contracts.Common;
using PyAirtable.Contracts.Files;
using PyAirtable.Contracts.Permissions;
using PyAirtable.Services.Files.Storage;
using PyAirtable.Services.Files.Stores;
using PyAirtable.Services.Infrastructure.Errors;
using PyAirtable.Services.Infrastructure.Identity;
using CallContext = ProtoBuf.Grpc.CallContext;

namespace PyAirtable.Services.Files;

/// <summary>
/// Resumable uploads, after tus: create, append at the committed offset (a wrong offset is refused with the committed
/// one), read the offset, complete or abort. The committed offset lives in PostgreSQL and only moves after the bytes
/// up to it are flushed to the staged file; an append first cuts the staged file back to it, so bytes written after
/// the last record (a host that died mid-append) are neither lost to an acknowledged offset nor duplicated.
/// </summary>
public sealed partial class FileService
{
    /// <summary>Bytes between two records of the committed offset during an append.</summary>
    private const long RecordEvery = 8L * 1024 * 1024;

    private static readonly TimeSpan LockWait = TimeSpan.FromSeconds(5);

    [RequiresScope(Scopes.WorkspacesWrite)]
    public async ValueTask<CreateUploadResponse> CreateUploadAsync(CreateUploadRequest request, CallContext context = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var caller = context.RequireUser(FilesAreUsers);
        var header = request.Header ?? new FileHeader();
        var (name, contentType, sha256) = FileNames.CheckHeader(header);
        var target = await AuthorizeTargetAsync(context, "header.", header.BaseId, header.TableId, PermissionLevel.Edit);
        var ct = context.CancellationToken;
        if (header.SizeBytes is { } declared)
        {
            (await AllowanceAsync(target, ct)).Require(declared);
        }

        await using var db = await FileSession.BeginAsync(dataSource, ct);
        var row = await db.Uploads.InsertAsync(new UploadRow
        {
            Id = Guid.CreateVersion7(), WorkspaceId = target.WorkspaceId, BaseId = target.BaseId, TableId = target.TableId, Name = name,
            ContentType = contentType, DeclaredSize = header.SizeBytes, DeclaredSha256 = sha256.Length > 0 ? sha256 : null,
            CreatedBy = Guid.Parse(caller.UserId), ExpiresAt = DateTime.UtcNow + _options.UploadLifetime,
        }, ct);
        await db.CommitAsync(ct);
        return new CreateUploadResponse { Upload = row.ToContract(), MaxChunkBytes = _options.MaxChunkBytes };
    }

    [RequiresScope(Scopes.WorkspacesWrite)]
    public async ValueTask<AppendUploadResponse> AppendUploadAsync(IAsyncEnumerable<AppendUploadRequest> requests, CallContext context = default)
    {
        ArgumentNullException.ThrowIfNull(requests);
        var caller = context.RequireUser(FilesAreUsers);
        var ct = context.CancellationToken;
        await using var frames = requests.GetAsyncEnumerator(ct);
        if (!await frames.MoveNextAsync())
        {
            Fail.Invalid("upload_id", "is required (the stream had no frame)");
        }

        var first = frames.Current;
        var id = Validation.Id("upload_id", first.UploadId);
        if (first.Offset < 0)
        {
            Fail.Invalid("offset", "must not be negative");
        }

        using var held = await EnterAsync(id, ct);
        var upload = await FindUploadAsync(id, Guid.Parse(caller.UserId), ct);
        if (first.Offset != upload.CommittedOffset)
        {
            Fail.FailedPrecondition(
                $"The upload's committed offset is {upload.CommittedOffset}; append from there (this stream started at {first.Offset}).",
                new Dictionary<string, string> { ["committed_offset"] = upload.CommittedOffset.ToString(System.Globalization.CultureInfo.InvariantCulture) });
        }

        var limit = Math.Min(_options.MaxFileBytes, upload.DeclaredSize ?? long.MaxValue);
        var path = staging.UploadPath(id);
        var committed = upload.CommittedOffset;
        await using var file = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 0, FileOptions.Asynchronous);
        if (file.Length < committed)
        {
            Fail.FailedPrecondition("The upload's bytes are not on this host (or were lost); abort it and upload again.",
                new Dictionary<string, string> { ["committed_offset"] = committed.ToString(System.Globalization.CultureInfo.InvariantCulture) });
        }

        // Bytes past the committed offset were never acknowledged: drop them, so nothing is duplicated.
        file.SetLength(committed);
        file.Seek(committed, SeekOrigin.Begin);
        var written = committed;
        try
        {
            var frame = first;
            while (true)
            {
                if (frame.Data.Length > _options.MaxChunkBytes)
                {
                    ChunkTooLarge("data", frame.Data.Length, _options.MaxChunkBytes);
                }

                if (written + frame.Data.Length > limit)
                {
                    if (upload.DeclaredSize is { } declared && written + frame.Data.Length > declared)
                    {
                        Fail.Invalid("data", $"the upload was declared with {declared} bytes; this frame goes past that");
                    }

                    new Allowance(_options.MaxFileBytes, "file_size", _options.MaxFileBytes, 0).Require(written + frame.Data.Length);
                }

                await file.WriteAsync(frame.Data, ct);
                written += frame.Data.Length;
                if (written - committed >= RecordEvery)
                {
                    committed = await RecordAsync(file, id, written);
                }

                if (!await frames.MoveNextAsync())
                {
                    break;
                }

                frame = frames.Current;
            }
        }
        finally
        {
            // Whatever ends the stream (its end, a refused frame, a cut connection), whole frames written so far are kept.
            if (written != committed)
            {
                committed = await RecordAsync(file, id, written);
            }
        }

        return new AppendUploadResponse { CommittedOffset = committed };
    }

    [RequiresScope(Scopes.WorkspacesWrite)]
    public async ValueTask<GetUploadResponse> GetUploadAsync(GetUploadRequest request, CallContext context = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var caller = context.RequireUser(FilesAreUsers);
        var id = Validation.Id("upload_id", request.UploadId);
        var ct = context.CancellationToken;
        // An append that is still running (say, one whose connection just died) records its last bytes first: wait
        // for it a little, so the answer is where the next append can start. Past the wait, answer what is recorded.
        using (await Locks.TryEnterAsync(id, LockWait, ct))
        {
            var upload = await FindUploadAsync(id, Guid.Parse(caller.UserId), ct);
            return new GetUploadResponse { Upload = upload.ToContract() };
        }
    }

    [RequiresScope(Scopes.WorkspacesWrite)]
    public async ValueTask<CompleteUploadResponse> CompleteUploadAsync(CompleteUploadRequest request, CallContext context = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var caller = context.RequireUser(FilesAreUsers);
        var validator = new RequestValidator();
        var id = validator.Id("upload_id", request.UploadId);
        var sha256 = FileNames.Sha256(validator, "sha256", request.Sha256);
        if (request.SizeBytes is < 0)
        {
            validator.Add("size_bytes", "must not be negative");
        }

        validator.ThrowIfInvalid();
        var ct = context.CancellationToken;
        using var held = await EnterAsync(id, ct);
        var userId = Guid.Parse(caller.UserId);
        var upload = await FindUploadAsync(id, userId, ct);
        // Permissions may have changed since the upload was created.
        var target = new Target(upload.WorkspaceId, upload.BaseId, upload.TableId);
        var (type, resource) = target.Resource;
        await RequireAsync(context, type, resource, PermissionLevel.Edit, "upload", id.ToString());
        var path = staging.UploadPath(id);
        if (!File.Exists(path) && upload.CommittedOffset > 0)
        {
            Fail.FailedPrecondition("The upload's bytes are not on this host (or were lost); abort it and upload again.");
        }

        if (!File.Exists(path))
        {
            await File.WriteAllBytesAsync(path, [], ct);
        }

        var (length, actual) = await StagingArea.HashAsync(path, ct);
        if (length != upload.CommittedOffset)
        {
            // Only bytes past the committed offset (a cut append's tail): not part of the upload.
            using var trim = new FileStream(path, FileMode.Open, FileAccess.Write);
            trim.SetLength(upload.CommittedOffset);
            trim.Close();
            (length, actual) = await StagingArea.HashAsync(path, ct);
        }

        RequireDeclared("", upload.DeclaredSize, upload.DeclaredSha256 ?? "", length, actual);
        RequireDeclared("", request.SizeBytes, sha256, length, actual);
        var file = await StoreAsync(target, upload.Name, upload.ContentType, path, length, actual, id, userId, context);
        StagingArea.DeleteQuietly(path);
        Locks.Forget(id);
        return new CompleteUploadResponse { File = file };
    }

    [RequiresScope(Scopes.WorkspacesWrite)]
    public async ValueTask<AbortUploadResponse> AbortUploadAsync(AbortUploadRequest request, CallContext context = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var caller = context.RequireUser(FilesAreUsers);
        var id = Validation.Id("upload_id", request.UploadId);
        var ct = context.CancellationToken;
        using var held = await EnterAsync(id, ct);
        await FindUploadAsync(id, Guid.Parse(caller.UserId), ct);
        await using (var db = await FileSession.BeginAsync(dataSource, ct))
        {
            await db.Uploads.DeleteAsync(id, ct);
            await db.CommitAsync(ct);
        }

        StagingArea.DeleteQuietly(staging.UploadPath(id));
        Locks.Forget(id);
        return new AbortUploadResponse();
    }

    /// <summary>The caller's live upload, or NOT_FOUND (someone else's and expired ones alike).</summary>
    private async Task<UploadRow> FindUploadAsync(Guid id, Guid owner, CancellationToken ct)
    {
        await using var db = await FileSession.OpenAsync(dataSource, ct);
        var upload = await db.Uploads.FindAsync(id, owner, ct);
        if (upload is null)
        {
            Fail.NotFound("upload", id.ToString());
        }

        return upload;
    }

    private async Task<IDisposable> EnterAsync(Guid id, CancellationToken ct) =>
        await Locks.TryEnterAsync(id, LockWait, ct)
        ?? throw new PlatformException(ErrorCode.Aborted, "Another append or completion of this upload is running; retry when it ended.");

    /// <summary>Flushes the staged bytes to disk, then records them as committed (whatever the call's state: they arrived).</summary>
    private async Task<long> RecordAsync(FileStream file, Guid id, long offset)
    {
        file.Flush(flushToDisk: true);
        await using var db = await FileSession.OpenAsync(dataSource, CancellationToken.None);
        await db.Uploads.SetOffsetAsync(id, offset, CancellationToken.None);
        return offset;
    }
}
