using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Grpc.Core;
using Grpc.Health.V1;

namespace PyAirtable.Tools;

/// <summary>A host process started by a benchmark; its output is kept in memory and shown if it dies.</summary>
internal sealed class BenchHost : IAsyncDisposable
{
    private readonly Process _process;
    private readonly System.Text.StringBuilder _output = new();

    private BenchHost(Process process, string name, string address, string httpAddress)
    {
        HttpAddress = httpAddress;
        _process = process;
        Name = name;
        Address = address;
    }

    public string Name { get; }

    public string Address { get; }

    /// <summary>The host's process id (for dotnet-trace).</summary>
    public int ProcessId => _process.Id;

    /// <summary>The HTTP/1.1 endpoint (JSON/HTTP API, gRPC-Web).</summary>
    public string HttpAddress { get; }

    /// <param name="settings">Configuration as environment variables (<c>Section__Key</c>), on top of the connection settings.</param>
    public static BenchHost Start(string dll, string name, IReadOnlyDictionary<string, string> settings, string postgres, string redis, string prefix)
    {
        var (grpc, probes, http) = (FreePort(), FreePort(), FreePort());
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(dll);
        var env = start.Environment;
        env["ConnectionStrings__Postgres"] = postgres;
        env["ConnectionStrings__Redis"] = redis;
        env["Redis__InstanceName"] = prefix;
        env["Kestrel__Endpoints__Grpc__Url"] = $"http://127.0.0.1:{grpc}";
        env["Kestrel__Endpoints__Probes__Url"] = $"http://127.0.0.1:{probes}";
        env["Kestrel__Endpoints__Http__Url"] = $"http://127.0.0.1:{http}";
        env["Logging__LogLevel__Default"] = "Warning";
        foreach (var (key, value) in settings)
        {
            env[key] = value;
        }

        var process = Process.Start(start)!;
        var host = new BenchHost(process, name, $"http://127.0.0.1:{grpc}", $"http://127.0.0.1:{http}");
        process.OutputDataReceived += (_, e) => host.Keep(e.Data);
        process.ErrorDataReceived += (_, e) => host.Keep(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return host;
    }

    public async Task WaitServingAsync(CancellationToken ct)
    {
        using var channel = HostConnection.Open(Address);
        var health = new Health.HealthClient(channel);
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"the '{Name}' host exited with {_process.ExitCode}: {Output()}");
            }

            try
            {
                var reply = await health.CheckAsync(new HealthCheckRequest(), deadline: DateTime.UtcNow.AddSeconds(2), cancellationToken: ct);
                if (reply.Status == HealthCheckResponse.Types.ServingStatus.Serving)
                {
                    return;
                }
            }
            catch (RpcException) when (DateTime.UtcNow < deadline)
            {
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"the '{Name}' host did not serve within 60 s: {Output()}");
            }

            await Task.Delay(200, ct);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }

    private void Keep(string? line)
    {
        lock (_output)
        {
            if (line is not null && _output.Length < 64 * 1024)
            {
                _output.AppendLine(line);
            }
        }
    }

    private string Output()
    {
        lock (_output)
        {
            return _output.ToString();
        }
    }

    /// <summary>The repository's Release build of the host, found by walking up from this tool's own folder.</summary>
    public static string? FindHostDll()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "Host", "PyAirtable.Host", "bin", "Release", "net10.0", "PyAirtable.Host.dll");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
