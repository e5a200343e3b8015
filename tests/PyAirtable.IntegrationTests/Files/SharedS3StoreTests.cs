using PyAirtable.Contracts.Files;
using PyAirtable.IntegrationTests.Infrastructure;
using static PyAirtable.IntegrationTests.Files.FileCalls;

namespace PyAirtable.IntegrationTests.Files;

/// <summary>Two hosts on one database and one S3 bucket: what one stores, the other serves and collects.</summary>
public sealed class SharedS3StoreTests : IAsyncLifetime
{
    private readonly string _bucket = "shared-" + Guid.NewGuid().ToString("N")[..12];
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "pyairtable-files-" + Guid.NewGuid().ToString("N"));
    private TestDatabase? _database;
    private TestHost? _a;
    private TestHost? _b;

    public async Task InitializeAsync()
    {
        _database = await TestDatabase.CreateAsync();
        _a = await TestHost.StartAsync(_database.ConnectionString, o => Configure(o, "a"));
        _b = await TestHost.StartAsync(_database.ConnectionString, o => Configure(o, "b"));
    }

    public async Task DisposeAsync()
    {
        foreach (var host in new[] { _a, _b })
        {
            if (host is not null)
            {
                await host.DisposeAsync();
            }
        }

        if (_database is not null)
        {
            await _database.DisposeAsync();
        }

        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }

    [Fact]
    public async Task UploadOnOneHost_DownloadAndDeleteOnTheOther()
    {
        var (a, b) = (_a!, _b!);
        var (owner, _, baseId) = await a.NewBaseAsync();
        var data = RandomBytes(6 * 1024 * 1024 + 3, 21);   // a multipart upload at 5 MiB parts

        var file = (await a.Files().UploadOneAsync(new FileHeader { Name = "shared.bin", BaseId = baseId, Sha256 = Sha256(data) }, data, owner.Bearer)).File!;

        Assert.Equal(data, await b.Files().DownloadAsync(file.Id, owner.Bearer));
        Assert.Equal(data.AsSpan(5 * 1024 * 1024 - 10, 20).ToArray(), await b.Files().DownloadAsync(file.Id, owner.Bearer, 5 * 1024 * 1024 - 10, 20));
        await b.Files().DeleteFileAsync(new DeleteFileRequest { FileId = file.Id }, owner.Bearer);
        var store = Microsoft.Extensions.DependencyInjection.ServiceProviderServiceExtensions
            .GetRequiredService<PyAirtable.Services.Files.FileMaintenance>(b.App.Services);
        Assert.Equal(1, (await store.RunOnceAsync(CancellationToken.None)).Blobs);
        var blobs = Microsoft.Extensions.DependencyInjection.ServiceProviderServiceExtensions
            .GetRequiredService<PyAirtable.Services.Files.Storage.IBlobStore>(a.App.Services);
        Assert.False(await blobs.ExistsAsync(file.Sha256, CancellationToken.None));
    }

    private void Configure(TestHostOptions options, string name)
    {
        options.Name = name;
        options.Settings["Files:StagingPath"] = Path.Combine(_directory, name);
        FilesFixture.UseS3(options.Settings, _bucket);
    }
}
