namespace PyAirtable.Services.Files;

/// <summary>Configuration section <c>Files</c>.</summary>
public sealed class FileServiceOptions
{
    public const string Section = "Files";

    /// <summary>The largest file, in bytes (Airtable's is 5 GB).</summary>
    public long MaxFileBytes { get; set; } = 5L * 1024 * 1024 * 1024;

    /// <summary>The most bytes one frame may carry (upload) and one download message carries at most.</summary>
    public int MaxChunkBytes { get; set; } = 1024 * 1024;

    /// <summary>Bytes per download message: below .NET's large-object threshold (85,000), so neither side's garbage waits for a full GC.</summary>
    public int DownloadChunkBytes { get; set; } = 64 * 1024;

    /// <summary>The sum of the sizes of a base's files (each file counted, even when its contents are shared).</summary>
    public long BaseQuotaBytes { get; set; } = 100L * 1024 * 1024 * 1024;

    /// <summary>The sum of the sizes of a workspace's files.</summary>
    public long WorkspaceQuotaBytes { get; set; } = 1024L * 1024 * 1024 * 1024;

    /// <summary>How long a resumable upload may stay incomplete.</summary>
    public TimeSpan UploadLifetime { get; set; } = TimeSpan.FromHours(24);

    /// <summary>How often expired uploads are dropped and unreferenced blobs collected.</summary>
    public TimeSpan MaintenanceInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Where uploads are written before they are stored (this host's disk); default: <c>{FileSystem:Path}/.staging</c>.</summary>
    public string StagingPath { get; set; } = "";

    /// <summary><c>FileSystem</c> (default) or <c>S3</c>.</summary>
    public string Storage { get; set; } = "FileSystem";

    public FileSystemStorageOptions FileSystem { get; set; } = new();

    public S3StorageOptions S3 { get; set; } = new();
}

/// <summary><c>Files:FileSystem</c>.</summary>
public sealed class FileSystemStorageOptions
{
    /// <summary>The blob directory; default <c>.local/files</c> under the working directory.</summary>
    public string Path { get; set; } = "";
}

/// <summary><c>Files:S3</c>: an S3-compatible object store.</summary>
public sealed class S3StorageOptions
{
    /// <summary>The endpoint, e.g. <c>http://127.0.0.1:4568</c>; empty means AWS by <see cref="Region"/>.</summary>
    public string ServiceUrl { get; set; } = "";

    public string Region { get; set; } = "us-east-1";

    public string Bucket { get; set; } = "pyairtable-files";

    public string AccessKey { get; set; } = "";

    public string SecretKey { get; set; } = "";

    /// <summary>Key prefix of every blob.</summary>
    public string Prefix { get; set; } = "blobs/";

    /// <summary>Blobs larger than this are sent as multipart uploads of parts this size (S3: 5 MiB to 5 GiB).</summary>
    public long PartSizeBytes { get; set; } = 16L * 1024 * 1024;
}
