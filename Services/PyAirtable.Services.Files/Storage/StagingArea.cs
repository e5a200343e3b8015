using System.Security.Cryptography;

namespace PyAirtable.Services.Files.Storage;

/// <summary>
/// This host's scratch directory for bytes on their way in: a batch upload's file while it arrives, and each
/// resumable upload's bytes (<c>uploads/{id}</c>) until it completes. Nothing here is held in memory.
/// </summary>
public sealed class StagingArea
{
    public StagingArea(string root)
    {
        Root = Path.GetFullPath(root);
        Directory.CreateDirectory(Path.Combine(Root, "incoming"));
        Directory.CreateDirectory(Path.Combine(Root, "uploads"));
    }

    public string Root { get; }

    /// <summary>A new, unique path for a batch upload's file.</summary>
    public string NewIncomingPath() => Path.Combine(Root, "incoming", Guid.NewGuid().ToString("N"));

    public string UploadPath(Guid uploadId) => Path.Combine(Root, "uploads", uploadId.ToString("N"));

    /// <summary>
    /// Deletes staged files nothing will use: batch files not written to for an hour (their call died with the host)
    /// and upload files older than <paramref name="uploadLifetime"/> (their upload has expired). The number deleted.
    /// </summary>
    public int Sweep(TimeSpan uploadLifetime)
    {
        var now = DateTime.UtcNow;
        var deleted = 0;
        foreach (var (folder, age) in new[] { ("incoming", TimeSpan.FromHours(1)), ("uploads", uploadLifetime) })
        {
            foreach (var file in new DirectoryInfo(Path.Combine(Root, folder)).EnumerateFiles())
            {
                if (now - file.LastWriteTimeUtc > age)
                {
                    DeleteQuietly(file.FullName);
                    deleted++;
                }
            }
        }

        return deleted;
    }

    public static void DeleteQuietly(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
            // Left for the host's next start; a stray staged file is only disk space.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    /// <summary>Reads a staged file once: its length and SHA-256 (hex), in bounded memory.</summary>
    public static async Task<(long Length, string Sha256)> HashAsync(string path, CancellationToken ct)
    {
        await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.Asynchronous | FileOptions.SequentialScan);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[1024 * 1024];
        long length = 0;
        int read;
        while ((read = await stream.ReadAsync(buffer, ct)) > 0)
        {
            hash.AppendData(buffer, 0, read);
            length += read;
        }

        return (length, Convert.ToHexStringLower(hash.GetHashAndReset()));
    }
}

/// <summary>Writes arriving bytes to a staged file, counting and hashing them as they pass (bounded memory).</summary>
internal sealed class StagedWriter : IAsyncDisposable
{
    private readonly FileStream _stream;
    private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);

    public StagedWriter(string path)
    {
        Path = path;
        // A 1 MiB buffer: small frames (64 KiB is a good size for the wire) reach the disk in few system calls.
        _stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1024 * 1024, FileOptions.Asynchronous);
    }

    public string Path { get; }

    public long Length { get; private set; }

    public async ValueTask WriteAsync(byte[] data, CancellationToken ct)
    {
        _hash.AppendData(data);
        await _stream.WriteAsync(data, ct);
        Length += data.Length;
    }

    /// <summary>Flushes and closes the file; the SHA-256 of everything written (hex).</summary>
    public async Task<string> FinishAsync()
    {
        await _stream.DisposeAsync();
        return Convert.ToHexStringLower(_hash.GetHashAndReset());
    }

    public async ValueTask DisposeAsync()
    {
        await _stream.DisposeAsync();
        _hash.Dispose();
    }
}
