using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Grpc.Core;
using ProtoBuf.Grpc;
using ProtoBuf.Grpc.Client;
using PyAirtable.Contracts.Auth;
using PyAirtable.Contracts.Files;
using PyAirtable.Contracts.Workspaces;

namespace PyAirtable.Tools;

/// <summary>
/// <c>pyairtable bench-files</c>: one large file up (BatchUpload, one client stream) and down (Download) through a
/// running host, against a plain loopback TCP copy of the same bytes to a file in the same run (the ceiling this
/// machine gives a byte stream that lands on disk). Prints throughput, the time between chunks (p50/p99: how
/// evenly the stream flows) and, with <c>--host-pid</c>, the host's resident memory: idle, and its peak while
/// uploading and downloading (sampled every 10 ms from /proc).
/// </summary>
public static class BenchFilesCommand
{
    public static Command Create()
    {
        var address = HostConnection.AddressOption();
        var size = new Option<long>("--size") { Description = "File size in MiB.", DefaultValueFactory = _ => 1024 };
        var chunk = new Option<int>("--chunk") { Description = "Bytes per upload frame (the host allows up to 1 MiB).", DefaultValueFactory = _ => 64 * 1024 };
        var hostPid = new Option<int?>("--host-pid") { Description = "The host's process id, to sample its resident memory (Linux /proc)." };
        var command = new Command("bench-files", "Measure upload and download throughput of a large file against a loopback copy, per-chunk timing and the host's memory.")
        {
            address, size, chunk, hostPid,
        };
        command.SetAction(async (parse, ct) =>
        {
            try
            {
                return await RunAsync(parse.GetValue(address)!, parse.GetValue(size) * 1024 * 1024, parse.GetValue(chunk), parse.GetValue(hostPid), ct);
            }
            catch (RpcException ex)
            {
                await Console.Error.WriteLineAsync($"bench-files: the host refused a call: {ex.StatusCode}: {ex.Status.Detail}");
                return 1;
            }
        });
        return command;
    }

    private static async Task<int> RunAsync(string address, long size, int chunk, int? hostPid, CancellationToken ct)
    {
        if (size < chunk || chunk is < 1024 or > 1024 * 1024)
        {
            await Console.Error.WriteLineAsync("bench-files: --chunk must be 1 KiB to 1 MiB and --size at least one chunk");
            return 2;
        }

        using var channel = HostConnection.Open(address);
        var auth = channel.CreateGrpcService<IAuthService>();
        var email = $"bench-files-{Guid.NewGuid():N}@example.dev";
        const string password = "bench-password-123";
        await auth.RegisterAsync(new RegisterRequest { Email = email, Password = password, DisplayName = "Bench" }, ct);
        var token = (await auth.LoginAsync(new LoginRequest { Email = email, Password = password }, ct)).Tokens!.AccessToken;
        var bearer = new CallContext(new CallOptions(new Metadata { { "authorization", "Bearer " + token } }, cancellationToken: ct));
        var workspaces = channel.CreateGrpcService<IWorkspaceService>();
        var workspace = (await workspaces.CreateWorkspaceAsync(new CreateWorkspaceRequest { Name = "bench-files" }, bearer)).Workspace!;
        var baseId = (await workspaces.CreateBaseAsync(new CreateBaseRequest { WorkspaceId = workspace.Id, Name = "bench" }, bearer)).Base!.Id;
        var files = channel.CreateGrpcService<IFileService>();
        var content = new Content(size);

        Console.WriteLine($"# pyairtable bench-files — {address} — {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC — {Environment.ProcessorCount} cores (client and host share them when both run here)");
        Console.WriteLine($"file {size / (1024 * 1024)} MiB, upload frames {chunk / 1024} KiB");

        var loopback = await LoopbackCopyAsync(content, chunk, ct);
        Report("loopback TCP copy to a file", size, loopback, null);

        using var memory = hostPid is { } pid ? new MemorySampler(pid) : null;
        var idle = memory?.Current();
        memory?.Reset();
        // The expected SHA-256, computed before the clock runs: the loopback copy does not hash either.
        var sha = content.Sha256(chunk);
        var upIntervals = new List<double>((int)(size / chunk) + 1);
        var up = Stopwatch.StartNew();
        var result = await files.BatchUploadAsync(Frames(), bearer);
        up.Stop();
        var uploadPeak = memory?.Peak;
        var file = result.Results[0].File ?? throw new InvalidOperationException($"upload failed: {result.Results[0].Error?.Message}");
        if (file.Sha256 != sha || file.SizeBytes != size)
        {
            throw new InvalidOperationException("the host stored other bytes than were sent");
        }

        Report("BatchUpload (gRPC client stream)", size, up.Elapsed, upIntervals);

        memory?.Reset();
        var downIntervals = new List<double>((int)(size / (64 * 1024)) + 1);
        using var readHash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var down = Stopwatch.StartNew();
        var last = down.Elapsed.TotalMilliseconds;
        long received = 0;
        await foreach (var message in files.DownloadAsync(new DownloadRequest { FileId = file.Id }, bearer))
        {
            readHash.AppendData(message.Data);
            received += message.Data.Length;
            var now = down.Elapsed.TotalMilliseconds;
            downIntervals.Add(now - last);
            last = now;
        }

        down.Stop();
        var downloadPeak = memory?.Peak;
        if (received != size || Convert.ToHexStringLower(readHash.GetHashAndReset()) != sha)
        {
            throw new InvalidOperationException("the download differs from the upload");
        }

        Report("Download (gRPC server stream)", size, down.Elapsed, downIntervals);
        Console.WriteLine($"upload at {Percent(loopback, up.Elapsed)} of the loopback copy's throughput, download at {Percent(loopback, down.Elapsed)}");
        if (idle is { } i)
        {
            Console.WriteLine($"host RSS: idle {Mib(i)}, peak while uploading {Mib(uploadPeak!.Value)} (+{Mib(uploadPeak.Value - i)}), " +
                $"peak while downloading {Mib(downloadPeak!.Value)} (+{Mib(downloadPeak.Value - i)})");
        }
        else
        {
            Console.WriteLine("host RSS: not measured (pass --host-pid)");
        }

        await files.DeleteFileAsync(new DeleteFileRequest { FileId = file.Id }, bearer);
        return 0;

        async IAsyncEnumerable<BatchUploadRequest> Frames()
        {
            yield return new BatchUploadRequest { Header = new FileHeader { Name = "bench.bin", BaseId = baseId, SizeBytes = size } };
            var buffer = new byte[chunk];
            var clock = Stopwatch.StartNew();
            var previous = 0.0;
            for (long offset = 0; offset < size; offset += chunk)
            {
                var frame = (int)Math.Min(chunk, size - offset) == chunk ? buffer : new byte[size - offset];
                content.Fill(offset, frame);
                // Asked for the next frame only when the previous one was handed to the transport: the interval is
                // how long one chunk took to go out (the stream's backpressure included).
                var now = clock.Elapsed.TotalMilliseconds;
                if (offset > 0)
                {
                    upIntervals.Add(now - previous);
                }

                previous = now;
                yield return new BatchUploadRequest { Data = frame };
            }

            await Task.CompletedTask;
        }
    }

    /// <summary>The same bytes over a loopback TCP connection into a file, as the host would stage them.</summary>
    private static async Task<TimeSpan> LoopbackCopyAsync(Content content, int chunk, CancellationToken ct)
    {
        var target = Path.Combine(Path.GetTempPath(), $"pyairtable-bench-{Guid.NewGuid():N}");
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var clock = Stopwatch.StartNew();
        var receive = Task.Run(async () =>
        {
            using var socket = await listener.AcceptSocketAsync(ct);
            await using var file = new FileStream(target, FileMode.CreateNew, FileAccess.Write, FileShare.None, 0, FileOptions.Asynchronous);
            var buffer = new byte[chunk];
            int read;
            while ((read = await socket.ReceiveAsync(buffer, ct)) > 0)
            {
                await file.WriteAsync(buffer.AsMemory(0, read), ct);
            }
        }, ct);
        using (var sender = new TcpClient())
        {
            await sender.ConnectAsync(IPAddress.Loopback, ((IPEndPoint)listener.LocalEndpoint).Port, ct);
            var stream = sender.GetStream();
            var buffer = new byte[chunk];
            for (long offset = 0; offset < content.Size; offset += chunk)
            {
                var length = (int)Math.Min(chunk, content.Size - offset);
                content.Fill(offset, buffer.AsSpan(0, length));
                await stream.WriteAsync(buffer.AsMemory(0, length), ct);
            }

            sender.Client.Shutdown(SocketShutdown.Send);
            await receive;
        }

        clock.Stop();
        File.Delete(target);
        return clock.Elapsed;
    }

    private static void Report(string name, long size, TimeSpan elapsed, List<double>? intervals)
    {
        var perChunk = "";
        if (intervals is { Count: > 0 })
        {
            intervals.Sort();
            perChunk = $"  per chunk p50 {Percentile(intervals, 0.50):F3} ms, p99 {Percentile(intervals, 0.99):F3} ms";
        }

        Console.WriteLine($"{name,-34} {size / (1024.0 * 1024) / elapsed.TotalSeconds,8:F1} MiB/s  ({elapsed.TotalSeconds:F2} s){perChunk}");
    }

    private static double Percentile(List<double> sorted, double p) => sorted[Math.Min(sorted.Count - 1, (int)(p * sorted.Count))];

    private static string Percent(TimeSpan baseline, TimeSpan measured) =>
        (baseline.TotalSeconds / measured.TotalSeconds).ToString("P0", CultureInfo.InvariantCulture);

    private static string Mib(long bytes) => $"{bytes / (1024.0 * 1024):F0} MiB";

    /// <summary>
    /// Deterministic-looking bytes of any size without holding them: a 16 MiB random pool read at a position that
    /// shifts per MiB, so the file is not one repeated block (and a fresh pool per run, so it is not deduplicated).
    /// </summary>
    private sealed class Content(long size)
    {
        private const int PoolBytes = 16 * 1024 * 1024;
        private readonly byte[] _pool = RandomNumberGenerator.GetBytes(PoolBytes + 1024 * 1024);

        public long Size { get; } = size;

        public string Sha256(int chunk)
        {
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            var buffer = new byte[chunk];
            for (long offset = 0; offset < Size; offset += chunk)
            {
                var length = (int)Math.Min(chunk, Size - offset);
                Fill(offset, buffer.AsSpan(0, length));
                hash.AppendData(buffer, 0, length);
            }

            return Convert.ToHexStringLower(hash.GetHashAndReset());
        }

        public void Fill(long offset, Span<byte> destination)
        {
            for (var done = 0; done < destination.Length;)
            {
                var at = offset + done;
                var mib = at / (1024 * 1024);
                var inMib = (int)(at % (1024 * 1024));
                var start = (int)((mib * 7919 * 4099) % PoolBytes) + inMib;
                var length = Math.Min(destination.Length - done, 1024 * 1024 - inMib);
                _pool.AsSpan(start, length).CopyTo(destination[done..]);
                done += length;
            }
        }
    }

    /// <summary>Samples a process's resident set size (VmRSS in /proc/pid/status) every 10 ms, keeping the peak.</summary>
    private sealed class MemorySampler : IDisposable
    {
        private readonly int _pid;
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _loop;
        private long _peak;

        public MemorySampler(int pid)
        {
            _pid = pid;
            _loop = Task.Run(async () =>
            {
                while (!_stop.IsCancellationRequested)
                {
                    var current = Current();
                    long seen;
                    while ((seen = Interlocked.Read(ref _peak)) < current && Interlocked.CompareExchange(ref _peak, current, seen) != seen)
                    {
                    }

                    try
                    {
                        await Task.Delay(10, _stop.Token);
                    }
                    catch (OperationCanceledException)
                    {
                        return;
                    }
                }
            });
        }

        public long Peak => Interlocked.Read(ref _peak);

        public void Reset() => Interlocked.Exchange(ref _peak, Current());

        public long Current()
        {
            foreach (var line in File.ReadLines($"/proc/{_pid}/status"))
            {
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                {
                    return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
                }
            }

            throw new InvalidOperationException($"no VmRSS for process {_pid}");
        }

        public void Dispose()
        {
            _stop.Cancel();
            _loop.Wait();
            _stop.Dispose();
        }
    }
}
