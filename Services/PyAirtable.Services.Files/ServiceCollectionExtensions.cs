using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using PyAirtable.Contracts.Files;
using PyAirtable.Services.Files.Storage;
using PyAirtable.Services.Infrastructure;
using PyAirtable.Services.Infrastructure.Contracts;
using PyAirtable.Services.Infrastructure.Events;

namespace PyAirtable.Services.Files;

public static class ServiceCollectionExtensions
{
    /// <summary>
    /// Registers <see cref="IFileService"/>: served here unless <c>Remote:&lt;its [Service] name&gt;</c> is set, with its
    /// blob store (<c>Files:Storage</c>: <c>FileSystem</c> or <c>S3</c>), staging area and maintenance.
    /// </summary>
    public static IServiceCollection AddFileService(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        if (!configuration.IsRemote<IFileService>())
        {
            services.AddServiceMigrations("files", typeof(ServiceCollectionExtensions).Assembly);
            services.AddOptions<FileServiceOptions>().Bind(configuration.GetSection(FileServiceOptions.Section)).Validate(o =>
                o.MaxChunkBytes is > 0 and <= 4 * 1024 * 1024 - 1024 && o.DownloadChunkBytes is > 0 and <= 4 * 1024 * 1024 - 1024
                && o.MaxFileBytes > 0 && o.S3.PartSizeBytes >= 5L * 1024 * 1024 && o.Storage is "FileSystem" or "S3",
                "Files: MaxChunkBytes and DownloadChunkBytes must be 1 B to 4 MiB - 1 KiB (gRPC's message limit), S3:PartSizeBytes ≥ 5 MiB, Storage FileSystem or S3.");
            services.TryAddSingleton<IBlobStore>(sp =>
            {
                var o = sp.GetRequiredService<IOptions<FileServiceOptions>>().Value;
                return o.Storage == "S3" ? new S3BlobStore(o.S3) : new FileSystemBlobStore(BlobRoot(o));
            });
            services.TryAddSingleton(sp =>
            {
                var o = sp.GetRequiredService<IOptions<FileServiceOptions>>().Value;
                return new StagingArea(o.StagingPath.Length > 0 ? o.StagingPath : Path.Combine(BlobRoot(o), ".staging"));
            });
            services.AddEventConsumer<FileCleanup>(FileCleanup.ConsumerName);
            services.TryAddSingleton<FileMaintenance>();
            services.AddHostedService(sp => sp.GetRequiredService<FileMaintenance>());
        }

        return services.AddContract<IFileService, FileService>(configuration);
    }

    private static string BlobRoot(FileServiceOptions options) =>
        options.FileSystem.Path.Length > 0 ? options.FileSystem.Path : Path.Combine(".local", "files");
}
