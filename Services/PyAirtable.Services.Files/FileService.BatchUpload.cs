using Grpc.Core;
using PyAirtable.Contracts.Auth;
using PyAirtable.Contracts.Files;
using PyAirtable.Contracts.Permissions;
using PyAirtable.Services.Files.Storage;
using PyAirtable.Services.Infrastructure.Errors;
using PyAirtable.Services.Infrastructure.Identity;
using CallContext = ProtoBuf.Grpc.CallContext;

namespace PyAirtable.Services.Files;

/// <summary>
/// BatchUpload: one client stream, several files, one result each. A file's own problem (bad header, no permission,
/// oversize frame, mismatch, quota) becomes its result and the stream goes on; only a broken stream, a stream that
/// does not start with a header, or a server fault fails the whole call.
/// </summary>
public sealed partial class FileService
{
    [RequiresScope(Scopes.WorkspacesWrite)]
    public async ValueTask<BatchUploadResponse> BatchUploadAsync(IAsyncEnumerable<BatchUploadRequest> requests, CallContext context = default)
    {
        ArgumentNullException.ThrowIfNull(requests);
        var caller = context.RequireUser(FilesAreUsers);
        var userId = Guid.Parse(caller.UserId);
        var ct = context.CancellationToken;
        var results = new List<UploadResult>();
        // Authorizations of this stream, by "base/table": many files usually go to one place.
        var targets = new Dictionary<string, Target>(StringComparer.Ordinal);
        Incoming? current = null;
        try
        {
            await foreach (var frame in requests.WithCancellation(ct))
            {
                if (frame.Header is { } header)
                {
                    if (current is not null)
                    {
                        results.Add(await FinishAsync(current, userId, context));
                        current = null;
                    }

                    current = await BeginAsync(results.Count, header, targets, context);
                }
                else if (current is null)
                {
                    Fail.Invalid("header", "the first frame must carry a header (each file starts with one)");
                }

                if (frame.Data.Length > 0)
                {
                    await current.AppendAsync(frame.Data, _options.MaxChunkBytes, ct);
                }
            }

            if (current is not null)
            {
                results.Add(await FinishAsync(current, userId, context));
                current = null;
            }
        }
        finally
        {
            if (current is not null)
            {
                await current.DisposeAsync();
            }
        }

        return new BatchUploadResponse { Results = results };
    }

    /// <summary>Checks a file's header and where it goes; a problem is kept as the file's result and its data is skipped.</summary>
    private async Task<Incoming> BeginAsync(int index, FileHeader header, Dictionary<string, Target> targets, CallContext context)
    {
        var incoming = new Incoming(index, header.Name);
        try
        {
            var (name, contentType, sha256) = FileNames.CheckHeader(header);
            var key = header.BaseId + "/" + header.TableId;
            if (!targets.TryGetValue(key, out var target))
            {
                target = await AuthorizeTargetAsync(context, "header.", header.BaseId, header.TableId, PermissionLevel.Edit);
                targets[key] = target;
            }

            var allowance = await AllowanceAsync(target, context.CancellationToken);
            if (header.SizeBytes is { } declared)
            {
                allowance.Require(declared);
            }

            incoming.Start(target, name, contentType, header.SizeBytes, sha256, allowance, staging.NewIncomingPath());
        }
        catch (Exception e) when (IsItemError(e, context))
        {
            incoming.Error = e;
        }

        return incoming;
    }

    private async Task<UploadResult> FinishAsync(Incoming incoming, Guid userId, CallContext context)
    {
        await using (incoming)
        {
            if (incoming.Error is null)
            {
                try
                {
                    var sha256 = await incoming.Writer!.FinishAsync();
                    var size = incoming.Writer.Length;
                    RequireDeclared("header.", incoming.DeclaredSize, incoming.DeclaredSha256, size, sha256);
                    var file = await StoreAsync(incoming.Target!, incoming.CleanName, incoming.ContentType, incoming.Writer.Path, size, sha256,
                        null, userId, context);
                    return new UploadResult { Index = incoming.Index, Name = incoming.SentName, File = file };
                }
                catch (Exception e) when (IsItemError(e, context))
                {
                    incoming.Error = e;
                }
            }

            return new UploadResult { Index = incoming.Index, Name = incoming.SentName, Error = ErrorOf(incoming.Error) };
        }
    }

    /// <summary>An error that belongs to one file: an expected failure, while the call itself goes on.</summary>
    private static bool IsItemError(Exception e, CallContext context) =>
        !context.CancellationToken.IsCancellationRequested
        && (e is PlatformException || (e is RpcException r && r.StatusCode is not (StatusCode.Cancelled or StatusCode.DeadlineExceeded
            or StatusCode.Internal or StatusCode.Unknown or StatusCode.Unavailable)));

    /// <summary>One file of a batch while its bytes arrive: staged on disk and hashed as they pass.</summary>
    private sealed class Incoming(int index, string sentName) : IAsyncDisposable
    {
        public int Index { get; } = index;
        public string SentName { get; } = sentName;
        public Exception? Error { get; set; }
        public Target? Target { get; private set; }
        public string CleanName { get; private set; } = "";
        public string ContentType { get; private set; } = "";
        public long? DeclaredSize { get; private set; }
        public string DeclaredSha256 { get; private set; } = "";
        public StagedWriter? Writer { get; private set; }
        private Allowance? _allowance;

        public void Start(Target target, string name, string contentType, long? size, string sha256, Allowance allowance, string path)
        {
            (Target, CleanName, ContentType, DeclaredSize, DeclaredSha256, _allowance) = (target, name, contentType, size, sha256, allowance);
            Writer = new StagedWriter(path);
        }

        public async Task AppendAsync(byte[] data, int maxChunk, CancellationToken ct)
        {
            if (Error is not null)
            {
                return; // the file already failed: its remaining frames are read and dropped
            }

            try
            {
                if (data.Length > maxChunk)
                {
                    ChunkTooLarge("data", data.Length, maxChunk);
                }

                var total = Writer!.Length + data.Length;
                if (DeclaredSize is { } declared && total > declared)
                {
                    Fail.Invalid("header.size_bytes", $"declared {declared} bytes, but more arrived; nothing was stored");
                }

                _allowance!.Require(total);
                await Writer.WriteAsync(data, ct);
            }
            catch (PlatformException e)
            {
                Error = e;
                await DisposeAsync();
            }
        }

        public async ValueTask DisposeAsync()
        {
            if (Writer is { } writer)
            {
                await writer.DisposeAsync();
                StagingArea.DeleteQuietly(writer.Path);
            }
        }
    }
}
