using System.Net;
using System.Net.Sockets;
using Grpc.Core;
using Grpc.Net.Client;
using PyAirtable.IntegrationTests.Infrastructure;

namespace PyAirtable.IntegrationTests.Adversarial;

/// <summary>What an attacker's client can do that a stub does not: come from other addresses, send raw bytes.</summary>
public static class Adversary
{
    /// <summary>
    /// A channel to <paramref name="host"/> whose connections come from <paramref name="sourceAddress"/> (any
    /// 127.0.0.0/8 address: Linux routes the whole block over loopback), so the host sees another client.
    /// </summary>
    public static GrpcChannel ChannelFrom(TestHost host, string sourceAddress) => GrpcChannel.ForAddress(host.GrpcAddress, new GrpcChannelOptions
    {
        HttpHandler = new SocketsHttpHandler
        {
            ConnectCallback = async (context, ct) =>
            {
                var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                try
                {
                    socket.Bind(new IPEndPoint(IPAddress.Parse(sourceAddress), 0));
                    await socket.ConnectAsync(context.DnsEndPoint, ct);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        },
    });

    private static readonly Marshaller<byte[]> Raw = Marshallers.Create(b => b, b => b);

    /// <summary>Sends <paramref name="payload"/> as the request message of a unary RPC, whatever it contains.</summary>
    public static Task<byte[]> CallRawAsync(GrpcChannel channel, string service, string method, byte[] payload, Metadata? headers = null) =>
        channel.CreateCallInvoker().AsyncUnaryCall(new Method<byte[], byte[]>(MethodType.Unary, service, method, Raw, Raw), null,
            new CallOptions(headers, DateTime.UtcNow.AddSeconds(10)), payload).ResponseAsync;
}
