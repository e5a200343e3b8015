using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;

namespace PyAirtable.IntegrationTests.Infrastructure;

/// <summary>
/// A loopback TCP proxy that hands on what the server sends only <see cref="Delay"/> after it arrived (in order; what
/// the client sends goes straight through): a server that is healthy but slow to answer, as a Redis looks from a host
/// whose CPUs are saturated.
/// </summary>
public sealed class SlowTcpProxy : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly string _upstreamHost;
    private readonly int _upstreamPort;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _tasks = [];
    private readonly Task _accepting;

    public SlowTcpProxy(string upstream, TimeSpan delay)
    {
        ArgumentNullException.ThrowIfNull(upstream);
        var colon = upstream.LastIndexOf(':');
        _upstreamHost = upstream[..colon];
        _upstreamPort = int.Parse(upstream[(colon + 1)..], System.Globalization.CultureInfo.InvariantCulture);
        Delay = delay;
        _listener.Start();
        _accepting = AcceptAsync();
    }

    public TimeSpan Delay { get; }

    /// <summary>host:port of the proxy.</summary>
    public string Address => $"127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}";

    private async Task AcceptAsync()
    {
        try
        {
            while (true)
            {
                var client = await _listener.AcceptTcpClientAsync(_stop.Token);
                lock (_tasks)
                {
                    _tasks.Add(ServeAsync(client));
                }
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            // stopping
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        using var upstream = new TcpClient();
        using (client)
        {
            try
            {
                await upstream.ConnectAsync(_upstreamHost, _upstreamPort, _stop.Token);
                var up = CopyAsync(client.GetStream(), upstream.GetStream(), TimeSpan.Zero);
                var down = CopyAsync(upstream.GetStream(), client.GetStream(), Delay);
                await Task.WhenAny(up, down);
            }
            catch (Exception ex) when (ex is OperationCanceledException or IOException or SocketException or ObjectDisposedException)
            {
                // a side closed, or stopping
            }
        }
    }

    /// <summary>Copies <paramref name="from"/> to <paramref name="to"/>, each chunk <paramref name="delay"/> after it was read.</summary>
    private async Task CopyAsync(Stream from, Stream to, TimeSpan delay)
    {
        var chunks = Channel.CreateUnbounded<(long ReadAt, byte[] Data)>(
            new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        var writer = Task.Run(async () =>
        {
            await foreach (var (readAt, data) in chunks.Reader.ReadAllAsync(_stop.Token))
            {
                if (delay - Stopwatch.GetElapsedTime(readAt) is { Ticks: > 0 } wait)
                {
                    await Task.Delay(wait, _stop.Token);
                }

                await to.WriteAsync(data, _stop.Token);
            }
        });
        try
        {
            var buffer = new byte[16 * 1024];
            int read;
            while ((read = await from.ReadAsync(buffer, _stop.Token)) > 0)
            {
                chunks.Writer.TryWrite((Stopwatch.GetTimestamp(), buffer[..read]));
            }
        }
        finally
        {
            chunks.Writer.TryComplete();
            await writer;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _accepting;
        Task[] tasks;
        lock (_tasks)
        {
            tasks = [.. _tasks];
        }

        await Task.WhenAll(tasks);
        _stop.Dispose();
    }
}
