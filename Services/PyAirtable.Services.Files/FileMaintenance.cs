using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using PyAirtable.Services.Files.Storage;
using PyAirtable.Services.Files.Stores;

namespace PyAirtable.Services.Files;

/// <summary>
/// Every <see cref="FileServiceOptions.MaintenanceInterval"/>: drops expired resumable uploads (and their staged bytes on this
/// host) and deletes unreferenced blobs from the store. Several hosts may run it at once: each blob is collected under
/// its row lock by whichever host locked it first (SKIP LOCKED), and a writer adding a reference waits on that lock.
/// </summary>
public sealed partial class FileMaintenance(
    NpgsqlDataSource dataSource, IBlobStore blobs, StagingArea staging, IOptions<FileServiceOptions> options, ILogger<FileMaintenance> logger)
    : BackgroundService
{
    private const int Batch = 100;

    /// <summary>One round; how many uploads expired and how many blobs were deleted.</summary>
    public async Task<(int Uploads, int Blobs)> RunOnceAsync(CancellationToken ct)
    {
        var uploads = 0;
        while (true)
        {
            List<Guid> expired;
            await using (var db = await FileSession.BeginAsync(dataSource, ct))
            {
                expired = await db.Uploads.DeleteExpiredAsync(Batch, ct);
                await db.CommitAsync(ct);
            }

            foreach (var id in expired)
            {
                StagingArea.DeleteQuietly(staging.UploadPath(id));
            }

            uploads += expired.Count;
            if (expired.Count < Batch)
            {
                break;
            }
        }

        // Staged bytes left by a host that died mid-call, or by uploads another host expired.
        staging.Sweep(options.Value.UploadLifetime);
        var collected = 0;
        while (true)
        {
            await using var db = await FileSession.BeginAsync(dataSource, ct);
            var unreferenced = await db.Blobs.LockUnreferencedAsync(Batch, ct);
            foreach (var sha256 in unreferenced)
            {
                await blobs.DeleteAsync(sha256, ct);
            }

            await db.Blobs.DeleteAsync(unreferenced, ct);
            await db.CommitAsync(ct);
            collected += unreferenced.Count;
            if (unreferenced.Count < Batch)
            {
                break;
            }
        }

        return (uploads, collected);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.MaintenanceInterval);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                var (uploads, collected) = await RunOnceAsync(stoppingToken);
                if (uploads + collected > 0)
                {
                    LogRound(uploads, collected);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is NpgsqlException or IOException or Amazon.Runtime.AmazonServiceException or TimeoutException)
            {
                // The next round tries again; nothing is lost by waiting.
                LogFailed(e);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Files maintenance: {Uploads} expired uploads dropped, {Blobs} unreferenced blobs deleted")]
    private partial void LogRound(int uploads, int blobs);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Files maintenance failed; retrying next round")]
    private partial void LogFailed(Exception error);
}
