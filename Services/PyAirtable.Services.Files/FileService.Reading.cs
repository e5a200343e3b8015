using PyAirtable.Contracts.Auth;
using PyAirtable.Contracts.Events;
using PyAirtable.Contracts.Files;
using PyAirtable.Contracts.Permissions;
using PyAirtable.Services.Files.Stores;
using PyAirtable.Services.Infrastructure.Errors;
using PyAirtable.Services.Infrastructure.Events;
using PyAirtable.Services.Infrastructure.Identity;
using PyAirtable.Services.Infrastructure.Pagination;
using CallContext = ProtoBuf.Grpc.CallContext;

namespace PyAirtable.Services.Files;

/// <summary>Reading files (metadata, lists, byte ranges) and deleting them.</summary>
public sealed partial class FileService
{
    [RequiresScope(Scopes.WorkspacesRead)]
    public async IAsyncEnumerable<DownloadResponse> DownloadAsync(DownloadRequest request, CallContext context = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        context.RequireUser(FilesAreUsers);
        var validator = new RequestValidator();
        var id = validator.Id("file_id", request.FileId);
        if (request.Offset < 0)
        {
            validator.Add("offset", "must not be negative");
        }

        if (request.Length < 0)
        {
            validator.Add("length", "must not be negative (0 means to the end)");
        }

        validator.ThrowIfInvalid();
        var ct = context.CancellationToken;
        var row = await ReadableFileAsync(id, PermissionLevel.Read, context);
        if (request.Offset > row.SizeBytes)
        {
            Fail.Invalid("offset", $"is past the end of the file ({row.SizeBytes} bytes)");
        }

        var left = request.Length == 0 ? row.SizeBytes - request.Offset : Math.Min(request.Length, row.SizeBytes - request.Offset);
        var offset = request.Offset;
        var file = row.ToContract();
        await using var stream = await blobs.OpenReadAsync(row.Sha256, offset, left, ct);
        var size = (int)Math.Min(_options.DownloadChunkBytes, Math.Max(left, 1));
        var buffer = new byte[size];
        var first = true;
        while (left > 0 || first)
        {
            var want = (int)Math.Min(size, left);
            var read = want == 0 ? 0 : await stream.ReadAtLeastAsync(buffer.AsMemory(0, want), want, throwOnEndOfStream: false, ct);
            if (read < want)
            {
                throw new IOException($"The blob {row.Sha256} ended {left - read} bytes early.");
            }

            // The message is serialized before the next item is asked for, so the buffer can be reused for full chunks.
            var data = read == buffer.Length ? buffer : buffer.AsSpan(0, read).ToArray();
            yield return new DownloadResponse { File = first ? file : null, Offset = offset, Data = data };
            first = false;
            offset += read;
            left -= read;
        }
    }

    [RequiresScope(Scopes.WorkspacesRead)]
    public async ValueTask<GetFileResponse> GetFileAsync(GetFileRequest request, CallContext context = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        context.RequireUser(FilesAreUsers);
        var id = Validation.Id("file_id", request.FileId);
        var row = await ReadableFileAsync(id, PermissionLevel.Read, context);
        return new GetFileResponse { File = row.ToContract() };
    }

    [RequiresScope(Scopes.WorkspacesRead)]
    public async ValueTask<ListFilesResponse> ListFilesAsync(ListFilesRequest request, CallContext context = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var caller = context.RequireUser(FilesAreUsers);
        var target = await AuthorizeTargetAsync(context, "", request.BaseId, request.TableId, PermissionLevel.Read);
        var scope = $"files.files:{target.BaseId}:{target.TableId}:{caller.UserId}";
        var page = PageRequest.From(request.Pagination, cursors, scope, defaultPageSize: 100, maxPageSize: 1000);
        var after = page.After is { Count: 1 } a && Guid.TryParse(a[0], out var position) ? position : Guid.Empty;
        var ct = context.CancellationToken;
        List<FileRow> rows;
        long total;
        await using (var db = await FileSession.OpenAsync(dataSource, ct))
        {
            rows = await db.Files.ListAsync(target.BaseId, target.TableId, after, page.PageSize + 1, ct);
            total = await db.Files.CountAsync(target.BaseId, target.TableId, ct);
        }

        // Listing a whole base: files of tables the caller cannot read (a none grant on the table) are left out.
        if (target.TableId is null && rows.Any(r => r.TableId is not null))
        {
            var tables = rows.Where(r => r.TableId is not null).Select(r => r.TableId!.Value).Distinct().ToList();
            var verdicts = await permissions.BatchCheckPermissionAsync(new BatchCheckPermissionRequest
            {
                Checks = tables.Select(t => new CheckItem { Resource = new ResourceRef { Type = ResourceType.Table, Id = t.ToString() }, Level = PermissionLevel.Read }).ToList(),
            }, context);
            var hidden = tables.Where((_, i) => !verdicts.Results[i].Allowed).ToHashSet();
            rows = rows.Where(r => r.TableId is not { } t || !hidden.Contains(t)).ToList();
        }

        var (items, pagination) = page.Complete(rows, total, f => [f.Id.ToString()], cursors, scope);
        return new ListFilesResponse { Files = items.Select(f => f.ToContract()).ToList(), Pagination = pagination };
    }

    [RequiresScope(Scopes.WorkspacesWrite)]
    public async ValueTask<DeleteFileResponse> DeleteFileAsync(DeleteFileRequest request, CallContext context = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        context.RequireUser(FilesAreUsers);
        var id = Validation.Id("file_id", request.FileId);
        await ReadableFileAsync(id, PermissionLevel.Edit, context);
        var ct = context.CancellationToken;
        await using var db = await FileSession.BeginAsync(dataSource, ct);
        var deleted = await db.Files.DeleteAsync(id, ct);
        if (deleted is null)
        {
            Fail.NotFound("file", id.ToString()); // deleted meanwhile
        }

        // The blob goes when the collector finds it unreferenced (FileMaintenance).
        await db.Blobs.ReleaseAsync(deleted.Sha256, ct);
        await Outbox.EnqueueAsync(db.WriteTransaction, new FileDeleted
        {
            FileId = id.ToString(), BaseId = deleted.BaseId.ToString(), WorkspaceId = deleted.WorkspaceId.ToString(),
        }, EventOrigin.Of<IFileService>(context), ct);
        await db.CommitAsync(ct);
        return new DeleteFileResponse();
    }

    /// <summary>The file when the caller may read it (NOT_FOUND otherwise) and holds <paramref name="level"/> (PERMISSION_DENIED otherwise).</summary>
    private async Task<FileRow> ReadableFileAsync(Guid id, PermissionLevel level, CallContext context)
    {
        FileRow? row;
        await using (var db = await FileSession.OpenAsync(dataSource, context.CancellationToken))
        {
            row = await db.Files.FindAsync(id, context.CancellationToken);
        }

        if (row is null)
        {
            Fail.NotFound("file", id.ToString());
        }

        var (type, resource) = new Target(row.WorkspaceId, row.BaseId, row.TableId).Resource;
        await RequireAsync(context, type, resource, level, "file", id.ToString());
        return row;
    }
}
