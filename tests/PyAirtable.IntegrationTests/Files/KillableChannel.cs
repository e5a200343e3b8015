using System.Net.Sockets;
using Grpc.Net.Client;

namespace PyAirtable.IntegrationTests.Files;

/// <summary>A channel whose TCP connections a test can kill (RST, as a dropped network would look to the server).</summary>
public sealed class KillableChannel : IDisposable
{
    private readonly List<Socket> _sockets = [];
    private readonly CancellationTokenSource _disposed = new();

    public KillableChannel(string address)
    {
        Channel = GrpcChannel.ForAddress(address, new GrpcChannelOptions
        {
            HttpHandler = new SocketsHttpHandler
            {
                ConnectCallback = async (context, ct) =>
                {
                    var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                    await socket.ConnectAsync(context.DnsEndPoint, ct);
                    lock (_sockets)
                    {
                        _sockets.Add(socket);
                    }

                    return new NetworkStream(socket, ownsSocket: true);
                },
            },
        });
    }

    public GrpcChannel Channel { get; }

    /// <summary>Cancelled by <see cref="StopRequests"/> or disposal (for request generators that wait forever).</summary>
    public CancellationToken Token => _disposed.Token;

    /// <summary>Ends request generators waiting on <see cref="Token"/> (a client stream's call ends only after its requests did).</summary>
    public void StopRequests() => _disposed.Cancel();

    public void Kill()
    {
        lock (_sockets)
        {
            foreach (var socket in _sockets)
            {
                socket.LingerState = new LingerOption(true, 0);
                socket.Close();
            }
        }
    }

    public void Dispose()
    {
        _disposed.Cancel();
        Channel.Dispose();
        _disposed.Dispose();
    }
}
