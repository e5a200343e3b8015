using Npgsql;
using PyAirtable.Services.Infrastructure.Database;

namespace PyAirtable.Services.Files.Stores;

/// <summary>A connection of the platform pool and, for an RPC that writes, its transaction, with the files schema's stores.</summary>
internal sealed class FileSession(NpgsqlConnection connection, NpgsqlTransaction? transaction)
    : DatabaseSession(connection, transaction)
{
    private FileStore? _files;
    private BlobRefStore? _blobs;
    private UploadStore? _uploads;

    public FileStore Files => _files ??= new(this);

    public BlobRefStore Blobs => _blobs ??= new(this);

    public UploadStore Uploads => _uploads ??= new(this);

    /// <summary>A session without a transaction, for RPCs that only read.</summary>
    public static Task<FileSession> OpenAsync(NpgsqlDataSource dataSource, CancellationToken ct) =>
        OpenAsync(dataSource, write: false, (c, t) => new FileSession(c, t), ct);

    /// <summary>A session in a transaction, for RPCs that write: the rows and their outbox event commit together.</summary>
    public static Task<FileSession> BeginAsync(NpgsqlDataSource dataSource, CancellationToken ct) =>
        OpenAsync(dataSource, write: true, (c, t) => new FileSession(c, t), ct);
}
