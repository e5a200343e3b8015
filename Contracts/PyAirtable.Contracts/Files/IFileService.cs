using ProtoBuf;
using ProtoBuf.Grpc;
using ProtoBuf.Grpc.Configuration;
using PyAirtable.Contracts.Common;

namespace PyAirtable.Contracts.Files;

/// <summary>
/// Files attached to bases (and optionally to a table of the base). Uploading needs edit on the base (and on the
/// table when one is named); reading needs read; what the caller cannot read does not exist for them (NOT_FOUND).
/// Contents are stored once per distinct sha256 however many files share them. Bytes travel in chunks of at most
/// 1 MiB (configurable; larger is INVALID_ARGUMENT); files up to the per-file maximum (default 5 GiB) within the
/// base's and workspace's storage quotas (RESOURCE_EXHAUSTED with ErrorInfo <c>limit</c>, <c>quota_bytes</c>,
/// <c>used_bytes</c>).
/// </summary>
[Service("pyairtable.files.v1.FileService")]
public interface IFileService
{
    /// <summary>
    /// Client streaming: several files in one stream. Each file is a frame with <c>header</c> followed by frames with
    /// <c>data</c>; the next header (or the end of the stream) ends it. The response has one result per file in stream
    /// order: the stored file, or that file's own error (one bad file does not lose the others). A file whose declared
    /// size or sha256 does not match what arrived is not stored.
    /// </summary>
    [HttpRoute("POST", "/v1/files:upload", StreamBody = "data")]
    ValueTask<BatchUploadResponse> BatchUploadAsync(IAsyncEnumerable<BatchUploadRequest> requests, CallContext context = default);

    /// <summary>Starts a resumable upload (edit on the target): its id and when it expires if not completed.</summary>
    [HttpRoute("POST", "/v1/uploads")]
    ValueTask<CreateUploadResponse> CreateUploadAsync(CreateUploadRequest request, CallContext context = default);

    /// <summary>
    /// Client streaming: appends the frames' data to an upload from <c>offset</c> (named in the first frame), which must
    /// equal the committed offset, else FAILED_PRECONDITION with ErrorInfo <c>committed_offset</c>. Returns the committed
    /// offset. When the stream breaks, whole chunks received before the break are kept: GetUpload tells where to resume.
    /// </summary>
    [HttpRoute("PATCH", "/v1/uploads/{upload_id}", StreamBody = "data")]
    ValueTask<AppendUploadResponse> AppendUploadAsync(IAsyncEnumerable<AppendUploadRequest> requests, CallContext context = default);

    /// <summary>An upload's committed offset and expiry (the tus HEAD).</summary>
    [HttpRoute("GET", "/v1/uploads/{upload_id}")]
    ValueTask<GetUploadResponse> GetUploadAsync(GetUploadRequest request, CallContext context = default);

    /// <summary>
    /// Stores the upload's bytes as a file after checking the size and sha256 (given here or at creation):
    /// a mismatch is INVALID_ARGUMENT and the upload stays as it was.
    /// </summary>
    [HttpRoute("POST", "/v1/uploads/{upload_id}:complete")]
    ValueTask<CompleteUploadResponse> CompleteUploadAsync(CompleteUploadRequest request, CallContext context = default);

    /// <summary>Drops an upload and its bytes.</summary>
    [HttpRoute("DELETE", "/v1/uploads/{upload_id}")]
    ValueTask<AbortUploadResponse> AbortUploadAsync(AbortUploadRequest request, CallContext context = default);

    /// <summary>Server streaming: the file's bytes from <c>offset</c>, <c>length</c> of them (0 = to the end), in chunks.</summary>
    [HttpRoute("GET", "/v1/files/{file_id}:download")]
    IAsyncEnumerable<DownloadResponse> DownloadAsync(DownloadRequest request, CallContext context = default);

    /// <summary>A file's metadata (read on its base or table).</summary>
    [HttpRoute("GET", "/v1/files/{file_id}")]
    ValueTask<GetFileResponse> GetFileAsync(GetFileRequest request, CallContext context = default);

    /// <summary>The files of a base (or of one table of it), newest last, a page at a time.</summary>
    [HttpRoute("GET", "/v1/files")]
    ValueTask<ListFilesResponse> ListFilesAsync(ListFilesRequest request, CallContext context = default);

    /// <summary>Deletes a file (edit on its base or table); its contents go once no file uses them.</summary>
    [HttpRoute("DELETE", "/v1/files/{file_id}")]
    ValueTask<DeleteFileResponse> DeleteFileAsync(DeleteFileRequest request, CallContext context = default);
}

/// <summary>A stored file.</summary>
[ProtoContract]
public sealed record StoredFile
{
    /// <summary>Its id (a UUID).</summary>
    [ProtoMember(1)] public string Id { get; init; } = "";

    /// <summary>The base it is attached to.</summary>
    [ProtoMember(2)] public string BaseId { get; init; } = "";

    /// <summary>The table of that base it is attached to; empty when attached to the base itself.</summary>
    [ProtoMember(3)] public string TableId { get; init; } = "";

    /// <summary>The base's workspace.</summary>
    [ProtoMember(4)] public string WorkspaceId { get; init; } = "";

    /// <summary>Its name (sanitized: no path, no control characters, at most 255 UTF-8 bytes).</summary>
    [ProtoMember(5)] public string Name { get; init; } = "";

    /// <summary>Its media type as given at upload (<c>application/octet-stream</c> when none was).</summary>
    [ProtoMember(6)] public string ContentType { get; init; } = "";

    /// <summary>Its size in bytes.</summary>
    [ProtoMember(7)] public long SizeBytes { get; init; }

    /// <summary>The SHA-256 of its bytes, lower-case hex.</summary>
    [ProtoMember(8)] public string Sha256 { get; init; } = "";

    /// <summary>The user who uploaded it.</summary>
    [ProtoMember(9)] public string CreatedBy { get; init; } = "";

    /// <summary>When (UTC).</summary>
    [ProtoMember(10)] public DateTime? CreatedAt { get; init; }
}

/// <summary>What a file is and where it goes, sent before its bytes.</summary>
[ProtoContract]
public sealed record FileHeader
{
    /// <summary>
    /// The file name: 1 to 255 UTF-8 bytes; a path is cut to its last segment; NUL, control characters, <c>.</c> and
    /// <c>..</c> are refused.
    /// </summary>
    [ProtoMember(1)] public string Name { get; init; } = "";

    /// <summary>Media type (<c>type/subtype</c>, at most 255 characters); empty means <c>application/octet-stream</c>.</summary>
    [ProtoMember(2)] public string ContentType { get; init; } = "";

    /// <summary>The base the file attaches to (edit on it is needed).</summary>
    [ProtoMember(3)] public string BaseId { get; init; } = "";

    /// <summary>Optionally a table of that base (edit on it is needed too).</summary>
    [ProtoMember(4)] public string TableId { get; init; } = "";

    /// <summary>The size in bytes, when known: a different number of bytes is INVALID_ARGUMENT and nothing is stored.</summary>
    [ProtoMember(5)] public long? SizeBytes { get; init; }

    /// <summary>The SHA-256 (64 hex digits), when known: other bytes are INVALID_ARGUMENT and nothing is stored.</summary>
    [ProtoMember(6)] public string Sha256 { get; init; } = "";
}

/// <summary>One frame of a batch upload: a header that starts a file, or bytes of the current file.</summary>
[ProtoContract]
public sealed record BatchUploadRequest
{
    /// <summary>Starts the next file (ends the previous one).</summary>
    [ProtoMember(1)] public FileHeader? Header { get; init; }

    /// <summary>Bytes of the current file, appended in order; at most the chunk limit (1 MiB by default) per frame.</summary>
    [ProtoMember(2)] public byte[] Data { get; init; } = [];
}

/// <summary>One result per file, in stream order.</summary>
[ProtoContract]
public sealed record BatchUploadResponse
{
    /// <summary>The files' results.</summary>
    [ProtoMember(1)] public List<UploadResult> Results { get; init; } = [];
}

/// <summary>What became of one file of a batch.</summary>
[ProtoContract]
public sealed record UploadResult
{
    /// <summary>Its position in the stream (from 0).</summary>
    [ProtoMember(1)] public int Index { get; init; }

    /// <summary>The name it was sent with.</summary>
    [ProtoMember(2)] public string Name { get; init; } = "";

    /// <summary>The stored file; absent on error.</summary>
    [ProtoMember(3)] public StoredFile? File { get; init; }

    /// <summary>Why it was not stored (code, message and metadata such as <c>field</c>, <c>limit</c>); absent on success.</summary>
    [ProtoMember(4)] public ErrorDetail? Error { get; init; }
}

/// <summary>A new resumable upload.</summary>
[ProtoContract]
public sealed record CreateUploadRequest
{
    /// <summary>The file; size and sha256 may also be given at completion.</summary>
    [ProtoMember(1)] public FileHeader? Header { get; init; }
}

/// <summary>A resumable upload's state.</summary>
[ProtoContract]
public sealed record Upload
{
    /// <summary>Its id (a UUID).</summary>
    [ProtoMember(1)] public string Id { get; init; } = "";

    /// <summary>Bytes received and kept so far: where the next append starts.</summary>
    [ProtoMember(2)] public long CommittedOffset { get; init; }

    /// <summary>When it is dropped unless completed (UTC).</summary>
    [ProtoMember(3)] public DateTime? ExpiresAt { get; init; }

    /// <summary>What it was created with.</summary>
    [ProtoMember(4)] public FileHeader? Header { get; init; }
}

/// <summary>The upload.</summary>
[ProtoContract]
public sealed record CreateUploadResponse
{
    /// <summary>The upload (offset 0).</summary>
    [ProtoMember(1)] public Upload? Upload { get; init; }

    /// <summary>The largest data a frame may carry, in bytes.</summary>
    [ProtoMember(2)] public int MaxChunkBytes { get; init; }
}

/// <summary>One frame of an append.</summary>
[ProtoContract]
public sealed record AppendUploadRequest
{
    /// <summary>The upload; read from the first frame.</summary>
    [ProtoMember(1)] public string UploadId { get; init; } = "";

    /// <summary>Where the first frame's data starts; must equal the committed offset. Read from the first frame.</summary>
    [ProtoMember(2)] public long Offset { get; init; }

    /// <summary>Bytes, at most the chunk limit per frame.</summary>
    [ProtoMember(3)] public byte[] Data { get; init; } = [];
}

/// <summary>The upload after the append.</summary>
[ProtoContract]
public sealed record AppendUploadResponse
{
    /// <summary>Bytes received and kept so far.</summary>
    [ProtoMember(1)] public long CommittedOffset { get; init; }
}

/// <summary>Which upload.</summary>
[ProtoContract]
public sealed record GetUploadRequest
{
    /// <summary>Its id.</summary>
    [ProtoMember(1)] public string UploadId { get; init; } = "";
}

/// <summary>The upload.</summary>
[ProtoContract]
public sealed record GetUploadResponse
{
    /// <summary>Its state.</summary>
    [ProtoMember(1)] public Upload? Upload { get; init; }
}

/// <summary>Finish an upload.</summary>
[ProtoContract]
public sealed record CompleteUploadRequest
{
    /// <summary>Its id.</summary>
    [ProtoMember(1)] public string UploadId { get; init; } = "";

    /// <summary>The total size, if not given at creation (checked against both when both are given).</summary>
    [ProtoMember(2)] public long? SizeBytes { get; init; }

    /// <summary>The SHA-256 (64 hex digits), if not given at creation (checked against both when both are given).</summary>
    [ProtoMember(3)] public string Sha256 { get; init; } = "";
}

/// <summary>The stored file.</summary>
[ProtoContract]
public sealed record CompleteUploadResponse
{
    /// <summary>The file.</summary>
    [ProtoMember(1)] public StoredFile? File { get; init; }
}

/// <summary>Drop an upload.</summary>
[ProtoContract]
public sealed record AbortUploadRequest
{
    /// <summary>Its id.</summary>
    [ProtoMember(1)] public string UploadId { get; init; } = "";
}

/// <summary>The upload is gone.</summary>
[ProtoContract]
public sealed record AbortUploadResponse
{
}

/// <summary>Which bytes of which file.</summary>
[ProtoContract]
public sealed record DownloadRequest
{
    /// <summary>The file.</summary>
    [ProtoMember(1)] public string FileId { get; init; } = "";

    /// <summary>The first byte (0-based); at most the file's size.</summary>
    [ProtoMember(2)] public long Offset { get; init; }

    /// <summary>How many bytes; 0 means to the end. A range past the end is cut at the end.</summary>
    [ProtoMember(3)] public long Length { get; init; }
}

/// <summary>A chunk of a download.</summary>
[ProtoContract]
public sealed record DownloadResponse
{
    /// <summary>The file's metadata, on the first message only.</summary>
    [ProtoMember(1)] public StoredFile? File { get; init; }

    /// <summary>Where this chunk's data starts in the file.</summary>
    [ProtoMember(2)] public long Offset { get; init; }

    /// <summary>The bytes.</summary>
    [ProtoMember(3)] public byte[] Data { get; init; } = [];
}

/// <summary>Which file.</summary>
[ProtoContract]
public sealed record GetFileRequest
{
    /// <summary>Its id.</summary>
    [ProtoMember(1)] public string FileId { get; init; } = "";
}

/// <summary>The file.</summary>
[ProtoContract]
public sealed record GetFileResponse
{
    /// <summary>Its metadata.</summary>
    [ProtoMember(1)] public StoredFile? File { get; init; }
}

/// <summary>A page of a base's files.</summary>
[ProtoContract]
public sealed record ListFilesRequest
{
    /// <summary>The base (read on it is needed).</summary>
    [ProtoMember(1)] public string BaseId { get; init; } = "";

    /// <summary>Only the files of this table of the base; empty for all of the base's files.</summary>
    [ProtoMember(2)] public string TableId { get; init; } = "";

    /// <summary>page_size defaults to 100 and is capped at 1,000.</summary>
    [ProtoMember(3)] public PaginationRequest? Pagination { get; init; }
}

/// <summary>The files of this page, by id (oldest first).</summary>
[ProtoContract]
public sealed record ListFilesResponse
{
    /// <summary>The files.</summary>
    [ProtoMember(1)] public List<StoredFile> Files { get; init; } = [];

    /// <summary>Where the page is and how to get the next one.</summary>
    [ProtoMember(2)] public PaginationResponse? Pagination { get; init; }
}

/// <summary>Which file.</summary>
[ProtoContract]
public sealed record DeleteFileRequest
{
    /// <summary>Its id.</summary>
    [ProtoMember(1)] public string FileId { get; init; } = "";
}

/// <summary>The file is gone.</summary>
[ProtoContract]
public sealed record DeleteFileResponse
{
}
