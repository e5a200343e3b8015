using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using PyAirtable.IntegrationTests.Infrastructure;

namespace PyAirtable.IntegrationTests.Topologies;

/// <summary>
/// The built host (Host/PyAirtable.Host/bin/Release) as a process of its own, configured by command-line settings as a
/// deployment would configure it, on a 127.0.0.x address of its own.
/// </summary>
public sealed class HostProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly string _logPath;

    private HostProcess(string name, string ip, int grpcPort, int probePort, Process process, string logPath)
    {
        Name = name;
        Ip = ip;
        GrpcPort = grpcPort;
        ProbePort = probePort;
        _process = process;
        _logPath = logPath;
    }

    public string Name { get; }

    public string Ip { get; }

    public int GrpcPort { get; }

    public int ProbePort { get; }

    public string GrpcAddress => $"https://{Ip}:{GrpcPort}";

    public string ProbeAddress => $"http://{Ip}:{ProbePort}";

    public bool HasExited => _process.HasExited;

    /// <summary>What the host wrote (for failure messages).</summary>
    public string Log => File.Exists(_logPath) ? File.ReadAllText(_logPath) : "";

    /// <summary>Picks the ports (free on <paramref name="ip"/>, below the ephemeral range) a host will take.</summary>
    public static (int Grpc, int Probe, int Http) PickPorts(string ip) => (FreePort(ip), FreePort(ip), FreePort(ip));

    public static HostProcess Start(
        string name, string ip, (int Grpc, int Probe, int Http) ports, IReadOnlyDictionary<string, string> settings, string logDirectory)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var dll = Path.Combine(TestEnvironment.RepositoryRoot, "Host", "PyAirtable.Host", "bin", "Release", "net10.0", "PyAirtable.Host.dll");
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = TestEnvironment.RepositoryRoot,
        };
        info.ArgumentList.Add(dll);
        var all = new Dictionary<string, string>(settings)
        {
            ["Kestrel:Endpoints:Grpc:Url"] = $"https://{ip}:{ports.Grpc}",
            ["Kestrel:Endpoints:Grpc:Protocols"] = "Http2",
            ["Kestrel:Endpoints:Probes:Url"] = $"http://{ip}:{ports.Probe}",
            ["Kestrel:Endpoints:Http:Url"] = $"http://{ip}:{ports.Http}",
        };
        foreach (var (key, value) in all)
        {
            info.ArgumentList.Add($"--{key}={value}");
        }

        var logPath = Path.Combine(logDirectory, name + ".log");
        var process = Process.Start(info) ?? throw new InvalidOperationException("dotnet did not start");
        var log = new StreamWriter(logPath) { AutoFlush = true };
        var gate = new Lock();
        void Write(string? line)
        {
            if (line is null)
            {
                return;
            }

            lock (gate)
            {
                log.WriteLine(line);
            }
        }

        process.OutputDataReceived += (_, e) => Write(e.Data);
        process.ErrorDataReceived += (_, e) => Write(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return new HostProcess(name, ip, ports.Grpc, ports.Probe, process, logPath);
    }

    /// <summary>Waits until /readyz answers 200 (migrations done, dependencies reachable, serving).</summary>
    public async Task WaitReadyAsync(TimeSpan timeout)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var until = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < until)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"{Name} exited ({_process.ExitCode}):\n{Log}");
            }

            try
            {
                using var response = await http.GetAsync(new Uri(ProbeAddress + "/readyz"));
                if (response.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
                // not listening yet
            }
            catch (TaskCanceledException)
            {
                // busy starting
            }

            await Task.Delay(200);
        }

        throw new TimeoutException($"{Name} was not ready within {timeout}:\n{Log}");
    }

    /// <summary>
    /// The Prometheus exporter answers every scrape within 300 ms of the one it collected with that same text
    /// (OpenTelemetry's ScrapeResponseCacheDurationMilliseconds default): a scrape at least this long after the last
    /// one this host answered is collected anew.
    /// </summary>
    private static readonly TimeSpan ScrapeCache = TimeSpan.FromMilliseconds(350);

    private long _lastScrape;

    /// <summary>The calls of <paramref name="method"/> this host served, every call that ended before this began included.</summary>
    public async Task<long> ServedAsync(string method)
    {
        // Without the wait, two reads a moment apart see the same figure, and calls between them count for nothing.
        var last = Interlocked.Read(ref _lastScrape);
        if (last != 0 && ScrapeCache - Stopwatch.GetElapsedTime(last) is { Ticks: > 0 } wait)
        {
            await Task.Delay(wait);
        }

        using var http = new HttpClient();
        var text = await http.GetStringAsync(new Uri(ProbeAddress + "/metrics"));
        Interlocked.Exchange(ref _lastScrape, Stopwatch.GetTimestamp());
        return text.Split('\n')
            .Where(l => l.StartsWith("rpc_server_call_duration_seconds_count{", StringComparison.Ordinal)
                && l.Contains($"rpc_method=\"{method}\"", StringComparison.Ordinal))
            // name{labels} value [timestamp]
            .Sum(l => long.Parse(l[(l.LastIndexOf('}') + 1)..].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture));
    }

    /// <summary>SIGTERM: the host drains (NOT_SERVING, Shutdown:DrainDelay, then in-flight calls finish) and exits.</summary>
    public async Task TerminateAsync(TimeSpan timeout)
    {
        using (var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
        {
            await kill!.WaitForExitAsync();
        }

        using var cts = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(cts.Token);
    }

    /// <summary>SIGKILL: gone at once, as a crashed host or node.</summary>
    public void Kill() => _process.Kill(entireProcessTree: true);

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }

    private static int FreePort(string ip)
    {
        while (true)
        {
            var port = Random.Shared.Next(20_000, 32_000);
            try
            {
                using var listener = new TcpListener(IPAddress.Parse(ip), port);
                listener.Start();
                return port;
            }
            catch (SocketException)
            {
                // taken: try another
            }
        }
    }
}
