using System.Diagnostics.CodeAnalysis;
using System.Reflection;
using Grpc.Core;
using Microsoft.Extensions.Options;
using Npgsql;
using ProtoBuf;
using PyAirtable.Contracts.Common;
using PyAirtable.Contracts.Events;
using PyAirtable.Contracts.Files;
using PyAirtable.Contracts.Permissions;
using PyAirtable.Contracts.Workspaces;
using PyAirtable.Services.Files.Storage;
using PyAirtable.Services.Files.Stores;
using PyAirtable.Services.Infrastructure.Errors;
using PyAirtable.Services.Infrastructure.Events;
using PyAirtable.Services.Infrastructure.Pagination;
using CallContext = ProtoBuf.Grpc.CallContext;

namespace PyAirtable.Services.Files;

/// <summary>
/// pyairtable.files.v1.FileService over the <c>files</c> schema and an <see cref="IBlobStore"/>. Files hang off bases
/// (and tables) of the permission tree: uploading needs edit there, reading needs read, and what the caller cannot
/// read does not exist (NOT_FOUND). Bytes arrive into this host's <see cref="StagingArea"/> while their SHA-256 is
/// computed, so memory does not grow with the file; they become a file in one transaction that takes a reference on
/// the blob (putting it into the store when it is new), checks the quotas under a per-workspace lock, inserts the row
/// and enqueues <see cref="FileUploaded"/>.
/// </summary>
/// <remarks>The RPCs are grouped by feature: batch upload, resumable uploads, and reading/deleting.</remarks>
public sealed partial class FileService(
    NpgsqlDataSource dataSource, IPermissionService permissions, IWorkspaceService workspaces, CursorCodec cursors,
    IBlobStore blobs, StagingArea staging, IOptions<FileServiceOptions> options) : IFileService
{
    private const string FilesAreUsers = "Files belong to users.";

    private readonly FileServiceOptions _options = options.Value;

    private UploadLocks Locks { get; } = new();

    /// <summary>
    /// The base (and table) a file goes to, with the caller's <paramref name="level"/> on it: the base must be readable
    /// (NOT_FOUND otherwise, from the Workspace service), the table or else the base must allow the level.
    /// </summary>
    private async Task<Target> AuthorizeTargetAsync(CallContext context, string prefix, string baseId, string tableId, PermissionLevel level)
    {
        var validator = new RequestValidator();
        var baseGuid = validator.Id(prefix + "base_id", baseId);
        Guid? tableGuid = string.IsNullOrEmpty(tableId) ? null : validator.Id(prefix + "table_id", tableId);
        validator.ThrowIfInvalid();
        var found = await workspaces.GetBaseAsync(new GetBaseRequest { BaseId = baseGuid.ToString() }, context);
        var target = new Target(Guid.Parse(found.Base!.WorkspaceId), baseGuid, tableGuid);
        var (type, id) = target.Resource;
        await RequireAsync(context, type, id, level, type == ResourceType.Table ? "table" : "base", id.ToString());
        return target;
    }

    /// <summary>NOT_FOUND (as <paramref name="kind"/> <paramref name="id"/>) when the caller cannot read the resource, PERMISSION_DENIED when they lack the level.</summary>
    private async Task RequireAsync(CallContext context, ResourceType type, Guid resource, PermissionLevel level, string kind, string id)
    {
        var check = await permissions.CheckPermissionAsync(new CheckPermissionRequest
        {
            Resource = new ResourceRef { Type = type, Id = resource.ToString() }, Level = level,
        }, context);
        if (check.EffectiveLevel < PermissionLevel.Read)
        {
            Fail.NotFound(kind, id);
        }

        if (!check.Allowed)
        {
            Fail.PermissionDenied($"This needs {level.ToString().ToLowerInvariant()} on the {(type == ResourceType.Table ? "table" : "base")}; " +
                $"you have {check.EffectiveLevel.ToString().ToLowerInvariant()}.");
        }
    }

    /// <summary>How many more bytes a file may have in the target: the per-file maximum, or what the quotas leave.</summary>
    private async Task<Allowance> AllowanceAsync(Target target, CancellationToken ct)
    {
        await using var db = await FileSession.OpenAsync(dataSource, ct);
        var usage = await db.Files.UsageAsync(target.WorkspaceId, target.BaseId, ct);
        return Allowance.Of(_options, usage);
    }

    /// <summary>
    /// Makes a staged file a file: one transaction takes a reference on its blob (putting the blob into the store when
    /// it is new, under the blob's row lock, so the collector cannot delete it meanwhile), checks the quotas under the
    /// workspace's lock, inserts the row, drops the resumable upload it came from, and enqueues the event.
    /// </summary>
    private async Task<StoredFile> StoreAsync(
        Target target, string name, string contentType, string stagedPath, long size, string sha256, Guid? uploadId, Guid userId,
        CallContext context)
    {
        var ct = context.CancellationToken;
        await using var db = await FileSession.BeginAsync(dataSource, ct);
        await db.Files.LockQuotaAsync(target.WorkspaceId, ct);
        Allowance.Of(_options, await db.Files.UsageAsync(target.WorkspaceId, target.BaseId, ct)).Require(size);
        if (await db.Blobs.AddReferenceAsync(sha256, size, ct))
        {
            await blobs.PutAsync(sha256, stagedPath, size, ct);
        }

        // The bytes are in the store (and a staged file may have been moved there): finish whatever the caller does now,
        // or a resumable upload would be left without its bytes.
        ct = CancellationToken.None;
        var row = await db.Files.InsertAsync(new FileRow
        {
            Id = Guid.CreateVersion7(), WorkspaceId = target.WorkspaceId, BaseId = target.BaseId, TableId = target.TableId,
            Name = name, ContentType = contentType, SizeBytes = size, Sha256 = sha256, CreatedBy = userId,
        }, ct);
        if (uploadId is { } upload)
        {
            await db.Uploads.DeleteAsync(upload, ct);
        }

        var file = row.ToContract();
        await Outbox.EnqueueAsync(db.WriteTransaction, new FileUploaded
        {
            FileId = file.Id, BaseId = file.BaseId, TableId = file.TableId, WorkspaceId = file.WorkspaceId, Name = file.Name,
            ContentType = file.ContentType, SizeBytes = file.SizeBytes, Sha256 = file.Sha256, UploadedBy = file.CreatedBy,
        }, EventOrigin.Of<IFileService>(context), ct);
        await db.CommitAsync(ct);
        return file;
    }

    /// <summary>INVALID_ARGUMENT when what arrived is not what was declared (nothing is stored then).</summary>
    private static void RequireDeclared(string prefix, long? declaredSize, string declaredSha256, long size, string sha256)
    {
        if (declaredSize is { } expected && expected != size)
        {
            Fail.Invalid(prefix + "size_bytes", $"declared {expected} bytes, but {size} arrived; nothing was stored");
        }

        if (declaredSha256.Length > 0 && declaredSha256 != sha256)
        {
            Fail.Invalid(prefix + "sha256", $"declared {declaredSha256}, but the bytes that arrived hash to {sha256}; nothing was stored");
        }
    }

    [DoesNotReturn]
    private static void ChunkTooLarge(string field, int length, int max) =>
        Fail.Invalid(field, $"carries {length} bytes; at most {max} per frame");

    /// <summary>One item's error for a per-item result, as the whole call would have reported it.</summary>
    private static ErrorDetail ErrorOf(Exception error)
    {
        var (code, message, metadata) = error switch
        {
            ValidationException v => (v.Code, v.Message, v.Violations.Count > 0
                ? new Dictionary<string, string> { ["field"] = v.Violations[0].Field }
                : new Dictionary<string, string>()),
            PlatformException p => (p.Code, p.Message, p.Metadata.ToDictionary()),
            RpcException r => ((ErrorCode)(int)r.StatusCode, r.Status.Detail, new Dictionary<string, string>()),
            _ => (ErrorCode.Internal, "Internal error.", new Dictionary<string, string>()),
        };
        var name = typeof(ErrorCode).GetField(code.ToString())?.GetCustomAttribute<ProtoEnumAttribute>()?.Name ?? code.ToString();
        return new ErrorDetail { Code = name, Message = message, Metadata = metadata };
    }
}

/// <summary>Where a file attaches: a base of a workspace, optionally a table of the base.</summary>
internal sealed record Target(Guid WorkspaceId, Guid BaseId, Guid? TableId)
{
    /// <summary>The resource whose permissions govern the file.</summary>
    public (ResourceType Type, Guid Id) Resource => TableId is { } table ? (ResourceType.Table, table) : (ResourceType.Base, BaseId);
}

/// <summary>How many bytes one more file may have, and which limit says so.</summary>
internal sealed record Allowance(long Bytes, string Limit, long QuotaBytes, long UsedBytes)
{
    public static Allowance Of(FileServiceOptions options, Usage usage)
    {
        var candidates = new[]
        {
            new Allowance(options.MaxFileBytes, "file_size", options.MaxFileBytes, 0),
            new Allowance(options.BaseQuotaBytes - usage.Base, "base_quota", options.BaseQuotaBytes, usage.Base),
            new Allowance(options.WorkspaceQuotaBytes - usage.Workspace, "workspace_quota", options.WorkspaceQuotaBytes, usage.Workspace),
        };
        return candidates.MinBy(c => c.Bytes)!;
    }

    /// <summary>RESOURCE_EXHAUSTED with the limit, the quota and what is used in ErrorInfo when <paramref name="size"/> does not fit.</summary>
    public void Require(long size)
    {
        if (size > Bytes)
        {
            throw new PlatformException(ErrorCode.ResourceExhausted,
                Limit == "file_size"
                    ? $"A file may have at most {QuotaBytes} bytes."
                    : $"The {(Limit == "base_quota" ? "base" : "workspace")}'s storage quota of {QuotaBytes} bytes has {Math.Max(0, Bytes)} left; the file needs more.",
                new Dictionary<string, string>
                {
                    ["limit"] = Limit,
                    ["quota_bytes"] = QuotaBytes.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    ["used_bytes"] = UsedBytes.ToString(System.Globalization.CultureInfo.InvariantCulture),
                });
        }
    }
}
