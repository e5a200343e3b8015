using System.Diagnostics;
using System.Security.Cryptography;
using PyAirtable.Contracts.Files;
using PyAirtable.IntegrationTests.Infrastructure;
using Xunit.Abstractions;
using static PyAirtable.IntegrationTests.Files.FileCalls;

namespace PyAirtable.IntegrationTests.Files;

/// <summary>
/// A large file through one stream with the process's memory watched (client and host share this process, so the
/// figure bounds both). The suite uploads 256 MiB; `pyairtable bench-files` measures 1 GiB against a separate host.
/// </summary>
[Collection(MeasuresProcessMemory.Name)]
public sealed class LargeUploadTests(ITestOutputHelper output)
{
    private const int Size = 256 * 1024 * 1024;
    private const int FrameBytes = 64 * 1024;

    [Fact]
    public async Task LargeUpload_MemoryDoesNotGrowWithTheFile()
    {
        // A host of its own with the default limits (5 GiB per file); disposing it fails the test on unexpected error logs.
        await using var database = await TestDatabase.CreateAsync();
        var staging = Path.Combine(Path.GetTempPath(), "pyairtable-files-" + Guid.NewGuid().ToString("N"));
        await using var host = await TestHost.StartAsync(database.ConnectionString, o =>
        {
            o.Settings["Files:FileSystem:Path"] = Path.Combine(staging, "blobs");
            o.Settings["Files:StagingPath"] = Path.Combine(staging, "staging");
        });
        var (owner, _, baseId) = await host.NewBaseAsync();
        // Idle means warmed up: pools, buffers and the GC's budgets at their working size after a first upload.
        await host.Files().UploadOneAsync(new FileHeader { Name = "warm-up", BaseId = baseId }, RandomBytes(32 * 1024 * 1024, 1), owner.Bearer);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        using var process = Process.GetCurrentProcess();
        process.Refresh();
        var idle = process.WorkingSet64;
        long peak = idle;
        using var sampling = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            while (!sampling.IsCancellationRequested)
            {
                process.Refresh();
                peak = Math.Max(peak, process.WorkingSet64);
                await Task.Delay(20);
            }
        });

        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var result = await host.Files().BatchUploadAsync(Generate(hash), owner.Bearer);
        var sha = Convert.ToHexStringLower(hash.GetHashAndReset());
        var file = Assert.Single(result.Results).File!;
        Assert.Equal(Size, file.SizeBytes);
        Assert.Equal(sha, file.Sha256);

        var uploadPeak = peak;

        // Read back whole, hashed as it comes.
        using var readHash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        await foreach (var chunk in host.Files().DownloadAsync(new DownloadRequest { FileId = file.Id }, owner.Bearer))
        {
            readHash.AppendData(chunk.Data);
        }

        sampling.Cancel();
        await sampler;
        Assert.Equal(sha, Convert.ToHexStringLower(readHash.GetHashAndReset()));
        var growth = (peak - idle) / (1024.0 * 1024);
        output.WriteLine($"256 MiB up and down: working set idle {idle / (1024 * 1024)} MiB, peak while uploading {uploadPeak / (1024 * 1024)} MiB, " +
            $"peak {peak / (1024 * 1024)} MiB, growth {growth:F1} MiB");
        Assert.True(growth < 64, $"the working set grew by {growth:F1} MiB");
        Directory.Delete(staging, recursive: true);

        async IAsyncEnumerable<BatchUploadRequest> Generate(IncrementalHash h)
        {
            yield return new BatchUploadRequest { Header = new FileHeader { Name = "large.bin", BaseId = baseId, SizeBytes = Size } };
            var random = new Random(42);
            // One buffer for every frame (each is serialized before the next is asked for): the client adds no garbage.
            var data = new byte[FrameBytes];
            for (var sent = 0; sent < Size; sent += FrameBytes)
            {
                random.NextBytes(data);
                h.AppendData(data);
                yield return new BatchUploadRequest { Data = data };
            }

            await Task.CompletedTask;
        }
    }
}

/// <summary>
/// Tests that measure the test process's memory run alone (after the parallel ones): every host of every running test
/// shares this process, and their uploads would count as this test's growth.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class MeasuresProcessMemory
{
    public const string Name = "measures process memory";
}
