using System.CommandLine;
using Grpc.Net.Client;

namespace PyAirtable.Tools;

/// <summary>Options and the channel shared by commands that call a running host.</summary>
internal static class HostConnection
{
    public static Option<string> AddressOption() => new("--address", "-a")
    {
        Description = "The host's gRPC address (http:// for h2c, https:// for TLS).",
        DefaultValueFactory = _ => "http://127.0.0.1:50051",
    };

    /// <summary>One pooled HTTP/2 channel; opens more connections when one is full of streams.</summary>
    public static GrpcChannel Open(string address) => GrpcChannel.ForAddress(address, new GrpcChannelOptions
    {
        HttpHandler = new SocketsHttpHandler { EnableMultipleHttp2Connections = true },
    });
}
