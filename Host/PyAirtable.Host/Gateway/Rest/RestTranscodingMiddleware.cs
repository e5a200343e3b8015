using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using System.Text.Json;
using Microsoft.AspNetCore.Http.Features;

namespace PyAirtable.Host.Gateway.Rest;

/// <summary>
/// The JSON/HTTP API, as an in-process protocol adapter in front of the gRPC pipeline (the shape of grpc-dotnet's
/// gRPC-Web middleware): a request that matches a contract route is rewritten into the gRPC call of that method —
/// path, content type, HTTP/2 protocol, a framed protobuf body built from the JSON — before anything else sees it.
/// Routing, telemetry, request ids, the shutdown gate, authentication, authorization, the strict marshaller and every
/// interceptor (error mapping, workspace attribution, rate limits) then run exactly as for a gRPC client, on the same
/// endpoint and implementation: there is no second implementation to drift. The response frames and the grpc-status
/// are turned back into proto3 JSON, a google.rpc.Status error body, or newline-delimited JSON (SSE on request) for
/// server streams. Must run first, before routing.
/// </summary>
internal sealed class RestTranscodingMiddleware(RequestDelegate next, RestRouteTable routes,
    Microsoft.Extensions.Options.IOptionsMonitor<RestApiOptions> options, IConfiguration configuration)
{
    /// <summary>The JSON/HTTP API is not served on the probe endpoint: it answers probes and scrapes, not clients.</summary>
    private readonly int _probePort = Telemetry.PlatformTelemetry.ProbePortOf(configuration);

    public Task InvokeAsync(HttpContext context)
    {
        var request = context.Request;
        if (request.ContentType?.StartsWith("application/grpc", StringComparison.OrdinalIgnoreCase) == true
            || context.Connection.LocalPort == _probePort)
        {
            // gRPC-Web's middleware makes the call look like gRPC further in: note how it arrived, for the protocol share.
            if (request.ContentType?.StartsWith("application/grpc-web", StringComparison.OrdinalIgnoreCase) == true)
            {
                context.Features.Set(CallProtocolFeature.GrpcWeb);
            }

            // Every gRPC call passes here: handed on without an async state machine of its own.
            return next(context);
        }

        return TranscodeAsync(context, request);
    }

    private async Task TranscodeAsync(HttpContext context, HttpRequest request)
    {
        var fields = new Dictionary<string, string>(StringComparer.Ordinal);
        var route = routes.Match(request.Method, request.Path.Value ?? "/", fields, out var verbAllowed);
        if (route is null)
        {
            if (!verbAllowed)
            {
                context.Response.StatusCode = StatusCodes.Status405MethodNotAllowed;
                return;
            }

            await next(context);
            return;
        }

        var switches = options.CurrentValue;
        if (await RestRetirement.RefuseIfRetiredAsync(context, route, switches))
        {
            return;
        }

        RestRetirement.Announce(context.Response, route, switches);
        var (wire, problem) = await RestRequest.ReadAsync(context, route, fields);
        if (problem is not null)
        {
            context.Features.Set(problem);
        }

        var sse = request.Headers.Accept.ToString().Contains("text/event-stream", StringComparison.OrdinalIgnoreCase);
        RewriteAsGrpc(context, route, wire);
        var realBody = context.Features.Get<IHttpResponseBodyFeature>()!;
        var capture = new CapturedGrpcResponse();
        context.Features.Set<IHttpResponseBodyFeature>(capture);
        context.Features.Set<IHttpResponseTrailersFeature>(capture);
        context.Features.Set(new RestCallFeature(route));
        context.Features.Set(CallProtocolFeature.Rest);

        var writer = new RestResponseWriter(context, route, realBody, sse);
        var pump = writer.PumpAsync(capture.Reader);
        try
        {
            await next(context);
        }
        finally
        {
            await capture.Writer.CompleteAsync();
            await pump;
            context.Features.Set(realBody);
        }

        await writer.FinishAsync(capture.Trailers);
    }

    private static void RewriteAsGrpc(HttpContext context, RestRoute route, byte[] wire)
    {
        var request = context.Request;
        Stream body;
        if (route.Method.IsClientStreaming)
        {
            // A client stream: the body becomes its messages as it arrives (bad path or query fields are refused by the
            // strict marshaller at the first message, as for a unary call, since the problem is set before this).
            body = RestStreamedBody.For(context, route, wire);
            request.ContentLength = null;
        }
        else
        {
            var frame = new byte[wire.Length + 5];
            BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1), (uint)wire.Length);
            wire.CopyTo(frame, 5);
            body = new MemoryStream(frame, writable: false);
            request.ContentLength = frame.Length;
        }

        request.Method = HttpMethods.Post;
        request.Path = route.GrpcPath;
        request.QueryString = QueryString.Empty;
        // Grpc.AspNetCore.Server serves HTTP/2 (and 3) only; gRPC-Web's middleware claims HTTP/2 the same way.
        request.Protocol = "HTTP/2";
        request.ContentType = "application/grpc";
        request.Headers.Remove("grpc-encoding");
        request.Headers.Remove("grpc-accept-encoding");
        request.Body = body;
        context.Features.Set<IRequestBodyPipeFeature>(new BufferedRequestBody(PipeReader.Create(request.Body)));
    }

    private sealed class BufferedRequestBody(PipeReader reader) : IRequestBodyPipeFeature
    {
        public PipeReader Reader { get; } = reader;
    }

    /// <summary>What the gRPC handler writes, kept from the client: its frames go to a pipe, its trailers here.</summary>
    private sealed class CapturedGrpcResponse : IHttpResponseBodyFeature, IHttpResponseTrailersFeature
    {
        private readonly Pipe _pipe = new();

        public PipeReader Reader => _pipe.Reader;

        public PipeWriter Writer => _pipe.Writer;

        public Stream Stream => field ??= _pipe.Writer.AsStream(leaveOpen: true);

        public IHeaderDictionary Trailers { get; set; } = new HeaderDictionary();

        public void DisableBuffering()
        {
        }

        public Task StartAsync(CancellationToken cancellationToken = default) => Task.CompletedTask;

        public Task SendFileAsync(string path, long offset, long? count, CancellationToken cancellationToken = default) =>
            throw new NotSupportedException("gRPC responses are not files.");

        public Task CompleteAsync() => Task.CompletedTask; // the middleware completes the pipe once the call has ended
    }
}

/// <summary>How a call arrived when it was not plain gRPC (the RPC metrics' <c>pyairtable.protocol</c> tag).</summary>
internal sealed record CallProtocolFeature(string Name)
{
    public static readonly CallProtocolFeature Rest = new("rest");

    public static readonly CallProtocolFeature GrpcWeb = new("grpc_web");
}

/// <summary>Marks a call that arrived as JSON/HTTP (for analytics' protocol share and for tests).</summary>
internal sealed record RestCallFeature(RestRoute Route);

/// <summary>Reads gRPC frames from a buffer: the 5-byte header (compression flag, big-endian length) and the message.</summary>
internal static class GrpcFrames
{
    public static bool TryRead(ref ReadOnlySequence<byte> buffer, out ReadOnlySequence<byte> message)
    {
        message = default;
        if (buffer.Length < 5)
        {
            return false;
        }

        Span<byte> header = stackalloc byte[5];
        buffer.Slice(0, 5).CopyTo(header);
        var length = BinaryPrimitives.ReadUInt32BigEndian(header[1..]);
        if (buffer.Length < 5 + length)
        {
            return false;
        }

        message = buffer.Slice(5, length);
        buffer = buffer.Slice(5 + length);
        return true;
    }


}
